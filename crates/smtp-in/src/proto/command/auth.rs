//! `AUTH mechanism [initial-response]` (RFC 4954). Ward offers PLAIN
//! (RFC 4616) and LOGIN, and only over TLS; the session decodes the
//! responses.

use super::CommandError;
use transport::Secret;

/// The SASL mechanisms Ward offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: `authzid NUL authcid NUL password`, base64.
    Plain,
    /// The de-facto LOGIN mechanism: user name, then password, each base64.
    Login,
}

impl Mechanism {
    /// The mechanism's name as advertised.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// An `AUTH` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The mechanism asked for.
    pub mechanism: Mechanism,
    /// The base64 initial response, if given (`=` is the empty response).
    pub initial_response: Option<Secret<String>>,
}

impl Auth {
    pub(super) fn parse(args: &[u8]) -> Result<Self, CommandError> {
        let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let mechanism = match words.next() {
            Some(m) if m.eq_ignore_ascii_case(b"PLAIN") => Mechanism::Plain,
            Some(m) if m.eq_ignore_ascii_case(b"LOGIN") => Mechanism::Login,
            Some(_) => return Err(CommandError::UnsupportedMechanism),
            None => {
                return Err(CommandError::Syntax {
                    usage: "AUTH mechanism [initial-response]",
                });
            }
        };
        let initial_response = words
            .next()
            .map(|w| Secret::new(String::from_utf8_lossy(w).into_owned()));
        if words.next().is_some() {
            return Err(CommandError::Syntax {
                usage: "AUTH mechanism [initial-response]",
            });
        }
        Ok(Self {
            mechanism,
            initial_response,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    #[test]
    fn mechanisms() {
        let Ok(Command::Auth(auth)) = Command::parse(b"AUTH plain AHUAcA==") else {
            panic!("not parsed");
        };
        assert_eq!(auth.mechanism, Mechanism::Plain);
        assert_eq!(auth.initial_response.unwrap().expose(), "AHUAcA==");
        assert_eq!(
            Command::parse(b"AUTH CRAM-MD5"),
            Err(CommandError::UnsupportedMechanism)
        );
        assert!(matches!(
            Command::parse(b"AUTH"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(format!("{:?}", Command::parse(b"AUTH LOGIN c2VjcmV0")).contains("redacted"));
    }
}
