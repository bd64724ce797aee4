//! The command forms imap-codec does not parse yet: MULTIAPPEND, ESEARCH's
//! `SEARCH RETURN (…)` (RFC 4731) and LIST-EXTENDED/LIST-STATUS's
//! `LIST (…) ref (patterns) RETURN (…)` (RFC 5258, RFC 5819).
//!
//! MULTIAPPEND (RFC 3502) is split into its first message, which
//! imap-codec decodes as a plain APPEND, and the others.
//!
//! [`rewrite`] recognises them in a complete command (framed, literals
//! included) and returns what imap-codec should decode instead plus the
//! options it removed. Everything else is left to imap-codec untouched.

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;

/// An ESEARCH return option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchReturn {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (SEARCHRES, RFC 5182): keep the result for `$`.
    Save,
}

/// What `$` (the saved search result) is replaced with before imap-codec
/// decodes the command; the engine swaps it for the saved messages. Only
/// commands that contained `$` are treated so.
pub(crate) const SAVED_RESULT_MARK: u32 = u32::MAX;

/// Replaces each `$` token (outside quoted strings and literals) by
/// [`SAVED_RESULT_MARK`]; `None` when there is none.
pub(crate) fn replace_saved_result(command: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(command.len() + 16);
    let mut found = false;
    let mut i = 0;
    let mut quoted = false;
    while i < command.len() {
        let b = command[i];
        if quoted {
            out.push(b);
            if b == b'\\' {
                if let Some(&next) = command.get(i + 1) {
                    out.push(next);
                    i += 1;
                }
            } else if b == b'"' {
                quoted = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                quoted = true;
                out.push(b);
            }
            b'{' => {
                // Copy a literal announcement and its data untouched.
                let close = command[i..].iter().position(|&c| c == b'}').map(|p| p + i);
                let len = close.and_then(|c| {
                    std::str::from_utf8(&command[i + 1..c])
                        .ok()?
                        .trim_end_matches(['+', '-'])
                        .parse::<usize>()
                        .ok()
                });
                match (close, len) {
                    (Some(c), Some(len)) => {
                        let end = (c + 3).saturating_add(len).min(command.len());
                        out.extend_from_slice(&command[i..end]);
                        i = end;
                        continue;
                    }
                    _ => out.push(b),
                }
            }
            b'$' => {
                let before = i.checked_sub(1).map(|p| command[p]);
                let after = command.get(i + 1).copied();
                let token_start = matches!(before, Some(b' ' | b'(' | b','));
                let token_end = matches!(after, Some(b' ' | b')' | b',' | b'\r'));
                if token_start && token_end {
                    out.extend_from_slice(SAVED_RESULT_MARK.to_string().as_bytes());
                    found = true;
                } else {
                    out.push(b);
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    found.then_some(out)
}

/// What an extended LIST asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListExtended {
    /// The reference name (raw, modified UTF-7 or UTF-8).
    pub reference: String,
    /// The patterns.
    pub patterns: Vec<String>,
    /// Selection option SUBSCRIBED.
    pub subscribed: bool,
    /// Selection option SPECIAL-USE.
    pub special_use_only: bool,
    /// Return option SUBSCRIBED.
    pub return_subscribed: bool,
    /// Return option STATUS with its items (upper case).
    pub status: Option<Vec<String>>,
}

/// One further message of a MULTIAPPEND (RFC 3502).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendMessage {
    /// Its flags.
    pub flags: Vec<imap_codec::imap_types::flag::Flag<'static>>,
    /// Its INTERNALDATE, if given.
    pub date: Option<imap_codec::imap_types::datetime::DateTime>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The options taken out of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// The messages after the first of a MULTIAPPEND.
    MultiAppend(Vec<AppendMessage>),
    /// `SEARCH RETURN (…)`; empty means `ALL`.
    SearchReturn(Vec<SearchReturn>),
    /// An extended LIST, parsed whole.
    List(ListExtended),
    /// The command used `$`, now the number 4294967295; with the
    /// SEARCH RETURN options if it was also an ESEARCH.
    SavedResult(Option<Vec<SearchReturn>>),
}

/// A cursor over one command's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn space(&mut self) -> Option<()> {
        (self.peek()? == b' ').then(|| self.pos += 1)
    }

    fn atom(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b"(){\"\\".contains(&b) || b == 0x7f {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| std::str::from_utf8(&self.bytes[start..self.pos]).ok())
            .flatten()
    }

    /// A pattern or astring: atom (with `%` and `*`), quoted, or literal.
    fn string(&mut self) -> Option<String> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    let b = self.peek()?;
                    self.pos += 1;
                    match b {
                        b'"' => break,
                        b'\\' => {
                            out.push(self.peek()?);
                            self.pos += 1;
                        }
                        b'\r' | b'\n' => return None,
                        _ => out.push(b),
                    }
                }
                String::from_utf8(out).ok()
            }
            b'{' => {
                let close = self.bytes[self.pos..].iter().position(|&b| b == b'}')? + self.pos;
                let spec = std::str::from_utf8(&self.bytes[self.pos + 1..close]).ok()?;
                let len: usize = spec.trim_end_matches(['+', '-']).parse().ok()?;
                let start = close + 3;
                if self.bytes.get(close + 1..close + 3)? != b"\r\n" {
                    return None;
                }
                let data = self.bytes.get(start..start.checked_add(len)?)?;
                self.pos = start + len;
                String::from_utf8(data.to_vec()).ok()
            }
            _ => self.atom().map(str::to_owned),
        }
    }

    /// Steps over a literal without copying it (APPEND data may be large
    /// and need not be text).
    fn skip_literal(&mut self) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        let close = self.bytes[self.pos..].iter().position(|&b| b == b'}')? + self.pos;
        let spec = std::str::from_utf8(&self.bytes[self.pos + 1..close]).ok()?;
        let len: usize = spec.trim_end_matches(['+', '-']).parse().ok()?;
        if self.bytes.get(close + 1..close + 3)? != b"\r\n" {
            return None;
        }
        let end = (close + 3).checked_add(len)?;
        if end > self.bytes.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// A parenthesised list of atoms, with one level of nesting kept as
    /// `NAME (A B)` → ("NAME", [A, B]).
    fn options(&mut self) -> Option<Vec<(String, Vec<String>)>> {
        if self.peek()? != b'(' {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b')' => {
                    self.pos += 1;
                    return Some(out);
                }
                b' ' => self.pos += 1,
                b'(' => {
                    self.pos += 1;
                    let mut inner = Vec::new();
                    loop {
                        match self.peek()? {
                            b')' => {
                                self.pos += 1;
                                break;
                            }
                            b' ' => self.pos += 1,
                            _ => inner.push(self.atom()?.to_ascii_uppercase()),
                        }
                    }
                    out.last_mut()?.1 = inner;
                }
                _ => out.push((self.atom()?.to_ascii_uppercase(), Vec::new())),
            }
        }
    }

    fn at_end(&self) -> bool {
        &self.bytes[self.pos..] == b"\r\n"
    }
}

/// Recognises an extended SEARCH or LIST; returns the bytes for imap-codec
/// (or `None` when the extension is handled whole) and the options.
/// `None` for every other command, and for malformed extended forms (then
/// imap-codec reports the error).
pub(crate) fn rewrite(command: &[u8]) -> Option<(Option<Vec<u8>>, Extension)> {
    let mut c = Cursor {
        bytes: command,
        pos: 0,
    };
    let tag = c.atom()?;
    c.space()?;
    let mut name = c.atom()?.to_ascii_uppercase();
    let mut uid = false;
    if name == "UID" {
        c.space()?;
        name = c.atom()?.to_ascii_uppercase();
        uid = true;
    }
    match name.as_str() {
        "SEARCH" => {
            c.space()?;
            let at = c.pos;
            if !c.atom()?.eq_ignore_ascii_case("RETURN") {
                return None;
            }
            c.space()?;
            let options = c.options()?;
            let mut returns = Vec::new();
            for (option, _) in options {
                returns.push(match option.as_str() {
                    "MIN" => SearchReturn::Min,
                    "MAX" => SearchReturn::Max,
                    "ALL" => SearchReturn::All,
                    "COUNT" => SearchReturn::Count,
                    "SAVE" => SearchReturn::Save,
                    // Others: let imap-codec refuse.
                    _ => return None,
                });
            }
            let mut rest = Vec::with_capacity(command.len());
            rest.extend_from_slice(&command[..at]);
            let tail = &command[c.pos..];
            rest.extend_from_slice(tail.strip_prefix(b" ").unwrap_or(tail));
            let _ = uid;
            Some((Some(rest), Extension::SearchReturn(returns)))
        }
        "APPEND" if !uid => {
            c.space()?;
            c.string()?;
            let mut segments = Vec::new();
            loop {
                let start = c.pos;
                c.space()?;
                if c.peek()? == b'(' {
                    c.pos += c.bytes[c.pos..].iter().position(|&b| b == b')')? + 1;
                    c.space()?;
                }
                if c.peek()? == b'"' {
                    c.string()?;
                    c.space()?;
                }
                if c.peek()? == b'~' {
                    c.pos += 1;
                }
                c.skip_literal()?;
                segments.push(start..c.pos);
                if c.at_end() {
                    break;
                }
            }
            if segments.len() < 2 {
                return None;
            }
            let mut first = command[..segments[0].end].to_vec();
            first.extend_from_slice(b"\r\n");
            let mut more = Vec::new();
            for segment in &segments[1..] {
                let mut one = b"x APPEND x".to_vec();
                one.extend_from_slice(&command[segment.clone()]);
                one.extend_from_slice(b"\r\n");
                let (rest, parsed) = CommandCodec::default().decode(&one).ok()?;
                let CommandBody::Append {
                    flags,
                    date,
                    message,
                    ..
                } = parsed.body
                else {
                    return None;
                };
                if !rest.is_empty() {
                    return None;
                }
                let data = match &message {
                    LiteralOrLiteral8::Literal(l) => l.data().to_vec(),
                    LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
                };
                more.push(AppendMessage {
                    flags: flags.into_iter().map(IntoStatic::into_static).collect(),
                    date,
                    data,
                });
            }
            Some((Some(first), Extension::MultiAppend(more)))
        }
        "LIST" if !uid => {
            c.space()?;
            let mut list = ListExtended::default();
            let mut extended = false;
            if c.peek()? == b'(' {
                extended = true;
                for (option, _) in c.options()? {
                    match option.as_str() {
                        "SUBSCRIBED" => list.subscribed = true,
                        "SPECIAL-USE" => list.special_use_only = true,
                        "REMOTE" | "RECURSIVEMATCH" => {}
                        _ => return None,
                    }
                }
                c.space()?;
            }
            list.reference = c.string()?;
            c.space()?;
            if c.peek()? == b'(' {
                extended = true;
                c.pos += 1;
                loop {
                    match c.peek()? {
                        b')' => {
                            c.pos += 1;
                            break;
                        }
                        b' ' => c.pos += 1,
                        _ => list.patterns.push(c.string()?),
                    }
                }
            } else {
                list.patterns.push(c.string()?);
            }
            if !c.at_end() {
                c.space()?;
                if !c.atom()?.eq_ignore_ascii_case("RETURN") {
                    return None;
                }
                c.space()?;
                extended = true;
                for (option, items) in c.options()? {
                    match option.as_str() {
                        "SUBSCRIBED" => list.return_subscribed = true,
                        "CHILDREN" | "SPECIAL-USE" => {}
                        "STATUS" => list.status = Some(items),
                        _ => return None,
                    }
                }
            }
            if !c.at_end() || !extended {
                return None;
            }
            let _ = tag;
            Some((None, Extension::List(list)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_return_is_taken_out() {
        let (rest, ext) = rewrite(b"a UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n").unwrap();
        assert_eq!(rest.unwrap(), b"a UID SEARCH UNSEEN\r\n");
        assert_eq!(
            ext,
            Extension::SearchReturn(vec![SearchReturn::Min, SearchReturn::Count])
        );
        let (rest, ext) = rewrite(b"a search return () all\r\n").unwrap();
        assert_eq!(rest.unwrap(), b"a search all\r\n");
        assert_eq!(ext, Extension::SearchReturn(vec![]));
        assert!(rewrite(b"a SEARCH ALL\r\n").is_none());
        assert!(rewrite(b"a SEARCH RETURN (FOO) ALL\r\n").is_none());
    }

    #[test]
    fn multiappend_is_split_after_its_first_message() {
        let (first, ext) =
            rewrite(b"a APPEND INBOX (\\Seen) {3+}\r\n\xff\x00x {2}\r\nhi\r\n").unwrap();
        assert_eq!(
            first.unwrap(),
            b"a APPEND INBOX (\\Seen) {3+}\r\n\xff\x00x\r\n"
        );
        let Extension::MultiAppend(more) = ext else {
            panic!()
        };
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].data, b"hi");
        assert!(rewrite(b"a APPEND INBOX {2}\r\nhi\r\n").is_none());
        assert!(rewrite(b"a APPEND INBOX {99999999999999999999}\r\n").is_none());
    }

    #[test]
    fn saved_result_is_marked_outside_strings_and_literals() {
        let out = replace_saved_result(b"a UID FETCH $ (FLAGS)\r\n").unwrap();
        assert_eq!(out, b"a UID FETCH 4294967295 (FLAGS)\r\n");
        let out = replace_saved_result(b"a SEARCH SUBJECT \"$ 5\" {3}\r\n $ OR $ 1\r\n").unwrap();
        assert_eq!(
            out,
            b"a SEARCH SUBJECT \"$ 5\" {3}\r\n $ OR 4294967295 1\r\n"
        );
        assert!(replace_saved_result(b"a SEARCH SUBJECT $5\r\n").is_none());
        assert!(replace_saved_result(b"a NOOP\r\n").is_none());
    }

    #[test]
    fn random_input_never_panics() {
        const PIECES: &[&[u8]] = &[
            b"a ",
            b"UID ",
            b"SEARCH ",
            b"LIST ",
            b"APPEND ",
            b"RETURN ",
            b"(",
            b")",
            b"\"",
            b"\\",
            b"{3}\r\n",
            b"{99999999999999999999}\r\n",
            b"{2+}\r\n",
            b"$",
            b" $ ",
            b"SAVE",
            b"STATUS (MESSAGES)",
            b"\r\n",
            b"~",
            b"*",
            b"%",
            b"\xff",
            b"\0",
        ];
        let mut seed = 0x1234_5678_9abc_def1u64;
        for _ in 0..5000 {
            let mut input = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.extend_from_slice(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            let _ = rewrite(&input);
            let _ = replace_saved_result(&input);
        }
    }

    #[test]
    fn extended_list_is_parsed_whole() {
        let (rest, ext) = rewrite(
            b"a LIST (SUBSCRIBED) \"\" (\"INBOX\" {3}\r\nA/%) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
        )
        .unwrap();
        assert!(rest.is_none());
        let Extension::List(list) = ext else { panic!() };
        assert!(list.subscribed);
        assert_eq!(list.patterns, vec!["INBOX", "A/%"]);
        assert_eq!(list.status, Some(vec!["MESSAGES".into(), "UNSEEN".into()]));
        assert!(rewrite(b"a LIST \"\" *\r\n").is_none());
        assert!(rewrite(b"a LIST \"\" * RETURN (FOO)\r\n").is_none());
        assert!(rewrite(b"a LIST (\r\n").is_none());
    }
}
