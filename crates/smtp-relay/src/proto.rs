//! The client side of the SMTP wire grammar (RFC 5321), without I/O: reply
//! parsing (multi-line replies, enhanced status codes of RFC 2034/3463),
//! EHLO capability parsing, command encoding and DATA dot-stuffing.
//!
//! The delivery driver (`client`) owns the socket and calls these functions;
//! nothing here blocks, allocates without a bound or panics on peer input.

use std::fmt;

/// The longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512 octets;
/// real servers exceed it, so allow some slack).
pub const MAX_REPLY_LINE: usize = 2048;

/// The most lines one multi-line reply may have (EHLO lists rarely exceed 20).
pub const MAX_REPLY_LINES: usize = 128;

/// A reply from the peer: the code, the enhanced status code when the peer
/// gave one, and the text of every line joined by spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The RFC 3463 enhanced code (`5.1.1`), if the first line carried one.
    pub enhanced: Option<(u8, u16, u16)>,
    /// The text of each line, without code, separator or CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx (go ahead: DATA's 354).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 5xx: the peer will never accept this.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code to report in a DSN: the peer's, or one
    /// derived from the reply class (`4.0.0`, `5.0.0`).
    pub fn status(&self) -> String {
        match self.enhanced {
            Some((c, s, d)) => format!("{c}.{s}.{d}"),
            None => format!("{}.0.0", self.code / 100),
        }
    }

    /// The first line's text (for EHLO, the peer's name and greeting).
    pub fn first_line(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }
}

impl fmt::Display for Reply {
    /// `550 5.1.1 no such user` (lines joined by a space).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((c, s, d)) = self.enhanced {
            write!(f, " {c}.{s}.{d}")?;
        }
        for line in &self.lines {
            write!(f, " {line}")?;
        }
        Ok(())
    }
}

/// Why bytes from the peer are not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A line does not start with a three-digit code and a separator.
    #[error("malformed reply line {0:?}")]
    MalformedLine(String),
    /// The lines of one reply carry different codes.
    #[error("reply lines disagree on the code ({first} then {then})")]
    CodeMismatch {
        /// The first line's code.
        first: u16,
        /// A later line's code.
        then: u16,
    },
    /// A line longer than [`MAX_REPLY_LINE`].
    #[error("reply line longer than {MAX_REPLY_LINE} octets")]
    LineTooLong,
    /// More than [`MAX_REPLY_LINES`] lines.
    #[error("reply longer than {MAX_REPLY_LINES} lines")]
    TooManyLines,
}

/// Parses one complete reply from the front of `input`. Returns the reply
/// and the number of bytes it took, or `Ok(None)` when more bytes are
/// needed.
///
/// # Errors
///
/// [`ProtoError`] when the bytes cannot be a reply.
pub fn parse_reply(input: &[u8]) -> Result<Option<(Reply, usize)>, ProtoError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    let mut enhanced = None;
    loop {
        let rest = &input[pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > MAX_REPLY_LINE {
                return Err(ProtoError::LineTooLong);
            }
            return Ok(None);
        };
        if nl > MAX_REPLY_LINE {
            return Err(ProtoError::LineTooLong);
        }
        let raw = &rest[..nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        let text = String::from_utf8_lossy(raw);
        let malformed = || ProtoError::MalformedLine(text.chars().take(80).collect());
        if raw.len() < 3 || !raw[..3].iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        let this = u16::from(raw[0] - b'0') * 100
            + u16::from(raw[1] - b'0') * 10
            + u16::from(raw[2] - b'0');
        if !(200..600).contains(&this) {
            return Err(malformed());
        }
        let last = match raw.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(malformed()),
        };
        match code {
            None => code = Some(this),
            Some(first) if first != this => {
                return Err(ProtoError::CodeMismatch { first, then: this });
            }
            Some(_) => {}
        }
        let mut body = text.get(4..).unwrap_or("").to_owned();
        if lines.is_empty() {
            if let Some((e, rest)) = split_enhanced(&body, this) {
                enhanced = Some(e);
                body = rest;
            }
        } else if let Some((e, rest)) = split_enhanced(&body, this)
            && Some(e) == enhanced
        {
            body = rest;
        }
        lines.push(body);
        if lines.len() > MAX_REPLY_LINES {
            return Err(ProtoError::TooManyLines);
        }
        if last {
            let code = code.unwrap_or(this);
            return Ok(Some((
                Reply {
                    code,
                    enhanced,
                    lines,
                },
                pos,
            )));
        }
    }
}

/// Splits a leading enhanced status code whose class matches the reply's.
fn split_enhanced(text: &str, code: u16) -> Option<((u8, u16, u16), String)> {
    let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || u16::from(class) != code / 100 || subject > 999 || detail > 999 {
        return None;
    }
    Some(((class, subject, detail), rest.to_owned()))
}

/// What the peer's EHLO reply offers that the relay cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `SIZE`, with its limit when one was given (0 or absent: no limit).
    pub size: Option<u64>,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `DSN` (RFC 3461).
    pub dsn: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `PIPELINING` (RFC 2920); noted, not used.
    pub pipelining: bool,
}

impl Capabilities {
    /// Reads the keywords from an EHLO reply (every line after the first).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Self::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "SIZE" => {
                    caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "DSN" => caps.dsn = true,
                "REQUIRETLS" => caps.requiretls = true,
                "PIPELINING" => caps.pipelining = true,
                _ => {}
            }
        }
        caps
    }

    /// Whether a message of `size` octets exceeds the peer's declared limit.
    pub fn too_large(&self, size: u64) -> bool {
        matches!(self.size, Some(limit) if limit > 0 && size > limit)
    }
}

/// A command the relay sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO <name>`.
    Ehlo(String),
    /// `STARTTLS`.
    StartTls,
    /// `MAIL FROM:<sender>` with parameters (`SIZE=`, `BODY=`, `RET=`, ...).
    Mail {
        /// The reverse-path, empty for a bounce.
        sender: String,
        /// ESMTP parameters, already formatted.
        params: Vec<String>,
    },
    /// `RCPT TO:<recipient>` with parameters (`NOTIFY=`, `ORCPT=`).
    Rcpt {
        /// The forward-path.
        recipient: String,
        /// ESMTP parameters, already formatted.
        params: Vec<String>,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
}

impl Command {
    /// The command line with its CRLF. CR and LF inside arguments (which
    /// would inject a second command) are dropped.
    pub fn encode(&self) -> Vec<u8> {
        let line = match self {
            Command::Ehlo(name) => format!("EHLO {name}"),
            Command::StartTls => "STARTTLS".to_owned(),
            Command::Mail { sender, params } => {
                with_params(format!("MAIL FROM:<{sender}>"), params)
            }
            Command::Rcpt { recipient, params } => {
                with_params(format!("RCPT TO:<{recipient}>"), params)
            }
            Command::Data => "DATA".to_owned(),
            Command::Rset => "RSET".to_owned(),
            Command::Quit => "QUIT".to_owned(),
        };
        let mut out: Vec<u8> = line.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn with_params(mut line: String, params: &[String]) -> String {
    for p in params {
        line.push(' ');
        line.push_str(p);
    }
    line
}

/// The message as it goes on the wire after `354`: line endings made CRLF,
/// each line starting with `.` given another `.` (RFC 5321 §4.5.2), and the
/// terminating `CRLF.CRLF`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        if out.ends_with(b"\r") {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Encodes a value as RFC 3461 xtext (for `ENVID=` and `ORCPT=` built here;
/// values received from smtp-in are passed on as they came).
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// Decodes RFC 3461 xtext; malformed escapes are kept as they are.
pub fn unxtext(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+'
            && let Some(hex) = value.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split of `input` into two feeds gives the same answer as the
    /// whole: `None` for the first part, then the reply.
    fn parse_split(input: &[u8]) -> (Reply, usize) {
        for cut in 0..input.len() {
            if let Ok(Some((_, used))) = parse_reply(&input[..cut]) {
                assert!(used <= cut);
            }
        }
        parse_reply(input).unwrap().unwrap()
    }

    #[test]
    fn replies_parse_single_and_multi_line() {
        let (r, used) = parse_split(b"250 2.1.0 Sender ok\r\nextra");
        assert_eq!(used, 21);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, Some((2, 1, 0)));
        assert_eq!(r.lines, ["Sender ok"]);

        let ehlo =
            b"250-mx.example greets you\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
        let (r, used) = parse_split(ehlo);
        assert_eq!(used, ehlo.len());
        let caps = Capabilities::from_ehlo(&r);
        assert!(caps.starttls && caps.eight_bit_mime && !caps.dsn);
        assert_eq!(caps.size, Some(1000));
        assert!(caps.too_large(1001) && !caps.too_large(1000));

        let (r, _) = parse_split(b"220\r\n");
        assert_eq!((r.code, r.lines.len()), (220, 1));
        let (r, _) = parse_split(b"550 no such user\n");
        assert_eq!(
            (r.code, r.enhanced, r.status()),
            (550, None, "5.0.0".into())
        );
        // An enhanced code of another class is text, not a status.
        let (r, _) = parse_split(b"451 5.1.1 odd\r\n");
        assert_eq!(r.status(), "4.0.0");
    }

    #[test]
    fn incomplete_and_malformed_replies_are_told_apart() {
        assert_eq!(parse_reply(b"250-first\r\n250 sec").unwrap(), None);
        assert_eq!(parse_reply(b"").unwrap(), None);
        for bad in [
            &b"hello\r\n"[..],
            b"25\r\n",
            b"099 x\r\n",
            b"250x\r\n",
            b"250-a\r\n251 b\r\n",
        ] {
            assert!(parse_reply(bad).is_err(), "{bad:?}");
        }
        let long = vec![b'2'; MAX_REPLY_LINE + 10];
        assert_eq!(parse_reply(&long), Err(ProtoError::LineTooLong));
    }

    #[test]
    fn commands_encode_without_injection() {
        let mail = Command::Mail {
            sender: "a@b.example".into(),
            params: vec!["SIZE=10".into(), "BODY=8BITMIME".into()],
        };
        assert_eq!(
            mail.encode(),
            b"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\n"
        );
        let rcpt = Command::Rcpt {
            recipient: "x@y\r\nDATA".into(),
            params: vec![],
        };
        assert_eq!(rcpt.encode(), b"RCPT TO:<x@yDATA>\r\n");
        assert_eq!(Command::Quit.encode(), b"QUIT\r\n");
    }

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"no newline", b"no newline\r\n.\r\n"),
            (b"bare\nlf\n.x", b"bare\r\nlf\r\n..x\r\n.\r\n"),
            (b"", b".\r\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(dot_stuff(input), expected, "{input:?}");
        }
    }

    #[test]
    fn xtext_round_trips() {
        for s in ["rfc822;a@b.example", "a+b=c d", "plain"] {
            assert_eq!(unxtext(&xtext(s)), s);
        }
        assert_eq!(xtext("a+b"), "a+2Bb");
        assert_eq!(unxtext("x+zz"), "x+zz");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(input in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse_reply(&input);
        }

        #[test]
        fn replies_survive_encoding(
            code in 200u16..600,
            lines in proptest::collection::vec("[ -~]{0,40}", 1..5),
        ) {
            let mut wire = String::new();
            for (i, line) in lines.iter().enumerate() {
                let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                wire.push_str(&format!("{code}{sep}{line}\r\n"));
            }
            let (reply, used) = parse_reply(wire.as_bytes()).unwrap().unwrap();
            proptest::prop_assert_eq!(used, wire.len());
            proptest::prop_assert_eq!(reply.code, code);
            proptest::prop_assert_eq!(reply.lines.len(), lines.len());
        }

        #[test]
        fn dot_stuffing_round_trips(body in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'.'), proptest::strategy::Just(b'\r'),
            proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'a')], 0..200)) {
            let wire = dot_stuff(&body);
            proptest::prop_assert!(wire.ends_with(b"\r\n.\r\n") || wire == b".\r\n");
            // The terminator appears only at the end.
            let body_part = &wire[..wire.len() - 3];
            proptest::prop_assert!(!body_part.windows(5).any(|w| w == b"\r\n.\r\n"));
            proptest::prop_assert!(!body_part.starts_with(b".\r\n"));
        }
    }
}
