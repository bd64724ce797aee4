//! Suffix rewriting at an SMTP organisation's boundary. An organisation whose
//! gateway is configured with [`SuffixRewrite::StripSuffix`] uses its plain
//! addresses (`user@org.example`) internally; inside the community the same
//! users are `user@org.example.cjsm.net`. A [`Rewriter`] adds the suffix to
//! that organisation's own domains in the envelope and in the address header
//! fields on the way in, and strips it on the way out. Other organisations'
//! addresses and external domains pass unchanged, so replies still route
//! through Ward. Only the top-level header section is touched; bodies and
//! attachments are copied byte for byte, and a rewrite in then out gives back
//! the original bytes.

use crate::address::{Address, Domain};
use crate::community::{Community, Connection, Organisation, SuffixRewrite};
use crate::error::AddressError;

/// Header fields whose addresses are rewritten (compared case-insensitively).
const ADDRESS_FIELDS: [&str; 14] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "return-path",
    "disposition-notification-to",
    "mail-followup-to",
];

/// Rewrites one organisation's addresses between its plain form and the
/// community form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewriter {
    suffix: Domain,
    domains: Vec<Domain>,
}

impl Community {
    /// The rewriter for an organisation whose gateway strips the suffix;
    /// `None` when nothing is rewritten (mailbox organisations and gateways
    /// that keep the suffix).
    pub fn rewriter_for(&self, organisation: &Organisation) -> Option<Rewriter> {
        match &organisation.connection {
            Connection::Smtp(gateway) if gateway.rewrite == SuffixRewrite::StripSuffix => {
                Some(Rewriter {
                    suffix: self.suffix.clone(),
                    domains: organisation.domains.clone(),
                })
            }
            _ => None,
        }
    }
}

impl Rewriter {
    /// Into the community: `user@org.example` → `user@org.example.cjsm.net`
    /// for the organisation's own domains; other addresses unchanged.
    ///
    /// # Errors
    ///
    /// [`AddressError`] when the suffixed address would be too long.
    pub fn inbound_address(&self, address: &Address) -> Result<Address, AddressError> {
        if self.domains.contains(address.domain()) {
            address.with_domain(address.domain().with_suffix(&self.suffix)?)
        } else {
            Ok(address.clone())
        }
    }

    /// Out to the gateway: `user@org.example.cjsm.net` → `user@org.example`
    /// for the organisation's own domains; other addresses unchanged.
    pub fn outbound_address(&self, address: &Address) -> Address {
        match address.domain().strip_suffix(&self.suffix) {
            Some(base) if self.domains.contains(&base) => address
                .with_domain(base)
                .unwrap_or_else(|_| address.clone()),
            _ => address.clone(),
        }
    }

    /// Adds the suffix to the organisation's domains in the address header
    /// fields of `message`; every other byte is kept.
    pub fn inbound_headers(&self, message: &[u8]) -> Vec<u8> {
        self.rewrite_headers(message, Direction::Inbound)
    }

    /// Strips the suffix from the organisation's domains in the address
    /// header fields of `message`; every other byte is kept.
    pub fn outbound_headers(&self, message: &[u8]) -> Vec<u8> {
        self.rewrite_headers(message, Direction::Outbound)
    }

    fn rewrite_headers(&self, message: &[u8], direction: Direction) -> Vec<u8> {
        let mut out = Vec::with_capacity(message.len() + 64);
        let mut rest = message;
        let mut rewriting = false;
        while !rest.is_empty() {
            let line_len = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            let (line, tail) = rest.split_at(line_len);
            rest = tail;
            if line == b"\r\n" || line == b"\n" {
                // The blank line ends the header section; the body is copied.
                out.extend_from_slice(line);
                out.extend_from_slice(rest);
                break;
            }
            let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
            let value_start = if continuation {
                Some(0)
            } else {
                let colon = line.iter().position(|&b| b == b':');
                rewriting = colon.is_some_and(|colon| {
                    let name = String::from_utf8_lossy(&line[..colon]);
                    ADDRESS_FIELDS
                        .iter()
                        .any(|f| name.trim().eq_ignore_ascii_case(f))
                });
                colon.map(|c| c + 1)
            };
            match value_start {
                Some(start) if rewriting => {
                    out.extend_from_slice(&line[..start]);
                    self.rewrite_value(&line[start..], direction, &mut out);
                }
                _ => out.extend_from_slice(line),
            }
        }
        out
    }

    /// Copies `value`, rewriting each `@domain` that names one of the
    /// organisation's domains.
    fn rewrite_value(&self, value: &[u8], direction: Direction, out: &mut Vec<u8>) {
        let is_domain_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        let mut i = 0;
        while i < value.len() {
            out.push(value[i]);
            if value[i] != b'@' {
                i += 1;
                continue;
            }
            let start = i + 1;
            let mut end = start;
            while end < value.len() && is_domain_byte(value[end]) {
                end += 1;
            }
            // A trailing dot is punctuation, not part of the domain.
            let mut token_end = end;
            while token_end > start && value[token_end - 1] == b'.' {
                token_end -= 1;
            }
            let token = String::from_utf8_lossy(&value[start..token_end]).to_ascii_lowercase();
            match direction {
                Direction::Inbound if self.owns_plain(&token) => {
                    out.extend_from_slice(&value[start..token_end]);
                    out.push(b'.');
                    out.extend_from_slice(self.suffix.as_str().as_bytes());
                    out.extend_from_slice(&value[token_end..end]);
                }
                Direction::Outbound if self.owns_suffixed(&token) => {
                    let keep = token_end - start - self.suffix.as_str().len() - 1;
                    out.extend_from_slice(&value[start..start + keep]);
                    out.extend_from_slice(&value[token_end..end]);
                }
                _ => out.extend_from_slice(&value[start..end]),
            }
            i = end;
        }
    }

    fn owns_plain(&self, token: &str) -> bool {
        self.domains.iter().any(|d| d.as_str() == token)
    }

    fn owns_suffixed(&self, token: &str) -> bool {
        token
            .strip_suffix(self.suffix.as_str())
            .and_then(|t| t.strip_suffix('.'))
            .is_some_and(|base| self.owns_plain(base))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::community::Gateway;
    use proptest::prelude::*;

    fn community() -> (Community, Organisation) {
        let mut community = Community::default();
        let org = Organisation::smtp(
            "Greenstone Chambers",
            Domain::parse("greenstonechambers.co.uk").unwrap(),
            Gateway {
                host: Domain::parse("mx.greenstonechambers.co.uk").unwrap(),
                port: 25,
                rewrite: SuffixRewrite::StripSuffix,
            },
        );
        community.organisations.push(org.clone());
        (community, org)
    }

    fn rewriter() -> Rewriter {
        let (community, org) = community();
        community.rewriter_for(&org).unwrap()
    }

    #[test]
    fn no_rewriter_unless_gateway_strips() {
        let (community, mut org) = community();
        org.connection = Connection::Mailbox;
        assert_eq!(community.rewriter_for(&org), None);
        org.connection = Connection::Smtp(Gateway {
            host: Domain::parse("mx.example").unwrap(),
            port: 25,
            rewrite: SuffixRewrite::KeepSuffix,
        });
        assert_eq!(community.rewriter_for(&org), None);
    }

    #[test]
    fn envelope_addresses_gain_and_lose_the_suffix() {
        let r = rewriter();
        let cases = [
            (
                "eric.brown@greenstonechambers.co.uk",
                "eric.brown@greenstonechambers.co.uk.cjsm.net",
            ),
            (
                "Eric@GreenstoneChambers.co.uk",
                "Eric@greenstonechambers.co.uk.cjsm.net",
            ),
            ("a@other.example.cjsm.net", "a@other.example.cjsm.net"),
            ("a@kent.pnn.police.uk", "a@kent.pnn.police.uk"),
        ];
        for (plain, community) in cases {
            let plain = Address::try_from(plain).unwrap();
            let community = Address::try_from(community).unwrap();
            assert_eq!(r.inbound_address(&plain).unwrap(), community);
            let back = r.outbound_address(&community);
            assert_eq!(
                back.to_string(),
                plain
                    .to_string()
                    .replace("GreenstoneChambers.co.uk", "greenstonechambers.co.uk")
            );
        }
    }

    #[test]
    fn headers_are_rewritten_and_body_untouched() {
        let r = rewriter();
        let input = b"From: \"Eric Brown\" <eric.brown@GreenstoneChambers.co.uk>\r\n\
To: clerk@other.example.cjsm.net,\r\n a.b@greenstonechambers.co.uk\r\n\
Subject: mail for a@greenstonechambers.co.uk\r\n\
\r\n\
Body mentions eric.brown@greenstonechambers.co.uk.\r\n";
        let expected = b"From: \"Eric Brown\" <eric.brown@GreenstoneChambers.co.uk.cjsm.net>\r\n\
To: clerk@other.example.cjsm.net,\r\n a.b@greenstonechambers.co.uk.cjsm.net\r\n\
Subject: mail for a@greenstonechambers.co.uk\r\n\
\r\n\
Body mentions eric.brown@greenstonechambers.co.uk.\r\n";
        let inbound = r.inbound_headers(input);
        assert_eq!(
            String::from_utf8_lossy(&inbound),
            String::from_utf8_lossy(expected)
        );
        assert_eq!(r.outbound_headers(&inbound), input.to_vec());
    }

    fn header_block() -> impl Strategy<Value = Vec<u8>> {
        let domain = prop_oneof![
            Just("greenstonechambers.co.uk".to_owned()),
            Just("GreenstoneChambers.CO.UK".to_owned()),
            Just("other.example".to_owned()),
            Just("other.example.cjsm.net".to_owned()),
            Just("greenstonechambers.co.uk-x".to_owned()),
        ];
        let address = ("[a-z.]{1,8}", domain, "[>,; ]{0,2}")
            .prop_map(|(l, d, tail)| format!("{l}@{d}{tail}"));
        let field = (
            prop_oneof![
                Just("From"),
                Just("to"),
                Just("Cc"),
                Just("Subject"),
                Just("Reply-To")
            ],
            proptest::collection::vec(address, 0..4),
            any::<bool>(),
        )
            .prop_map(|(name, addrs, fold)| {
                let sep = if fold { ",\r\n " } else { ", " };
                format!("{name}: {}\r\n", addrs.join(sep))
            });
        (proptest::collection::vec(field, 0..6), "[ -~]{0,40}")
            .prop_map(|(fields, body)| format!("{}\r\n{body}", fields.concat()).into_bytes())
    }

    proptest! {
        #[test]
        fn header_rewrite_round_trips(message in header_block()) {
            let r = rewriter();
            prop_assert_eq!(r.outbound_headers(&r.inbound_headers(&message)), message);
        }

        #[test]
        fn envelope_rewrite_round_trips(local in "[a-z0-9._+-]{1,30}", upper in any::<bool>()) {
            let r = rewriter();
            let domain = if upper { "GREENSTONECHAMBERS.co.uk" } else { "greenstonechambers.co.uk" };
            if let Ok(plain) = Address::try_from(format!("{local}@{domain}").as_str()) {
                let inside = r.inbound_address(&plain).unwrap();
                prop_assert!(inside.domain().as_str().ends_with(".cjsm.net"));
                prop_assert_eq!(r.outbound_address(&inside), plain.clone());
                prop_assert_eq!(r.inbound_address(&r.outbound_address(&inside)).unwrap(), inside);
            }
        }
    }
}
