//! `EHLO` and `HELO` (RFC 5321 §4.1.1.1): the client names itself. The name
//! is recorded for the `Received:` header and never trusted for anything.

use super::CommandError;

/// The client's self-introduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The domain or address literal the client gave (printable, at most
    /// 255 octets).
    pub domain: String,
}

impl Hello {
    pub(super) fn parse(args: &[u8], usage: &'static str) -> Result<Self, CommandError> {
        let domain = args
            .split(|&b| b == b' ')
            .find(|word| !word.is_empty())
            .ok_or(CommandError::Syntax { usage })?;
        let domain = std::str::from_utf8(domain)
            .ok()
            .filter(|d| d.len() <= 255 && !d.chars().any(char::is_control))
            .ok_or(CommandError::Syntax { usage })?;
        Ok(Self {
            domain: domain.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    #[test]
    fn needs_a_name() {
        assert_eq!(
            Command::parse(b"EHLO client.example"),
            Ok(Command::Ehlo(Hello {
                domain: "client.example".into()
            }))
        );
        assert_eq!(
            Command::parse(b"helo [192.0.2.1]"),
            Ok(Command::Helo(Hello {
                domain: "[192.0.2.1]".into()
            }))
        );
        assert!(Command::parse(b"EHLO").is_err());
        assert!(Command::parse(b"EHLO   ").is_err());
        assert!(Command::parse(b"EHLO \xff").is_err());
    }
}
