//! `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2) with the
//! parameters Ward advertises: `SIZE` (RFC 1870), `BODY` (RFC 6152),
//! `SMTPUTF8` (RFC 6531), `RET` and `ENVID` (RFC 3461 DSN), `REQUIRETLS`
//! (RFC 8689), and `AUTH=` (RFC 4954, accepted and ignored: Ward trusts only
//! its own authentication).

use super::{CommandError, Param, path_and_params, set_once, xtext};

/// The body type declared with `BODY=` (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// `7BIT` or nothing declared.
    #[default]
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
}

/// What a delivery status notification should return (RFC 3461 `RET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// The whole message.
    Full,
    /// Only the headers.
    Headers,
}

/// A parsed `MAIL` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// The reverse-path exactly as written, without angle brackets; empty
    /// for `<>`.
    pub path: Vec<u8>,
    /// `SIZE=`: the client's estimate of the message size, in octets.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: BodyType,
    /// `SMTPUTF8`: addresses and headers may be UTF-8.
    pub smtputf8: bool,
    /// `REQUIRETLS`: the message must only travel over TLS.
    pub requiretls: bool,
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=`, as sent (xtext).
    pub envid: Option<String>,
}

impl MailFrom {
    pub(super) fn parse(args: &[u8]) -> Result<Self, CommandError> {
        let (path, params) = path_and_params(args, b"FROM", "MAIL FROM:<address> [parameters]")?;
        let mut size = None;
        let mut body = None;
        let mut smtputf8 = None;
        let mut requiretls = None;
        let mut ret = None;
        let mut envid = None;
        let mut auth = None;
        for param in params {
            let Param { value, .. } = param;
            if param.is("SIZE") {
                let n = value
                    .filter(|v| !v.is_empty() && v.len() <= 19 && v.iter().all(u8::is_ascii_digit))
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                    .ok_or(CommandError::InvalidParameter { name: "SIZE" })?;
                set_once(&mut size, n, "SIZE")?;
            } else if param.is("BODY") {
                let kind = match value {
                    Some(v) if v.eq_ignore_ascii_case(b"7BIT") => BodyType::SevenBit,
                    Some(v) if v.eq_ignore_ascii_case(b"8BITMIME") => BodyType::EightBitMime,
                    _ => return Err(CommandError::InvalidParameter { name: "BODY" }),
                };
                set_once(&mut body, kind, "BODY")?;
            } else if param.is("SMTPUTF8") {
                flag(value, &mut smtputf8, "SMTPUTF8")?;
            } else if param.is("REQUIRETLS") {
                flag(value, &mut requiretls, "REQUIRETLS")?;
            } else if param.is("RET") {
                let r = match value {
                    Some(v) if v.eq_ignore_ascii_case(b"FULL") => Ret::Full,
                    Some(v) if v.eq_ignore_ascii_case(b"HDRS") => Ret::Headers,
                    _ => return Err(CommandError::InvalidParameter { name: "RET" }),
                };
                set_once(&mut ret, r, "RET")?;
            } else if param.is("ENVID") {
                set_once(&mut envid, xtext(value, 100, "ENVID")?, "ENVID")?;
            } else if param.is("AUTH") {
                set_once(&mut auth, xtext(value, 500, "AUTH")?, "AUTH")?;
            } else {
                return Err(param.unknown());
            }
        }
        Ok(Self {
            path: path.to_vec(),
            size,
            body: body.unwrap_or_default(),
            smtputf8: smtputf8.is_some(),
            requiretls: requiretls.is_some(),
            ret,
            envid,
        })
    }
}

/// A parameter without a value, given at most once.
fn flag(
    value: Option<&[u8]>,
    slot: &mut Option<()>,
    name: &'static str,
) -> Result<(), CommandError> {
    if value.is_some() {
        return Err(CommandError::InvalidParameter { name });
    }
    set_once(slot, (), name)
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    fn mail(line: &[u8]) -> Result<MailFrom, CommandError> {
        match Command::parse(line)? {
            Command::Mail(m) => Ok(m),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parameters() {
        let m = mail(b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS ENVID=QQ+2B1 AUTH=<>").unwrap();
        assert_eq!(m.path, b"a@b.example");
        assert_eq!(m.size, Some(1000));
        assert_eq!(m.body, BodyType::EightBitMime);
        assert!(m.smtputf8 && m.requiretls);
        assert_eq!(m.ret, Some(Ret::Headers));
        assert_eq!(m.envid.as_deref(), Some("QQ+2B1"));

        let m = mail(b"mail from:<>").unwrap();
        assert_eq!(
            (m.path.as_slice(), m.size, m.body),
            (&b""[..], None, BodyType::SevenBit)
        );
    }

    #[test]
    fn refusals() {
        use CommandError::*;
        let cases: &[(&[u8], CommandError)] = &[
            (b"MAIL FROM:<a@b> SIZE=x", InvalidParameter { name: "SIZE" }),
            (
                b"MAIL FROM:<a@b> SIZE=1 SIZE=2",
                InvalidParameter { name: "SIZE" },
            ),
            (
                b"MAIL FROM:<a@b> BODY=BINARYMIME",
                InvalidParameter { name: "BODY" },
            ),
            (
                b"MAIL FROM:<a@b> SMTPUTF8=yes",
                InvalidParameter { name: "SMTPUTF8" },
            ),
            (b"MAIL FROM:<a@b> RET=ALL", InvalidParameter { name: "RET" }),
            (
                b"MAIL FROM:<a@b> ENVID=a=b",
                InvalidParameter { name: "ENVID" },
            ),
            (
                b"MAIL FROM:<a@b> HOLDFOR=10",
                UnknownParameter {
                    name: "HOLDFOR".into(),
                },
            ),
            (
                b"MAIL FROM:<a@b> =x",
                Syntax {
                    usage: "parameters are KEYWORD or KEYWORD=value",
                },
            ),
            (
                b"MAIL TO:<a@b>",
                Syntax {
                    usage: "MAIL FROM:<address> [parameters]",
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(mail(line).as_ref(), Err(expected), "{line:?}");
        }
    }
}
