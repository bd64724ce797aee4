//! The bilingual notice added to mail leaving through the service. The
//! footer goes into the first `text/plain` and the first `text/html` body
//! part, wherever they sit in `multipart/alternative`, `mixed` or nested
//! structures; never into attachments (a `Content-Disposition: attachment`
//! or a file name), never into forwarded messages (`message/rfc822`), and
//! never into signed or encrypted parts (`multipart/signed`,
//! `multipart/encrypted`, `application/pkcs7-mime`), whose signatures it
//! would break.
//!
//! Only the bodies of the parts it changes are rewritten: mail-parser
//! locates them, each is decoded from its transfer encoding, the notice is
//! added in the part's own charset, and the body is encoded again with the
//! same `Content-Transfer-Encoding` (base64 by mail-builder's encoder;
//! quoted-printable by an RFC 2045 encoder here that keeps lines within 76
//! characters). Every other
//! byte — headers, boundaries, attachments — is copied unchanged. An
//! `X-Ward-Footer: added` header marks the message, so the footer is added
//! once only; a message whose text already ends with the notice is also
//! left alone.
//!
//! Charsets: the notice is added as bytes of the part's charset. UTF-8 takes
//! any text; ISO-8859-1 and Windows-1252 take Latin-1; other ASCII-compatible
//! charsets take ASCII, and characters they cannot hold become `?`. HTML
//! parts get numeric character references, which every charset can hold.
//! UTF-16 and UTF-32 parts are skipped. In `7bit` parts non-ASCII characters
//! of plain text become `?` (the default notice is ASCII).

use std::collections::HashSet;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, MessageParser, MessagePart, MimeHeaders, PartType};

/// The header that marks a message as carrying the footer.
pub const FOOTER_MARKER_HEADER: &str = "X-Ward-Footer";

/// The English line of seed 001's notice.
pub const DEFAULT_ENGLISH: &str =
    "*** This email has been transmitted via the Criminal Justice Secure eMail service. ***";
/// The Welsh line of seed 001's notice.
pub const DEFAULT_WELSH: &str =
    "*** Anfonwyd y neges ebost hon drwy wasanaeth ebost Diogel Cyfiawnder Troseddol ***";

/// The notice: an English line and a Welsh line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    english: String,
    welsh: String,
}

impl Default for Footer {
    /// Seed 001's notice.
    fn default() -> Self {
        Self::new(DEFAULT_ENGLISH, DEFAULT_WELSH)
    }
}

/// What [`Footer::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FooterOutcome {
    /// The footer was added; here is the new message.
    Added(Vec<u8>),
    /// The message is to be sent as it is.
    Unchanged(Unchanged),
}

/// Why a message was left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// It already carries the footer.
    AlreadyFootered,
    /// Its only text is inside signed or encrypted parts.
    SignedOrEncrypted,
    /// It has no text or HTML body part the footer could go into.
    NoTextBody,
    /// It could not be parsed as a message.
    Unparseable,
}

impl Footer {
    /// A notice with this text; each line should be a single line.
    pub fn new(english: impl Into<String>, welsh: impl Into<String>) -> Self {
        let one_line = |s: String| s.replace(['\r', '\n'], " ");
        Self {
            english: one_line(english.into()),
            welsh: one_line(welsh.into()),
        }
    }

    /// The English line.
    pub fn english(&self) -> &str {
        &self.english
    }

    /// The Welsh line.
    pub fn welsh(&self) -> &str {
        &self.welsh
    }

    /// Adds the footer to a raw RFC 5322 message.
    pub fn apply(&self, message: &[u8]) -> FooterOutcome {
        let Some(parsed) = parse_guarded(message) else {
            return FooterOutcome::Unchanged(Unchanged::Unparseable);
        };
        if parsed
            .root_part()
            .headers()
            .iter()
            .any(|h| h.name().eq_ignore_ascii_case(FOOTER_MARKER_HEADER))
        {
            return FooterOutcome::Unchanged(Unchanged::AlreadyFootered);
        }
        let mut walk = Walk::default();
        walk.visit(&parsed.parts, 0, 0);
        let targets: Vec<(usize, BodyKind)> =
            [walk.plain, walk.html].into_iter().flatten().collect();
        if targets.is_empty() {
            return FooterOutcome::Unchanged(if walk.saw_protected {
                Unchanged::SignedOrEncrypted
            } else {
                Unchanged::NoTextBody
            });
        }
        if targets
            .iter()
            .any(|&(id, kind)| self.already_in(&parsed.parts[id], kind))
        {
            return FooterOutcome::Unchanged(Unchanged::AlreadyFootered);
        }
        let nl: &[u8] = if message.windows(2).any(|w| w == b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        let mut edits: Vec<(usize, usize, Vec<u8>)> = targets
            .iter()
            .filter_map(|&(id, kind)| self.rewrite_part(message, &parsed.parts[id], kind, nl))
            .collect();
        if edits.is_empty() {
            return FooterOutcome::Unchanged(Unchanged::NoTextBody);
        }
        edits.sort_by_key(|e| e.0);
        let mut out = Vec::with_capacity(message.len() + 512);
        out.extend_from_slice(FOOTER_MARKER_HEADER.as_bytes());
        out.extend_from_slice(b": added");
        out.extend_from_slice(nl);
        let mut copied = 0;
        for (start, end, body) in edits {
            out.extend_from_slice(&message[copied..start]);
            out.extend_from_slice(&body);
            copied = end;
        }
        out.extend_from_slice(&message[copied..]);
        FooterOutcome::Added(out)
    }

    /// True when the part's text already ends with the notice (plain) or
    /// holds it (HTML).
    fn already_in(&self, part: &MessagePart<'_>, kind: BodyKind) -> bool {
        let Some(text) = part.text_contents() else {
            return false;
        };
        match kind {
            BodyKind::Plain => {
                let text = text.trim_end();
                text.ends_with(self.welsh.trim()) && {
                    let tail_start = text
                        .len()
                        .saturating_sub(self.english.len() + self.welsh.len() + 16);
                    let tail_start = (0..=tail_start)
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(0);
                    text[tail_start..].contains(self.english.trim())
                }
            }
            BodyKind::Html => {
                text.contains("class=\"ward-footer\"")
                    || (text.contains(&html_escape(&self.english))
                        && text.contains(&html_escape(&self.welsh)))
            }
        }
    }

    /// The replacement `(start, end, bytes)` for one part's body, or `None`
    /// when the part cannot take the footer safely.
    fn rewrite_part(
        &self,
        message: &[u8],
        part: &MessagePart<'_>,
        kind: BodyKind,
        nl: &[u8],
    ) -> Option<(usize, usize, Vec<u8>)> {
        if part.is_encoding_problem {
            return None;
        }
        let (start, end) = (part.offset_body as usize, part.offset_end as usize);
        let raw = message.get(start..end)?;
        let charset = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .unwrap_or("us-ascii")
            .to_ascii_lowercase();
        if charset.starts_with("utf-16")
            || charset.starts_with("utf-32")
            || charset.starts_with("ucs")
        {
            return None;
        }
        let cte = part
            .content_transfer_encoding()
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        let seven_bit = part.encoding == Encoding::None && cte != "8bit" && cte != "binary";
        let decoded = match part.encoding {
            Encoding::None => raw.to_vec(),
            Encoding::QuotedPrintable => quoted_printable_decode(raw)?,
            Encoding::Base64 => base64_decode(raw)?,
        };
        let nl: &[u8] = if raw.windows(2).any(|w| w == b"\r\n") {
            b"\r\n"
        } else if raw.contains(&b'\n') {
            b"\n"
        } else {
            nl
        };
        let body = match kind {
            BodyKind::Plain => self.plain_body(&decoded, &charset, seven_bit, nl),
            BodyKind::Html => self.html_body(&decoded, nl),
        };
        let encoded = match part.encoding {
            Encoding::None => body,
            Encoding::QuotedPrintable => {
                match_trailing_newline(quoted_printable(&body, nl), raw, nl)
            }
            Encoding::Base64 => {
                let mut out = Vec::new();
                mail_builder::encoders::base64::base64_encode_mime(&body, &mut out, false).ok()?;
                match_trailing_newline(with_line_ending(out, nl), raw, nl)
            }
        };
        Some((start, end, encoded))
    }

    fn plain_body(&self, decoded: &[u8], charset: &str, seven_bit: bool, nl: &[u8]) -> Vec<u8> {
        let ends_with_newline = decoded.ends_with(b"\n");
        let mut body = decoded.to_vec();
        body.extend_from_slice(nl);
        if !ends_with_newline {
            body.extend_from_slice(nl);
        }
        body.extend_from_slice(&encode_text(&self.english, charset, seven_bit));
        body.extend_from_slice(nl);
        body.extend_from_slice(&encode_text(&self.welsh, charset, seven_bit));
        if ends_with_newline {
            body.extend_from_slice(nl);
        }
        body
    }

    fn html_body(&self, decoded: &[u8], nl: &[u8]) -> Vec<u8> {
        let nl_str = String::from_utf8_lossy(nl);
        let block = format!(
            "<div class=\"ward-footer\">{nl_str}<p>{}</p>{nl_str}<p>{}</p>{nl_str}</div>{nl_str}",
            html_escape(&self.english),
            html_escape(&self.welsh)
        );
        let at =
            rfind_ignore_case(decoded, b"</body").or_else(|| rfind_ignore_case(decoded, b"</html"));
        let mut body = Vec::with_capacity(decoded.len() + block.len() + 2);
        match at {
            Some(at) => {
                body.extend_from_slice(&decoded[..at]);
                body.extend_from_slice(block.as_bytes());
                body.extend_from_slice(&decoded[at..]);
            }
            None => {
                let ends_with_newline = decoded.ends_with(b"\n");
                body.extend_from_slice(decoded);
                if !ends_with_newline {
                    body.extend_from_slice(nl);
                }
                body.extend_from_slice(block.as_bytes());
                if !ends_with_newline {
                    // Keep the part's "no final line break" shape.
                    body.truncate(body.len() - nl.len());
                }
            }
        }
        body
    }
}

/// Parses with mail-parser, treating a panic inside it as "unparseable".
///
/// mail-parser 0.11 has arithmetic that overflows on some malformed input
/// (a quoted-printable part ending in `=` right before its boundary); with
/// overflow checks on (debug builds) that panics. A message must never crash
/// the caller, so such input is reported as unparseable instead.
fn parse_guarded(message: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(message))
        .ok()
        .flatten()
}

/// Which body a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Plain,
    Html,
}

/// The first plain and HTML body parts, found depth first.
#[derive(Default)]
struct Walk {
    plain: Option<(usize, BodyKind)>,
    html: Option<(usize, BodyKind)>,
    saw_protected: bool,
    /// Parts already visited. mail-parser can list a part among its own
    /// children (a cycle) or under two parents on malformed input; visiting
    /// each part once keeps the walk linear instead of exponential.
    visited: HashSet<usize>,
}

impl Walk {
    fn visit(&mut self, parts: &[MessagePart<'_>], id: usize, depth: usize) {
        let Some(part) = parts.get(id) else { return };
        if depth > 50 || !self.visited.insert(id) {
            return;
        }
        let (ctype, subtype) = part
            .content_type()
            .map(|ct| {
                (
                    ct.ctype().to_ascii_lowercase(),
                    ct.subtype().unwrap_or("").to_ascii_lowercase(),
                )
            })
            .unwrap_or_else(|| ("text".into(), "plain".into()));
        let protected = matches!(
            (ctype.as_str(), subtype.as_str()),
            ("multipart", "signed" | "encrypted")
                | (
                    "application",
                    "pkcs7-mime" | "x-pkcs7-mime" | "pgp-encrypted"
                )
        );
        if protected {
            self.saw_protected = true;
            return;
        }
        match &part.body {
            PartType::Multipart(children) => {
                for &child in children {
                    self.visit(parts, child as usize, depth + 1);
                }
            }
            PartType::Text(_) | PartType::Html(_) if !is_attachment(part) => {
                match (ctype.as_str(), subtype.as_str()) {
                    ("text", "plain") if self.plain.is_none() => {
                        self.plain = Some((id, BodyKind::Plain));
                    }
                    ("text", "html") if self.html.is_none() => {
                        self.html = Some((id, BodyKind::Html));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|cd| cd.is_attachment())
        || part.attachment_name().is_some()
}

/// The notice in a charset's bytes; unrepresentable characters become `?`.
fn encode_text(text: &str, charset: &str, seven_bit: bool) -> Vec<u8> {
    let latin1 = matches!(
        charset,
        "iso-8859-1" | "iso8859-1" | "latin1" | "l1" | "windows-1252" | "cp1252"
    );
    let utf8 = matches!(charset, "utf-8" | "utf8");
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let code = u32::from(c);
        if c.is_ascii() {
            out.push(code as u8);
        } else if seven_bit {
            out.push(b'?');
        } else if utf8 {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        } else if latin1 && (0xA0..=0xFF).contains(&code) {
            out.push(code as u8);
        } else {
            out.push(b'?');
        }
    }
    out
}

/// HTML text with markup characters escaped and non-ASCII as numeric
/// character references, so it fits any ASCII-compatible charset.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("&#{};", u32::from(c))),
        }
    }
    out
}

fn rfind_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|w| w.eq_ignore_ascii_case(needle))
}

/// RFC 2045 §6.7 quoted-printable for a text body: line breaks (CRLF or LF)
/// become `nl`, encoded lines are at most 76 characters including the `=` of
/// a soft line break, and trailing white space is encoded.
fn quoted_printable(body: &[u8], nl: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal =
                matches!(b, b'!'..=b'<' | b'>'..=b'~') || (matches!(b, b' ' | b'\t') && !last);
            let encoded = [b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
            let token: &[u8] = if literal {
                std::slice::from_ref(&b)
            } else {
                &encoded
            };
            // Leave room for a soft break's `=` unless this token ends the line.
            let limit = if last { 76 } else { 75 };
            if width + token.len() > limit {
                out.push(b'=');
                out.extend_from_slice(nl);
                width = 0;
            }
            out.extend_from_slice(token);
            width += token.len();
        }
        if index + 1 < lines.len() {
            out.extend_from_slice(nl);
        }
    }
    out
}

/// Encoders write CRLF; a message written with LF keeps LF.
fn with_line_ending(encoded: Vec<u8>, nl: &[u8]) -> Vec<u8> {
    if nl == b"\r\n" {
        return encoded;
    }
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        if encoded[i] == b'\r' && encoded.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(encoded[i]);
        i += 1;
    }
    out
}

/// Gives `encoded` a final line break exactly when `raw` had one, so the
/// boundary that follows stays where it was.
fn match_trailing_newline(mut encoded: Vec<u8>, raw: &[u8], nl: &[u8]) -> Vec<u8> {
    while encoded.ends_with(b"\n") {
        encoded.pop();
        if encoded.ends_with(b"\r") {
            encoded.pop();
        }
    }
    if raw.ends_with(b"\n") {
        encoded.extend_from_slice(nl);
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quoted_printable_keeps_lines_short_and_encodes_trailing_space() {
        let encoded =
            quoted_printable(&[b"a".repeat(200), b" \r\nx=\t".to_vec()].concat(), b"\r\n");
        let text = String::from_utf8(encoded.clone()).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text}");
        assert!(text.ends_with("=20\r\nx=3D=09"), "{text}");
    }

    #[test]
    fn unparseable_or_empty_input_is_left_alone() {
        let footer = Footer::default();
        assert!(matches!(footer.apply(b""), FooterOutcome::Unchanged(_)));
    }

    #[test]
    fn regression_mail_parser_qp_soft_break_before_boundary() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n--b\r\n";
        let _ = Footer::default().apply(message);
    }

    proptest! {
        #[test]
        fn quoted_printable_round_trips(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            // Line breaks are canonical CRLF in a text body; bare CR or LF
            // would not survive any encoder.
            let body: Vec<u8> = body.into_iter().filter(|&b| b != b'\r' && b != b'\n').collect();
            let encoded = quoted_printable(&body, b"\r\n");
            prop_assert!(encoded.split(|&b| b == b'\n').all(|l| l.len() <= 77));
            prop_assert_eq!(quoted_printable_decode(&encoded).unwrap(), body);
        }

        #[test]
        fn apply_never_panics(message in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Footer::default().apply(&message);
        }

        #[test]
        fn apply_never_panics_on_mime_like_text(
            body in "(Content-Type: (text/plain|text/html|multipart/mixed; boundary=b)\r\n|Content-Transfer-Encoding: (base64|quoted-printable)\r\n|\r\n|--b\r\n|--b--\r\n|[a-zA-Z=<>/ ]{0,20}\r\n){0,20}"
        ) {
            let _ = Footer::default().apply(body.as_bytes());
        }
    }
}
