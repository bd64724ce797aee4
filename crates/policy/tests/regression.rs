//! Regression tests for bugs found by the fuzz targets in `fuzz/`, each
//! named after what it was. Inputs that are whole messages sit in
//! `tests/regression/`.

use std::time::{Duration, Instant};

use policy::{Footer, FooterOutcome};

/// `fuzz/` target `footer` (a timeout): on this malformed
/// `multipart/mixed` with `message/rfc822` parts, mail-parser lists a
/// multipart part among its own children. The footer's walk over the part
/// tree stopped only at depth 50, and with two children a level it made
/// 2^50 visits. Each part is now visited once.
#[test]
fn footer_part_listed_as_its_own_child() {
    let message = include_bytes!("regression/footer_part_listed_as_its_own_child.eml");
    let started = Instant::now();
    let outcome = Footer::default().apply(message);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // Whatever it decides, a second pass must not add the footer again.
    if let FooterOutcome::Added(out) = outcome {
        assert!(matches!(
            Footer::default().apply(&out),
            FooterOutcome::Unchanged(_)
        ));
    }
}
