//! Checked mail addresses. [`Domain`], [`LocalPart`] and [`Address`] can only
//! be built through their parsers, so code that holds one never re-checks it:
//! domains are lower case A-labels (internationalised names are converted with
//! IDNA), local parts follow RFC 5321 §4.1.2 (dot-strings and quoted strings,
//! UTF-8 only when the session negotiated SMTPUTF8, RFC 6531) and the length
//! limits of RFC 5321 §4.5.3.1 hold. Address literals (`user@[192.0.2.1]`) are
//! refused: in a closed community every party has a domain name.

use std::fmt;

use crate::error::AddressError;

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest domain label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Longest address, in octets: a path is at most 256 octets including the
/// angle brackets (RFC 5321 §4.5.3.1.3).
pub const MAX_ADDRESS: usize = 254;

/// How an address may be written in the session that supplied it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// The session negotiated SMTPUTF8 (RFC 6531), so the local part may
    /// contain UTF-8. Default `false`: plain SMTP is ASCII-only.
    pub smtputf8: bool,
}

impl ParseOptions {
    /// Options for a session that negotiated SMTPUTF8.
    pub fn smtputf8() -> Self {
        Self { smtputf8: true }
    }
}

/// A domain name: lower case, A-labels only, each label letters, digits and
/// inner hyphens, at most 63 octets a label and 255 in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Parses a domain, converting an internationalised name to A-labels.
    ///
    /// # Errors
    ///
    /// [`AddressError`] saying what is wrong: empty, address literal, bad
    /// label, bad IDN, or too long.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        if input.starts_with('[') {
            return Err(AddressError::AddressLiteral);
        }
        let ascii = if input.is_ascii() {
            input.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(input).map_err(|_| AddressError::InvalidIdn {
                domain: input.to_owned(),
            })?
        };
        if ascii.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong { len: ascii.len() });
        }
        for label in ascii.split('.') {
            check_label(label)?;
        }
        Ok(Self(ascii))
    }

    /// The domain as lower case ASCII.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` is `parent` or one of its subdomains
    /// (`mail.pnn.police.uk` is within `pnn.police.uk`; `xpnn.police.uk` is not).
    pub fn is_within(&self, parent: &Domain) -> bool {
        self.0 == parent.0
            || (self.0.len() > parent.0.len()
                && self.0.ends_with(&parent.0)
                && self.0.as_bytes()[self.0.len() - parent.0.len() - 1] == b'.')
    }

    /// `self` with `suffix` appended (`org.example` + `cjsm.net`).
    ///
    /// # Errors
    ///
    /// [`AddressError::DomainTooLong`] when the result exceeds 255 octets.
    pub fn with_suffix(&self, suffix: &Domain) -> Result<Domain, AddressError> {
        let joined = format!("{}.{}", self.0, suffix.0);
        if joined.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong { len: joined.len() });
        }
        Ok(Domain(joined))
    }

    /// `self` without `suffix`, when `self` is a proper subdomain of it
    /// (`org.example.cjsm.net` − `cjsm.net` = `org.example`).
    pub fn strip_suffix(&self, suffix: &Domain) -> Option<Domain> {
        if self.0.len() > suffix.0.len() && self.is_within(suffix) {
            Some(Domain(
                self.0[..self.0.len() - suffix.0.len() - 1].to_owned(),
            ))
        } else {
            None
        }
    }
}

fn check_label(label: &str) -> Result<(), AddressError> {
    let invalid = |reason| AddressError::InvalidLabel {
        label: label.to_owned(),
        reason,
    };
    if label.is_empty() {
        return Err(invalid("it is empty (a leading, trailing or doubled dot)"));
    }
    if label.len() > MAX_LABEL {
        return Err(AddressError::LabelTooLong {
            label: label.to_owned(),
            len: label.len(),
        });
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid("only letters, digits and hyphens are allowed"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(invalid("it may not start or end with a hyphen"));
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Domain {
    type Error = AddressError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl std::str::FromStr for Domain {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The part of an address before the `@`, exactly as written: a dot-string
/// (`eric.brown`) or a quoted string (`"eric brown"`, quotes included).
///
/// Local parts are case-sensitive on the wire (RFC 5321 §2.4); Ward's own
/// mailboxes compare them case-insensitively through
/// [`Address::same_mailbox`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalPart(String);

impl LocalPart {
    /// Parses a local part.
    ///
    /// # Errors
    ///
    /// [`AddressError`] naming the offending character, the length, an
    /// unterminated quote, or UTF-8 without SMTPUTF8.
    pub fn parse(input: &str, options: ParseOptions) -> Result<Self, AddressError> {
        if input.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if input.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong { len: input.len() });
        }
        if !input.is_ascii() && !options.smtputf8 {
            return Err(AddressError::NeedsSmtpUtf8);
        }
        if let Some(inner) = input.strip_prefix('"') {
            check_quoted(inner)?;
        } else {
            check_dot_string(input)?;
        }
        Ok(Self(input.to_owned()))
    }

    /// The local part as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the quoted form (`"eric brown"`).
    pub fn is_quoted(&self) -> bool {
        self.0.starts_with('"')
    }
}

/// `atext` of RFC 5322 §3.2.3, plus UTF-8 (already gated by the caller).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn check_dot_string(input: &str) -> Result<(), AddressError> {
    for atom in input.split('.') {
        if atom.is_empty() {
            return Err(AddressError::EmptyLocalPartAtom);
        }
        if let Some(found) = atom.chars().find(|&c| !is_atext(c)) {
            return Err(AddressError::InvalidLocalPartCharacter { found });
        }
    }
    Ok(())
}

/// Checks the text after the opening quote: `qtextSMTP` and `quoted-pairSMTP`
/// up to a closing quote that must end the input (RFC 5321 §4.1.2).
fn check_quoted(inner: &str) -> Result<(), AddressError> {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                return if chars.as_str().is_empty() {
                    Ok(())
                } else {
                    Err(AddressError::TextAfterQuotedString)
                };
            }
            '\\' => match chars.next() {
                Some(p @ ' '..='~') => {
                    let _ = p;
                }
                Some(found) => return Err(AddressError::InvalidLocalPartCharacter { found }),
                None => return Err(AddressError::UnterminatedQuotedString),
            },
            ' ' | '!' | '#'..='[' | ']'..='~' => {}
            c if !c.is_ascii() => {}
            found => return Err(AddressError::InvalidLocalPartCharacter { found }),
        }
    }
    Err(AddressError::UnterminatedQuotedString)
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A checked mailbox address, `local-part@domain` (RFC 5321 `Mailbox`),
/// without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: LocalPart,
    domain: Domain,
}

impl Address {
    /// Parses an address from the bytes a client sent, as in `MAIL FROM:<…>`
    /// without the brackets. Never panics, whatever the bytes.
    ///
    /// # Errors
    ///
    /// [`AddressError`] saying precisely what is wrong.
    pub fn parse(input: &[u8], options: ParseOptions) -> Result<Self, AddressError> {
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        let text = std::str::from_utf8(input).map_err(|_| AddressError::NotUtf8)?;
        let at = if text.starts_with('"') {
            // The @ inside a quoted local part is data, so find the closing
            // quote first; the separator must follow it.
            closing_quote(text).map(|end| end + 1)
        } else {
            text.find('@')
        };
        let at = match at {
            Some(at) if text.as_bytes().get(at) == Some(&b'@') => at,
            Some(at) if at == text.len() => return Err(AddressError::MissingAt),
            Some(_) if text.starts_with('"') => {
                return Err(AddressError::TextAfterQuotedString);
            }
            _ if text.starts_with('"') && closing_quote(text).is_none() => {
                return Err(AddressError::UnterminatedQuotedString);
            }
            _ => return Err(AddressError::MissingAt),
        };
        let local = LocalPart::parse(&text[..at], options)?;
        let domain = Domain::parse(&text[at + 1..])?;
        Self::from_parts(local, domain)
    }

    /// Joins a checked local part and domain, checking the total length.
    ///
    /// # Errors
    ///
    /// [`AddressError::AddressTooLong`] beyond 254 octets.
    pub fn from_parts(local: LocalPart, domain: Domain) -> Result<Self, AddressError> {
        let len = local.0.len() + 1 + domain.0.len();
        if len > MAX_ADDRESS {
            return Err(AddressError::AddressTooLong { len });
        }
        Ok(Self { local, domain })
    }

    /// The local part.
    pub fn local_part(&self) -> &LocalPart {
        &self.local
    }

    /// The domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The same local part at another domain.
    ///
    /// # Errors
    ///
    /// [`AddressError::AddressTooLong`] when the result exceeds 254 octets.
    pub fn with_domain(&self, domain: Domain) -> Result<Self, AddressError> {
        Self::from_parts(self.local.clone(), domain)
    }

    /// True when both name the same Ward mailbox: domains equal and local
    /// parts equal ignoring ASCII case (Ward never issues two mailboxes that
    /// differ only in case).
    pub fn same_mailbox(&self, other: &Address) -> bool {
        self.domain == other.domain && self.local.0.eq_ignore_ascii_case(&other.local.0)
    }
}

/// Byte index of the quote closing the quoted string that opens `text`.
fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl TryFrom<&str> for Address {
    type Error = AddressError;
    /// Parses with default (ASCII-only) options.
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value.as_bytes(), ParseOptions::default())
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ascii(s: &str) -> Result<Address, AddressError> {
        Address::parse(s.as_bytes(), ParseOptions::default())
    }

    #[test]
    fn accepts_valid_addresses() {
        let cases: &[(&str, ParseOptions, &str)] = &[
            (
                "eric.brown@greenstonechambers.co.uk",
                ParseOptions::default(),
                "eric.brown@greenstonechambers.co.uk",
            ),
            (
                "Eric.Brown@GreenstoneChambers.CO.UK",
                ParseOptions::default(),
                "Eric.Brown@greenstonechambers.co.uk",
            ),
            (
                "a+tag@x.example",
                ParseOptions::default(),
                "a+tag@x.example",
            ),
            (
                "!#$%&'*+-/=?^_`{|}~@x.example",
                ParseOptions::default(),
                "!#$%&'*+-/=?^_`{|}~@x.example",
            ),
            (
                "\"eric brown\"@x.example",
                ParseOptions::default(),
                "\"eric brown\"@x.example",
            ),
            (
                "\"a@b\"@x.example",
                ParseOptions::default(),
                "\"a@b\"@x.example",
            ),
            (
                "\"a\\\"b\"@x.example",
                ParseOptions::default(),
                "\"a\\\"b\"@x.example",
            ),
            (
                "user@bücher.example",
                ParseOptions::default(),
                "user@xn--bcher-kva.example",
            ),
            (
                "user@BÜCHER.example",
                ParseOptions::default(),
                "user@xn--bcher-kva.example",
            ),
            (
                "dafydd@caerdydd.cymru",
                ParseOptions::default(),
                "dafydd@caerdydd.cymru",
            ),
            ("siân@x.example", ParseOptions::smtputf8(), "siân@x.example"),
            (
                "\"siân jones\"@x.example",
                ParseOptions::smtputf8(),
                "\"siân jones\"@x.example",
            ),
            (
                "postmaster@localhost",
                ParseOptions::default(),
                "postmaster@localhost",
            ),
        ];
        for (input, options, expected) in cases {
            let parsed = Address::parse(input.as_bytes(), *options)
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.to_string(), *expected, "{input}");
        }
    }

    #[test]
    fn refuses_invalid_addresses_precisely() {
        let long_local = format!("{}@x.example", "a".repeat(65));
        let long_label = format!("a@{}.example", "b".repeat(64));
        let long_domain = format!("a@{}", vec!["c".repeat(60); 5].join("."));
        let long_address = format!("{}@{}", "a".repeat(64), vec!["d".repeat(60); 4].join("."));
        let cases: Vec<(&[u8], AddressError)> = vec![
            (b"", AddressError::Empty),
            (b"\xff\xfe@x.example", AddressError::NotUtf8),
            (b"no-at-sign", AddressError::MissingAt),
            (b"@x.example", AddressError::EmptyLocalPart),
            (b"a..b@x.example", AddressError::EmptyLocalPartAtom),
            (b".a@x.example", AddressError::EmptyLocalPartAtom),
            (b"a.@x.example", AddressError::EmptyLocalPartAtom),
            (
                b"a b@x.example",
                AddressError::InvalidLocalPartCharacter { found: ' ' },
            ),
            (
                b"a(b)@x.example",
                AddressError::InvalidLocalPartCharacter { found: '(' },
            ),
            (b"\"abc@x.example", AddressError::UnterminatedQuotedString),
            (b"\"abc\"def@x.example", AddressError::TextAfterQuotedString),
            (b"\"abc\"", AddressError::MissingAt),
            (
                b"\"a\x01\"@x.example",
                AddressError::InvalidLocalPartCharacter { found: '\x01' },
            ),
            ("siân@x.example".as_bytes(), AddressError::NeedsSmtpUtf8),
            (b"a@", AddressError::EmptyDomain),
            (b"a@[192.0.2.1]", AddressError::AddressLiteral),
            (
                b"a@x..example",
                AddressError::InvalidLabel {
                    label: String::new(),
                    reason: "it is empty (a leading, trailing or doubled dot)",
                },
            ),
            (
                b"a@x.example.",
                AddressError::InvalidLabel {
                    label: String::new(),
                    reason: "it is empty (a leading, trailing or doubled dot)",
                },
            ),
            (
                b"a@-x.example",
                AddressError::InvalidLabel {
                    label: "-x".into(),
                    reason: "it may not start or end with a hyphen",
                },
            ),
            (
                b"a@x_y.example",
                AddressError::InvalidLabel {
                    label: "x_y".into(),
                    reason: "only letters, digits and hyphens are allowed",
                },
            ),
            (
                b"a@b@x.example",
                AddressError::InvalidLabel {
                    label: "b@x".into(),
                    reason: "only letters, digits and hyphens are allowed",
                },
            ),
            (
                long_local.as_bytes(),
                AddressError::LocalPartTooLong { len: 65 },
            ),
            (
                long_label.as_bytes(),
                AddressError::LabelTooLong {
                    label: "b".repeat(64),
                    len: 64,
                },
            ),
            (
                long_domain.as_bytes(),
                AddressError::DomainTooLong { len: 304 },
            ),
            (
                long_address.as_bytes(),
                AddressError::AddressTooLong { len: 308 },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Address::parse(input, ParseOptions::default()),
                Err(expected),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn domains_nest_only_at_label_boundaries() {
        let parent = Domain::parse("pnn.police.uk").unwrap();
        for (child, within) in [
            ("pnn.police.uk", true),
            ("PNN.Police.UK", true),
            ("mail.pnn.police.uk", true),
            ("a.b.pnn.police.uk", true),
            ("xpnn.police.uk", false),
            ("police.uk", false),
        ] {
            assert_eq!(
                Domain::parse(child).unwrap().is_within(&parent),
                within,
                "{child}"
            );
        }
    }

    #[test]
    fn suffix_is_added_and_stripped() {
        let suffix = Domain::parse("cjsm.net").unwrap();
        let org = Domain::parse("org.example").unwrap();
        let suffixed = org.with_suffix(&suffix).unwrap();
        assert_eq!(suffixed.as_str(), "org.example.cjsm.net");
        assert_eq!(suffixed.strip_suffix(&suffix), Some(org));
        assert_eq!(suffix.strip_suffix(&suffix), None);
    }

    #[test]
    fn same_mailbox_ignores_local_part_case() {
        let a = ascii("Eric.Brown@x.example").unwrap();
        let b = ascii("eric.brown@X.EXAMPLE").unwrap();
        assert!(a.same_mailbox(&b));
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Address::parse(&bytes, ParseOptions::default());
            let _ = Address::parse(&bytes, ParseOptions::smtputf8());
        }

        #[test]
        fn parser_never_panics_on_address_like_text(s in "[\"a-zA-Z0-9@.\\\\ ()\\[\\]ü-]{0,80}") {
            let _ = Address::parse(s.as_bytes(), ParseOptions::smtputf8());
        }

        #[test]
        fn parsed_addresses_reparse_to_themselves(s in "[a-z0-9!#+_-]{1,20}(\\.[a-z0-9]{1,10}){0,2}@[a-z0-9]{1,10}(\\.[a-z]{2,6}){1,3}") {
            let parsed = ascii(&s).unwrap();
            prop_assert_eq!(ascii(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
