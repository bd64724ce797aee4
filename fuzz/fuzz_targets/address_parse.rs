//! The address parser (`policy::Address::parse`) with both
//! `ParseOptions`, and `Domain::parse`, on arbitrary bytes.
//!
//! Properties: never panics; what it accepts keeps the RFC 5321 length
//! limits; decode–encode–decode is stable (parse → `to_string` → parse
//! gives the same address, and the same domain); an address accepted
//! without SMTPUTF8 is accepted, unchanged, with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Address, Domain, MAX_ADDRESS, MAX_DOMAIN, MAX_LOCAL_PART, ParseOptions};

fn check(input: &[u8], options: ParseOptions) -> Option<Address> {
    let address = Address::parse(input, options).ok()?;
    let text = address.to_string();
    assert!(text.len() <= MAX_ADDRESS, "{text:?} is too long");
    assert!(address.local_part().as_str().len() <= MAX_LOCAL_PART);
    assert!(address.domain().as_str().len() <= MAX_DOMAIN);
    let again = Address::parse(text.as_bytes(), options)
        .unwrap_or_else(|e| panic!("{text:?} (from {input:?}) does not parse again: {e}"));
    assert_eq!(again, address, "round trip of {input:?} changed it");
    assert_eq!(again.to_string(), text);
    Some(address)
}

fuzz_target!(|input: &[u8]| {
    let ascii = check(input, ParseOptions::default());
    let utf8 = check(input, ParseOptions::smtputf8());
    if let Some(ascii) = ascii {
        assert_eq!(
            Some(ascii),
            utf8,
            "accepted without SMTPUTF8 but not the same with it"
        );
    }
    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(domain) = Domain::parse(text)
    {
        assert!(domain.as_str().len() <= MAX_DOMAIN);
        let again = Domain::parse(domain.as_str()).unwrap_or_else(|e| {
            panic!("domain {domain} (from {text:?}) does not parse again: {e}")
        });
        assert_eq!(again, domain, "domain round trip of {text:?} changed it");
    }
});
