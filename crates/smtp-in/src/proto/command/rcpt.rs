//! `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3) with the RFC 3461
//! DSN parameters `NOTIFY` and `ORCPT`, kept for delivery status
//! notifications.

use super::{CommandError, path_and_params, set_once, xtext};

/// When to send a delivery status notification (RFC 3461 `NOTIFY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE` (the default when nothing is said).
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
    /// `NEVER`: no notification at all.
    pub never: bool,
    /// The client gave `NOTIFY=` explicitly.
    pub explicit: bool,
}

/// `ORCPT=addr-type;xtext`: the recipient as originally given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRecipient {
    /// The address type, e.g. `rfc822` or `utf-8`.
    pub addr_type: String,
    /// The address, as sent (xtext-encoded).
    pub address: String,
}

/// A parsed `RCPT` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The forward-path exactly as written, without angle brackets.
    pub path: Vec<u8>,
    /// `NOTIFY=`.
    pub notify: Notify,
    /// `ORCPT=`.
    pub orcpt: Option<OriginalRecipient>,
}

impl RcptTo {
    pub(super) fn parse(args: &[u8]) -> Result<Self, CommandError> {
        let (path, params) = path_and_params(args, b"TO", "RCPT TO:<address> [parameters]")?;
        let mut notify = None;
        let mut orcpt = None;
        for param in params {
            if param.is("NOTIFY") {
                set_once(&mut notify, parse_notify(param.value)?, "NOTIFY")?;
            } else if param.is("ORCPT") {
                let invalid = CommandError::InvalidParameter { name: "ORCPT" };
                let value = param.value.ok_or(invalid.clone())?;
                let semi = value
                    .iter()
                    .position(|&b| b == b';')
                    .ok_or(invalid.clone())?;
                let addr_type = &value[..semi];
                if addr_type.is_empty()
                    || !addr_type
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                {
                    return Err(invalid);
                }
                let original = OriginalRecipient {
                    addr_type: String::from_utf8_lossy(addr_type).to_ascii_lowercase(),
                    address: xtext(Some(&value[semi + 1..]), 500, "ORCPT")?,
                };
                set_once(&mut orcpt, original, "ORCPT")?;
            } else {
                return Err(param.unknown());
            }
        }
        Ok(Self {
            path: path.to_vec(),
            notify: notify.unwrap_or(Notify {
                failure: true,
                ..Notify::default()
            }),
            orcpt,
        })
    }
}

fn parse_notify(value: Option<&[u8]>) -> Result<Notify, CommandError> {
    let invalid = CommandError::InvalidParameter { name: "NOTIFY" };
    let value = value.filter(|v| !v.is_empty()).ok_or(invalid.clone())?;
    let mut notify = Notify {
        explicit: true,
        ..Notify::default()
    };
    for word in value.split(|&b| b == b',') {
        let slot = match word.to_ascii_uppercase().as_slice() {
            b"NEVER" => &mut notify.never,
            b"SUCCESS" => &mut notify.success,
            b"FAILURE" => &mut notify.failure,
            b"DELAY" => &mut notify.delay,
            _ => return Err(invalid),
        };
        if std::mem::replace(slot, true) {
            return Err(invalid);
        }
    }
    // NEVER excludes the others (RFC 3461 §4.1).
    if notify.never && (notify.success || notify.failure || notify.delay) {
        return Err(invalid);
    }
    Ok(notify)
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    fn rcpt(line: &[u8]) -> Result<RcptTo, CommandError> {
        match Command::parse(line)? {
            Command::Rcpt(r) => Ok(r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dsn_parameters() {
        let r =
            rcpt(b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+40b.example").unwrap();
        assert!(r.notify.success && r.notify.delay && !r.notify.failure && r.notify.explicit);
        let orcpt = r.orcpt.unwrap();
        assert_eq!(
            (orcpt.addr_type.as_str(), orcpt.address.as_str()),
            ("rfc822", "a+40b.example")
        );

        let r = rcpt(b"rcpt to:<a@b.example>").unwrap();
        assert!(r.notify.failure && !r.notify.explicit);
        assert!(rcpt(b"RCPT TO:<a@b> NOTIFY=NEVER").unwrap().notify.never);
    }

    #[test]
    fn refusals() {
        for line in [
            &b"RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS"[..],
            b"RCPT TO:<a@b> NOTIFY=SOMETIMES",
            b"RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS",
            b"RCPT TO:<a@b> NOTIFY",
            b"RCPT TO:<a@b> ORCPT=rfc822",
            b"RCPT TO:<a@b> ORCPT=;a@b",
            b"RCPT TO:<a@b> FOO=1",
            b"RCPT FROM:<a@b>",
            b"RCPT TO:a@b",
        ] {
            assert!(rcpt(line).is_err(), "{line:?}");
        }
    }
}
