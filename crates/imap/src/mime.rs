//! What FETCH and SEARCH need from a message's MIME structure: ENVELOPE,
//! BODY and BODYSTRUCTURE (encoded once and cached with the body), body
//! sections by part number (`BODY[1.2.MIME]`, `BODY[HEADER.FIELDS (…)]`),
//! and the text SEARCH looks in.
//!
//! Parsing is mail-parser's; this module only walks its parts and slices
//! the raw bytes, so that every section is returned exactly as stored.

use std::borrow::Cow;

use base64::Engine as _;
use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::proto::encode::{Bytes, nstring, string};

/// The encoded parse data cached once per body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// The ENVELOPE value, `(date subject …)`.
    pub(crate) envelope: Vec<u8>,
    /// The BODY value (no extension data).
    pub(crate) body: Vec<u8>,
    /// The BODYSTRUCTURE value.
    pub(crate) bodystructure: Vec<u8>,
}

const CACHE_MAGIC: &[u8] = b"imap1";

impl Summary {
    /// Computes the summary of a raw message.
    pub(crate) fn of(raw: &[u8]) -> Self {
        match MessageParser::default().parse(raw) {
            Some(message) => Self {
                envelope: envelope(raw, &message),
                body: structure(raw, &message, 0, false),
                bodystructure: structure(raw, &message, 0, true),
            },
            None => Self::empty(raw),
        }
    }

    /// A summary for bytes mail-parser cannot read at all: one text part.
    fn empty(raw: &[u8]) -> Self {
        let lines = raw.iter().filter(|&&b| b == b'\n').count();
        let body = format!(
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {} {lines})",
            raw.len()
        );
        Self {
            envelope: b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)".to_vec(),
            body: body.clone().into_bytes(),
            bodystructure: body.into_bytes(),
        }
    }

    /// The bytes stored with [`store::Store::set_body_cache`].
    pub(crate) fn to_cache(&self) -> Vec<u8> {
        let mut out = CACHE_MAGIC.to_vec();
        for field in [&self.envelope, &self.body, &self.bodystructure] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }

    /// Reads cached bytes back; `None` if they are from another format.
    pub(crate) fn from_cache(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes.strip_prefix(CACHE_MAGIC)?;
        let mut fields = Vec::with_capacity(3);
        for _ in 0..3 {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            fields.push(rest.get(4..4 + len)?.to_vec());
            rest = &rest[4 + len..];
        }
        let bodystructure = fields.pop()?;
        let body = fields.pop()?;
        let envelope = fields.pop()?;
        Some(Self {
            envelope,
            body,
            bodystructure,
        })
    }
}

/// Parses a raw message (for sections and SEARCH).
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// The raw, unfolded value of the first header `name` in a part.
fn raw_header(raw: &[u8], part: &MessagePart<'_>, base: usize, name: &str) -> Option<String> {
    let header = part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let start = base + header.offset_start as usize;
    let end = base + header.offset_end as usize;
    let value = raw.get(start..end)?;
    let text = String::from_utf8_lossy(value);
    let unfolded: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
    Some(unfolded.trim().to_owned())
}

/// Encodes a display name for ENVELOPE: as is when 7-bit, as an RFC 2047
/// encoded word otherwise (IMAP4rev1 strings are 7-bit).
fn display_name(name: &str) -> Vec<u8> {
    if name.is_ascii() {
        name.as_bytes().to_vec()
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(name)
        )
        .into_bytes()
    }
}

fn address_list(out: &mut Vec<u8>, address: Option<&Address<'_>>) {
    let Some(address) = address else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let mut any = false;
    let mut items = Vec::new();
    let push_addr = |items: &mut Vec<u8>, name: Option<&str>, addr: Option<&str>| {
        let addr = addr.unwrap_or_default();
        let (mailbox, host) = match addr.rsplit_once('@') {
            Some((m, h)) => (m, Some(h)),
            None => (addr, None),
        };
        items.push(b'(');
        nstring(items, name.map(display_name).as_deref());
        items.extend_from_slice(b" NIL ");
        string(items, mailbox.as_bytes());
        items.push(b' ');
        nstring(items, host.map(str::as_bytes));
        items.push(b')');
    };
    match address {
        Address::List(list) => {
            for a in list {
                any = true;
                push_addr(&mut items, a.name(), a.address());
            }
        }
        Address::Group(groups) => {
            for g in groups {
                any = true;
                match &g.name {
                    Some(name) => {
                        items.extend_from_slice(b"(NIL NIL ");
                        string(&mut items, name.as_bytes());
                        items.extend_from_slice(b" NIL)");
                        for a in &g.addresses {
                            push_addr(&mut items, a.name(), a.address());
                        }
                        items.extend_from_slice(b"(NIL NIL NIL NIL)");
                    }
                    None => {
                        for a in &g.addresses {
                            push_addr(&mut items, a.name(), a.address());
                        }
                    }
                }
            }
        }
    }
    if any {
        out.push(b'(');
        out.extend_from_slice(&items);
        out.push(b')');
    } else {
        out.extend_from_slice(b"NIL");
    }
}

/// The ENVELOPE of a (possibly nested) message. Offsets in nested
/// messages are into the top-level `raw`, as everywhere in this module.
fn envelope(raw: &[u8], message: &Message<'_>) -> Vec<u8> {
    let root = message.root_part();
    let text = |name: &str| raw_header(raw, root, 0, name);
    let mut out = b"(".to_vec();
    nstring(&mut out, text("Date").as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(&mut out, text("Subject").as_deref().map(str::as_bytes));
    let from = message.from();
    let sender = message.sender().or(from);
    let reply_to = message.reply_to().or(from);
    for list in [
        from,
        sender,
        reply_to,
        message.to(),
        message.cc(),
        message.bcc(),
    ] {
        out.push(b' ');
        address_list(&mut out, list);
    }
    out.push(b' ');
    nstring(&mut out, text("In-Reply-To").as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(&mut out, text("Message-ID").as_deref().map(str::as_bytes));
    out.push(b')');
    out
}

/// A parenthesised parameter list or `NIL`.
fn params(out: &mut Vec<u8>, attributes: &[(String, String)]) {
    if attributes.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, name.to_ascii_uppercase().as_bytes());
        out.push(b' ');
        string(out, value.as_bytes());
    }
    out.push(b')');
}

fn content_type(part: &MessagePart<'_>) -> (String, String, Vec<(String, String)>) {
    match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_uppercase(),
            ct.subtype().unwrap_or("octet-stream").to_ascii_uppercase(),
            ct.attributes()
                .unwrap_or_default()
                .iter()
                .map(|a| (a.name.to_string(), a.value.to_string()))
                .collect(),
        ),
        None => match &part.body {
            PartType::Message(_) => ("MESSAGE".into(), "RFC822".into(), Vec::new()),
            PartType::Multipart(_) => ("MULTIPART".into(), "MIXED".into(), Vec::new()),
            _ => (
                "TEXT".into(),
                "PLAIN".into(),
                vec![("CHARSET".into(), "US-ASCII".into())],
            ),
        },
    }
}

fn disposition(out: &mut Vec<u8>, part: &MessagePart<'_>) {
    match part.content_disposition() {
        Some(cd) => {
            out.push(b'(');
            string(out, cd.ctype().to_ascii_uppercase().as_bytes());
            out.push(b' ');
            let attrs: Vec<(String, String)> = cd
                .attributes()
                .unwrap_or_default()
                .iter()
                .map(|a| (a.name.to_string(), a.value.to_string()))
                .collect();
            params(out, &attrs);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// BODY (`extended == false`) or BODYSTRUCTURE of part `index` of
/// `message`.
fn structure(raw: &[u8], message: &Message<'_>, index: usize, extended: bool) -> Vec<u8> {
    let Some(part) = message.parts.get(index) else {
        return b"NIL".to_vec();
    };
    let (ctype, subtype, attributes) = content_type(part);
    let mut out = b"(".to_vec();
    if let PartType::Multipart(children) = &part.body {
        if children.is_empty() {
            out.extend_from_slice(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
        }
        for &child in children {
            out.extend_from_slice(&structure(raw, message, child as usize, extended));
        }
        out.push(b' ');
        string(&mut out, subtype.as_bytes());
        if extended {
            out.push(b' ');
            params(&mut out, &attributes);
            out.push(b' ');
            disposition(&mut out, part);
            out.extend_from_slice(b" NIL NIL");
        }
        out.push(b')');
        return out;
    }
    let body_start = part.offset_body as usize;
    let body_end = (part.offset_end as usize).max(body_start);
    let size = body_end - body_start;
    string(&mut out, ctype.as_bytes());
    out.push(b' ');
    string(&mut out, subtype.as_bytes());
    out.push(b' ');
    params(&mut out, &attributes);
    for name in ["Content-ID", "Content-Description"] {
        out.push(b' ');
        nstring(
            &mut out,
            raw_header(raw, part, 0, name).as_deref().map(str::as_bytes),
        );
    }
    out.push(b' ');
    let encoding = raw_header(raw, part, 0, "Content-Transfer-Encoding")
        .unwrap_or_else(|| "7BIT".into())
        .to_ascii_uppercase();
    string(&mut out, encoding.as_bytes());
    use std::fmt::Write as _;
    let _ = write!(Bytes(&mut out), " {size}");
    let lines = || {
        raw.get(body_start..body_end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
    };
    match &part.body {
        PartType::Message(nested) => {
            out.push(b' ');
            out.extend_from_slice(&envelope(raw, nested));
            out.push(b' ');
            out.extend_from_slice(&structure(raw, nested, 0, extended));
            let _ = write!(Bytes(&mut out), " {}", lines());
        }
        _ if ctype == "TEXT" => {
            let _ = write!(Bytes(&mut out), " {}", lines());
        }
        _ => {}
    }
    if extended {
        out.push(b' ');
        nstring(
            &mut out,
            raw_header(raw, part, 0, "Content-MD5")
                .as_deref()
                .map(str::as_bytes),
        );
        out.push(b' ');
        disposition(&mut out, part);
        out.push(b' ');
        nstring(
            &mut out,
            raw_header(raw, part, 0, "Content-Language")
                .as_deref()
                .map(str::as_bytes),
        );
        out.push(b' ');
        nstring(
            &mut out,
            raw_header(raw, part, 0, "Content-Location")
                .as_deref()
                .map(str::as_bytes),
        );
    }
    out.push(b')');
    out
}

/// What a section specifier asks for, after the part number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SectionText {
    /// `BODY[1.2]`: the part's body (a nested message: all of it).
    Body,
    /// `BODY[HEADER]` / `BODY[1.HEADER]`.
    Header,
    /// `BODY[HEADER.FIELDS (…)]`, or `.NOT` when `not`.
    Fields {
        /// The field names asked for.
        names: Vec<String>,
        /// Whether these are the fields to leave out.
        not: bool,
    },
    /// `BODY[TEXT]`.
    Text,
    /// `BODY[1.MIME]`.
    Mime,
}

/// Finds the part at `path` (1-based part numbers): the message whose
/// part it is, and its index.
fn resolve<'m, 'x>(message: &'m Message<'x>, path: &[u32]) -> Option<(&'m Message<'x>, usize)> {
    let mut current = message;
    let mut index = 0usize;
    let mut at_message_root = true;
    for &n in path {
        if !at_message_root && let PartType::Message(nested) = &current.parts.get(index)?.body {
            current = nested;
            index = 0;
            at_message_root = true;
        }
        match &current.parts.get(index)?.body {
            PartType::Multipart(children) => {
                index = *children.get((n as usize).checked_sub(1)?)? as usize;
                at_message_root = false;
            }
            _ if at_message_root && n == 1 => at_message_root = false,
            _ => return None,
        }
    }
    Some((current, index))
}

/// The header block of a message root (with its blank line) and its text.
fn header_and_text<'a>(raw: &'a [u8], message: &Message<'_>) -> Option<(&'a [u8], &'a [u8])> {
    let root = message.parts.first()?;
    let (start, body, end) = (
        root.offset_header as usize,
        root.offset_body as usize,
        root.offset_end as usize,
    );
    Some((
        raw.get(start..body.max(start))?,
        raw.get(body..end.max(body))?,
    ))
}

/// Where the header block ends (after the blank line), or the end.
pub(crate) fn header_end(raw: &[u8]) -> usize {
    if raw.starts_with(b"\r\n") {
        return 2;
    }
    if raw.starts_with(b"\n") {
        return 1;
    }
    for i in 0..raw.len() {
        if raw[i..].starts_with(b"\r\n\r\n") {
            return i + 4;
        }
        if raw[i..].starts_with(b"\n\n") {
            return i + 2;
        }
    }
    raw.len()
}

/// The header fields of a header block whose names are (or, with `not`,
/// are not) in `names`, followed by the blank line.
pub(crate) fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name);
            let listed = names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name.trim_end()));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes of a body section, or `None` if the part does not exist.
pub(crate) fn section<'a>(
    raw: &'a [u8],
    message: &Message<'_>,
    path: &[u32],
    text: &SectionText,
) -> Option<Cow<'a, [u8]>> {
    let (owner, index) = if path.is_empty() {
        (message, 0)
    } else {
        resolve(message, path)?
    };
    let part = owner.parts.get(index)?;
    // HEADER and TEXT of a part number apply to its nested message.
    let inner = if path.is_empty() {
        Some(owner)
    } else {
        match &part.body {
            PartType::Message(nested) => Some(nested),
            _ => None,
        }
    };
    let slice = |a: u32, b: u32| raw.get(a as usize..(b as usize).max(a as usize));
    Some(match text {
        SectionText::Body => Cow::Borrowed(slice(part.offset_body, part.offset_end)?),
        SectionText::Mime => Cow::Borrowed(slice(part.offset_header, part.offset_body)?),
        SectionText::Header => Cow::Borrowed(header_and_text(raw, inner?)?.0),
        SectionText::Text => Cow::Borrowed(header_and_text(raw, inner?)?.1),
        SectionText::Fields { names, not } => {
            Cow::Owned(header_fields(header_and_text(raw, inner?)?.0, names, *not))
        }
    })
}

/// Why BINARY cannot return a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryError {
    /// No such part, or a multipart.
    NoPart,
    /// A Content-Transfer-Encoding this server cannot decode.
    UnknownEncoding,
}

/// The content of a leaf part with only its Content-Transfer-Encoding
/// undone (RFC 3516: no charset conversion).
pub(crate) fn binary<'a>(
    raw: &'a [u8],
    message: &Message<'_>,
    path: &[u32],
) -> Result<Cow<'a, [u8]>, BinaryError> {
    let (owner, index) = if path.is_empty() {
        (message, 0)
    } else {
        resolve(message, path).ok_or(BinaryError::NoPart)?
    };
    let part = owner.parts.get(index).ok_or(BinaryError::NoPart)?;
    if matches!(part.body, PartType::Multipart(_)) {
        return Err(BinaryError::NoPart);
    }
    let body = raw
        .get(part.offset_body as usize..(part.offset_end as usize).max(part.offset_body as usize))
        .ok_or(BinaryError::NoPart)?;
    let encoding = raw_header(raw, part, 0, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Cow::Borrowed(body)),
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_ascii_end())
                })
                .map(Cow::Owned)
                .map_err(|_| BinaryError::UnknownEncoding)
        }
        "quoted-printable" => Ok(Cow::Owned(quoted_printable(body))),
        _ => Err(BinaryError::UnknownEncoding),
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7), leniently: a malformed escape
/// is kept as it is.
fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (input.get(i + 1), input.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The decoded text of every leaf text part, for SEARCH BODY.
pub(crate) fn body_text(message: &Message<'_>) -> String {
    let mut out = String::new();
    for part in &message.parts {
        match &part.body {
            PartType::Text(t) | PartType::Html(t) => {
                out.push_str(t);
                out.push('\n');
            }
            PartType::Message(nested) => out.push_str(&body_text(nested)),
            _ => {}
        }
    }
    out
}

/// The decoded header values named `name` of the top-level header, for
/// SEARCH FROM/TO/SUBJECT/HEADER.
pub(crate) fn header_text(raw: &[u8], message: &Message<'_>, name: &str) -> Vec<String> {
    let root = message.root_part();
    root.headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .map(|h| {
            let decoded = match &h.value {
                mail_parser::HeaderValue::Text(t) => Some(t.to_string()),
                mail_parser::HeaderValue::TextList(l) => Some(l.join(" ")),
                mail_parser::HeaderValue::Address(a) => Some(
                    a.iter()
                        .map(|x| {
                            format!(
                                "{} <{}>",
                                x.name().unwrap_or_default(),
                                x.address().unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                _ => None,
            };
            let raw_value = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            match decoded {
                Some(d) => format!("{d} {raw_value}"),
                None => raw_value,
            }
        })
        .collect()
}

/// The `Date:` of a message as days since the epoch (SEARCH SENTBEFORE …).
pub(crate) fn sent_day(message: &Message<'_>) -> Option<i64> {
    let date = message.date()?;
    let ts = date.to_timestamp();
    Some(ts.div_euclid(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"From: Eric Brown <eric@a.test>\r\n\
To: x@b.test, \"Zo\xc3\xab\" <zoe@b.test>\r\n\
Subject: hello\r\n\
Message-ID: <1@a.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Body one.\r\n\
--XX\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: i@c.test\r\n\
\r\n\
Inner body.\r\n\
--XX--\r\n";

    #[test]
    fn sections_slice_the_raw_message() {
        let m = parse(NESTED).unwrap();
        assert_eq!(
            section(NESTED, &m, &[1], &SectionText::Body)
                .unwrap()
                .as_ref(),
            b"Body one."
        );
        assert_eq!(
            section(NESTED, &m, &[1], &SectionText::Mime)
                .unwrap()
                .as_ref(),
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        assert_eq!(
            section(NESTED, &m, &[2], &SectionText::Header)
                .unwrap()
                .as_ref(),
            b"Subject: inner\r\nFrom: i@c.test\r\n\r\n"
        );
        assert_eq!(
            section(NESTED, &m, &[2], &SectionText::Text)
                .unwrap()
                .as_ref(),
            b"Inner body."
        );
        assert_eq!(
            section(NESTED, &m, &[2, 1], &SectionText::Body)
                .unwrap()
                .as_ref(),
            b"Inner body."
        );
        assert!(section(NESTED, &m, &[3], &SectionText::Body).is_none());
        assert!(section(NESTED, &m, &[1, 1], &SectionText::Body).is_none());
        let fields = SectionText::Fields {
            names: vec!["subject".into(), "FROM".into()],
            not: false,
        };
        assert_eq!(
            section(NESTED, &m, &[], &fields).unwrap().as_ref(),
            b"From: Eric Brown <eric@a.test>\r\nSubject: hello\r\n\r\n"
        );
    }

    #[test]
    fn binary_undoes_only_the_transfer_encoding() {
        let raw = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=E9 =\r\nend\r\n--B\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\nAw==\r\n--B\r\n\
Content-Transfer-Encoding: x-rot13\r\n\r\nabc\r\n--B--\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(binary(raw, &m, &[1]).unwrap().as_ref(), b"caf\xe9 end");
        assert_eq!(binary(raw, &m, &[2]).unwrap().as_ref(), b"\x00\x01\x02\x03");
        assert_eq!(binary(raw, &m, &[3]), Err(BinaryError::UnknownEncoding));
        assert_eq!(binary(raw, &m, &[]), Err(BinaryError::NoPart));
    }

    #[test]
    fn envelope_and_structure() {
        let s = Summary::of(NESTED);
        let env = String::from_utf8(s.envelope.clone()).unwrap();
        assert!(
            env.starts_with("(NIL \"hello\" ((\"Eric Brown\" NIL \"eric\" \"a.test\"))"),
            "{env}"
        );
        assert!(env.contains("=?utf-8?b?"), "{env}");
        assert!(env.ends_with(" NIL \"<1@a.test>\")"), "{env}");
        let bs = String::from_utf8(s.bodystructure.clone()).unwrap();
        assert!(
            bs.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 0"),
            "{bs}"
        );
        assert!(bs.contains("\"MESSAGE\" \"RFC822\""), "{bs}");
        assert!(bs.contains(" \"MIXED\" (\"BOUNDARY\" \"XX\")"), "{bs}");
        assert_eq!(Summary::from_cache(&s.to_cache()).unwrap(), s);
        assert!(Summary::from_cache(b"junk").is_none());
    }
}
