//! Files readable by nobody else (issue 25): whatever the umask Ward is
//! started with, everything in its data folder is its user's alone, and a
//! data folder opened to others is refused with the command that fixes it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{demo, submit_many, ward_bin};

/// Every path under `dir` (itself included) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = vec![(
        dir.to_owned(),
        fs::metadata(dir).unwrap().permissions().mode() & 0o7777,
    )];
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(modes(&entry.path()));
        } else if !kind.is_symlink() {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
            out.push((entry.path(), mode));
        }
    }
    out
}

#[test]
fn the_data_folder_is_private_whatever_the_umask_and_an_open_one_is_refused() {
    // The test runs under the usual umask 022, which would leave files 0644.
    let (dir, mut ward, users) = demo();
    let (eric, password) = &users[0];
    submit_many(
        ward.addr("submission").port(),
        eric,
        password,
        &users[1].0,
        "private",
        3,
    );
    ward.signal("TERM");
    assert!(ward.wait().success());
    let data = dir.path().join("data");
    let all = modes(&data);
    assert!(
        all.iter()
            .any(|(p, _)| p.to_string_lossy().contains("/bodies/")),
        "message bodies were stored: {all:?}"
    );
    let open: Vec<_> = all.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    assert!(open.is_empty(), "open to others: {open:?}");

    // Opened up by hand: refused, with the fix.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(data.join("store/db"), fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("ward.toml");
    let out = Command::new(ward_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("open to other users"), "{said}");
    assert!(said.contains("store/db"), "{said}");
    assert!(
        said.contains(&format!("chmod -R go-rwx {}", data.display())),
        "{said}"
    );
    let fixed = Command::new("chmod")
        .args(["-R", "go-rwx"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(fixed.success());
    let mut ward = crate::harness::Ward::start(&config, &[]);
    ward.signal("TERM");
    assert!(ward.wait().success());
}
