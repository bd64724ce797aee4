//! `BDAT size [LAST]` (RFC 3030 CHUNKING): the next `size` octets are message
//! data, counted, not framed by lines.

use super::CommandError;

const USAGE: &str = "BDAT chunk-size [LAST]";

/// One chunk announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdat {
    /// Octets of data that follow the command line.
    pub size: u64,
    /// This chunk ends the message.
    pub last: bool,
}

impl Bdat {
    pub(super) fn parse(args: &[u8]) -> Result<Self, CommandError> {
        let syntax = CommandError::Syntax { usage: USAGE };
        let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let size = words
            .next()
            .filter(|w| w.len() <= 19 && w.iter().all(u8::is_ascii_digit))
            .and_then(|w| std::str::from_utf8(w).ok()?.parse().ok())
            .ok_or(syntax.clone())?;
        let last = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case(b"LAST") => true,
            Some(_) => return Err(syntax),
        };
        if words.next().is_some() {
            return Err(syntax);
        }
        Ok(Self { size, last })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    #[test]
    fn sizes_and_last() {
        let ok = |size, last| Ok(Command::Bdat(Bdat { size, last }));
        assert_eq!(Command::parse(b"BDAT 42"), ok(42, false));
        assert_eq!(Command::parse(b"bdat 0 last"), ok(0, true));
        assert!(Command::parse(b"BDAT").is_err());
        assert!(Command::parse(b"BDAT -1").is_err());
        assert!(Command::parse(b"BDAT 12 FIRST").is_err());
        assert!(Command::parse(b"BDAT 12 LAST X").is_err());
        assert!(Command::parse(b"BDAT 99999999999999999999").is_err());
    }
}
