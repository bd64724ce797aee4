//! SMTP commands: one file per command that carries arguments, all
//! dispatched through [`Command`]. [`Command::parse`] is a pure function over
//! one framed line (CRLF removed, no CR, LF or NUL inside) and never panics.
//! Mailbox syntax is not judged here: `MAIL` and `RCPT` keep the path exactly
//! as written for `policy::Address::parse`.

mod auth;
mod bdat;
mod hello;
mod mail;
mod rcpt;

pub use auth::{Auth, Mechanism};
pub use bdat::Bdat;
pub use hello::Hello;
pub use mail::{BodyType, MailFrom, Ret};
pub use rcpt::{Notify, OriginalRecipient, RcptTo};

/// Why a command line is refused before any state is consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Not an SMTP command at all.
    #[error("command not recognised")]
    Unrecognised,
    /// An SMTP command Ward deliberately does not implement.
    #[error("{verb} is not implemented")]
    NotImplemented {
        /// The command.
        verb: &'static str,
    },
    /// The arguments do not follow the command's syntax.
    #[error("syntax: {usage}")]
    Syntax {
        /// The correct form.
        usage: &'static str,
    },
    /// An ESMTP parameter Ward does not offer.
    #[error("parameter {name} is not supported")]
    UnknownParameter {
        /// The parameter's name, upper-cased, at most 32 characters.
        name: String,
    },
    /// A known parameter with a bad or repeated value.
    #[error("invalid value for {name}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
    },
    /// An `AUTH` mechanism Ward does not offer.
    #[error("authentication mechanism not supported")]
    UnsupportedMechanism,
}

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(Hello),
    /// `HELO domain`.
    Helo(Hello),
    /// `MAIL FROM:<path> [params]`.
    Mail(MailFrom),
    /// `RCPT TO:<path> [params]`.
    Rcpt(RcptTo),
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat(Bdat),
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `HELP [string]`.
    Help,
    /// `VRFY string`: answered without revealing anything.
    Vrfy,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth(Auth),
}

impl Command {
    /// Parses one command line (without its CRLF).
    ///
    /// # Errors
    ///
    /// [`CommandError`] saying what is wrong with the line.
    pub fn parse(line: &[u8]) -> Result<Self, CommandError> {
        let (verb, args) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        let verb = verb.to_ascii_uppercase();
        let no_args = |command, usage| {
            if args.iter().all(|&b| b == b' ') {
                Ok(command)
            } else {
                Err(CommandError::Syntax { usage })
            }
        };
        match verb.as_slice() {
            b"EHLO" => Hello::parse(args, "EHLO domain").map(Command::Ehlo),
            b"HELO" => Hello::parse(args, "HELO domain").map(Command::Helo),
            b"MAIL" => MailFrom::parse(args).map(Command::Mail),
            b"RCPT" => RcptTo::parse(args).map(Command::Rcpt),
            b"DATA" => no_args(Command::Data, "DATA"),
            b"BDAT" => Bdat::parse(args).map(Command::Bdat),
            b"RSET" => no_args(Command::Rset, "RSET"),
            b"NOOP" => Ok(Command::Noop),
            b"QUIT" => no_args(Command::Quit, "QUIT"),
            b"HELP" => Ok(Command::Help),
            b"VRFY" if args.iter().any(|&b| b != b' ') => Ok(Command::Vrfy),
            b"VRFY" => Err(CommandError::Syntax {
                usage: "VRFY string",
            }),
            b"STARTTLS" => no_args(Command::StartTls, "STARTTLS"),
            b"AUTH" => Auth::parse(args).map(Command::Auth),
            b"EXPN" => Err(CommandError::NotImplemented { verb: "EXPN" }),
            b"ETRN" => Err(CommandError::NotImplemented { verb: "ETRN" }),
            b"ATRN" => Err(CommandError::NotImplemented { verb: "ATRN" }),
            b"TURN" => Err(CommandError::NotImplemented { verb: "TURN" }),
            b"BURL" => Err(CommandError::NotImplemented { verb: "BURL" }),
            _ => Err(CommandError::Unrecognised),
        }
    }
}

/// Splits `KEYWORD:<path> params` (`FROM` or `TO`) into the raw path and
/// its parameters. The path keeps its quotes and escapes; a source route
/// (`@a,@b:user@d`, RFC 5321 §4.1.2) is dropped as the RFC allows.
fn path_and_params<'a>(
    args: &'a [u8],
    keyword: &[u8],
    usage: &'static str,
) -> Result<(&'a [u8], Vec<Param<'a>>), CommandError> {
    let syntax = CommandError::Syntax { usage };
    let rest = args
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .and_then(|_| args[keyword.len()..].strip_prefix(b":"))
        .ok_or(syntax.clone())?;
    let rest = trim_start(rest);
    let rest = rest.strip_prefix(b"<").ok_or(syntax.clone())?;
    let mut in_quote = false;
    let mut escaped = false;
    let mut end = None;
    for (i, &b) in rest.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_quote => escaped = true,
            b'"' => in_quote = !in_quote,
            b'>' if !in_quote => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end.ok_or(syntax.clone())?;
    let mut path = &rest[..end];
    if path.first() == Some(&b'@') {
        let colon = path.iter().position(|&b| b == b':').ok_or(syntax.clone())?;
        path = &path[colon + 1..];
    }
    let after = &rest[end + 1..];
    if !after.is_empty() && after[0] != b' ' {
        return Err(syntax);
    }
    let params = after
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .map(Param::parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((path, params))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

/// One ESMTP parameter, `KEYWORD[=value]` (RFC 5321 §4.1.2).
#[derive(Debug, Clone, Copy)]
struct Param<'a> {
    /// Upper-cased keyword.
    name: &'a [u8],
    value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    fn parse(text: &'a [u8]) -> Result<Self, CommandError> {
        let (name, value) = match text.iter().position(|&b| b == b'=') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
            return Err(CommandError::Syntax {
                usage: "parameters are KEYWORD or KEYWORD=value",
            });
        }
        Ok(Self { name, value })
    }

    fn is(&self, keyword: &str) -> bool {
        self.name.eq_ignore_ascii_case(keyword.as_bytes())
    }

    fn unknown(&self) -> CommandError {
        CommandError::UnknownParameter {
            name: String::from_utf8_lossy(&self.name[..self.name.len().min(32)])
                .to_ascii_uppercase(),
        }
    }
}

/// Checks RFC 3461 `xtext` (printable ASCII except `+` and `=`, and `+XX`
/// hex escapes) and returns it as written, at most `max` octets.
fn xtext(value: Option<&[u8]>, max: usize, name: &'static str) -> Result<String, CommandError> {
    let invalid = CommandError::InvalidParameter { name };
    let value = value
        .filter(|v| !v.is_empty() && v.len() <= max)
        .ok_or(invalid.clone())?;
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'+' => {
                let hex = value.get(i + 1..i + 3).ok_or(invalid.clone())?;
                if !hex
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
                {
                    return Err(invalid);
                }
                i += 3;
            }
            b'!'..=b'~' if value[i] != b'=' => i += 1,
            _ => return Err(invalid),
        }
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

/// Sets a parameter once; a repeat is an error.
fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), CommandError> {
    if slot.replace(value).is_some() {
        return Err(CommandError::InvalidParameter { name });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive_and_unknowns_refused() {
        assert_eq!(Command::parse(b"noop"), Ok(Command::Noop));
        assert_eq!(Command::parse(b"NoOp anything"), Ok(Command::Noop));
        assert_eq!(Command::parse(b"quit"), Ok(Command::Quit));
        assert_eq!(Command::parse(b"DATA"), Ok(Command::Data));
        assert_eq!(Command::parse(b"StartTLS"), Ok(Command::StartTls));
        assert_eq!(Command::parse(b"HELP me"), Ok(Command::Help));
        assert_eq!(Command::parse(b"VRFY root"), Ok(Command::Vrfy));
        assert!(matches!(
            Command::parse(b"VRFY"),
            Err(CommandError::Syntax { .. })
        ));
        assert!(matches!(
            Command::parse(b"DATA now"),
            Err(CommandError::Syntax { .. })
        ));
        assert_eq!(
            Command::parse(b"GET / HTTP/1.1"),
            Err(CommandError::Unrecognised)
        );
        assert_eq!(Command::parse(b""), Err(CommandError::Unrecognised));
        assert_eq!(
            Command::parse(b"EXPN staff"),
            Err(CommandError::NotImplemented { verb: "EXPN" })
        );
    }

    #[test]
    fn paths_keep_quotes_and_drop_source_routes() {
        type Case<'a> = (&'a [u8], Result<&'a [u8], ()>);
        let cases: &[Case<'_>] = &[
            (b"FROM:<a@b.example>", Ok(b"a@b.example")),
            (b"from: <a@b.example>", Ok(b"a@b.example")),
            (b"FROM:<>", Ok(b"")),
            (b"FROM:<\"x >y\"@b.example>", Ok(b"\"x >y\"@b.example")),
            (
                b"FROM:<\"x\\\">y\"@b.example>",
                Ok(b"\"x\\\">y\"@b.example"),
            ),
            (b"FROM:<@r1,@r2:a@b.example>", Ok(b"a@b.example")),
            (b"FROM:a@b.example", Err(())),
            (b"FROM:<a@b.example", Err(())),
            (b"FROM:<a@b.example>X", Err(())),
            (b"TO:<a@b.example>", Err(())),
            (b"FROM:<@r1>", Err(())),
        ];
        for (args, expected) in cases {
            let got = path_and_params(args, b"FROM", "MAIL FROM:<path>")
                .map(|(p, _)| p)
                .map_err(|_| ());
            assert_eq!(got, *expected, "{args:?}");
        }
    }

    #[test]
    fn xtext_is_checked() {
        assert_eq!(
            xtext(Some(b"abc+2Bdef"), 100, "ENVID"),
            Ok("abc+2Bdef".into())
        );
        assert!(xtext(Some(b"abc+2"), 100, "ENVID").is_err());
        assert!(xtext(Some(b"abc+zz"), 100, "ENVID").is_err());
        assert!(xtext(Some(b"a=b"), 100, "ENVID").is_err());
        assert!(xtext(Some(b""), 100, "ENVID").is_err());
        assert!(xtext(None, 100, "ENVID").is_err());
        assert!(xtext(Some(b"abcd"), 3, "ENVID").is_err());
    }
}
