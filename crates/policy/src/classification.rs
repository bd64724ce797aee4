//! Protective markings. A message's label is read from three places: a
//! subject prefix (`[OFFICIAL-SENSITIVE] …`, `OFFICIAL-SENSITIVE: …`,
//! `RESTRICTED: …` and the common variants, after any `Re:`/`Fwd:`), the
//! `X-Security-Classification` header, and the RFC 7444 `SIO-Label` header
//! (its `marking` parameter or the classification text of an XML label). The
//! highest marking found wins. RESTRICTED, the pre-2014 marking, maps to
//! OFFICIAL-SENSITIVE. SECRET and TOP SECRET are refused: this service does
//! not carry them. Unlabelled mail is OFFICIAL, and the caller adds
//! [`Label::header_to_add`] (`X-Security-Classification: OFFICIAL`) to say so.
//!
//! Unknown markings (e.g. `PROTECT`, `CONFIDENTIAL`) are not guessed at: a
//! source that carries one counts as unlabelled. Bare words in a subject
//! (`Secret Santa`) are not labels: SECRET, TOP SECRET and OFFICIAL count
//! only in brackets or before a colon.

use std::fmt;

use mail_parser::MessageParser;

use crate::error::PolicyError;

/// The header that carries, and that Ward adds for, the classification.
pub const CLASSIFICATION_HEADER: &str = "X-Security-Classification";

/// The classifications this service carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Classification {
    /// OFFICIAL: the default for unlabelled mail.
    Official,
    /// OFFICIAL-SENSITIVE (formerly RESTRICTED).
    OfficialSensitive,
}

impl Classification {
    /// The marking as written in headers: `OFFICIAL` or `OFFICIAL-SENSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Official => "OFFICIAL",
            Classification::OfficialSensitive => "OFFICIAL-SENSITIVE",
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any marking a message may carry, including those refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marking {
    /// OFFICIAL.
    Official,
    /// OFFICIAL-SENSITIVE or RESTRICTED.
    OfficialSensitive,
    /// SECRET: refused.
    Secret,
    /// TOP SECRET: refused.
    TopSecret,
}

impl fmt::Display for Marking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Marking::Official => "OFFICIAL",
            Marking::OfficialSensitive => "OFFICIAL-SENSITIVE",
            Marking::Secret => "SECRET",
            Marking::TopSecret => "TOP SECRET",
        })
    }
}

impl TryFrom<Marking> for Classification {
    type Error = Marking;
    /// The classification for a carried marking; the marking back for SECRET
    /// and TOP SECRET.
    fn try_from(marking: Marking) -> Result<Self, Marking> {
        match marking {
            Marking::Official => Ok(Classification::Official),
            Marking::OfficialSensitive => Ok(Classification::OfficialSensitive),
            refused => Err(refused),
        }
    }
}

/// Where a label was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelSource {
    /// A prefix of the `Subject`.
    Subject,
    /// The `X-Security-Classification` header.
    ClassificationHeader,
    /// The RFC 7444 `SIO-Label` header.
    SioLabel,
    /// Nowhere: the mail is OFFICIAL by default.
    Unlabelled,
}

impl fmt::Display for LabelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabelSource::Subject => "subject",
            LabelSource::ClassificationHeader => "X-Security-Classification header",
            LabelSource::SioLabel => "SIO-Label header",
            LabelSource::Unlabelled => "absence of a label",
        })
    }
}

/// A message's classification and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// The classification the message travels under.
    pub classification: Classification,
    /// Where it was read.
    pub source: LabelSource,
}

impl Label {
    /// The header line (with CRLF) the caller prepends to unlabelled mail,
    /// `X-Security-Classification: OFFICIAL`; `None` for labelled mail.
    pub fn header_to_add(&self) -> Option<String> {
        (self.source == LabelSource::Unlabelled)
            .then(|| format!("{CLASSIFICATION_HEADER}: {}\r\n", self.classification))
    }
}

/// Reads the label of a raw RFC 5322 message.
///
/// # Errors
///
/// [`PolicyError::Classified`] when any source marks it SECRET or TOP SECRET.
pub fn read_label(message: &[u8]) -> Result<Label, PolicyError> {
    let mut found: Vec<(Marking, LabelSource)> = Vec::new();
    if let Some(parsed) = MessageParser::default().parse_headers(message) {
        if let Some(marking) = parsed.subject().and_then(subject_marking) {
            found.push((marking, LabelSource::Subject));
        }
        for header in parsed.headers() {
            let raw = message
                .get(header.offset_start() as usize..header.offset_end() as usize)
                .map(|raw| unfold(&String::from_utf8_lossy(raw)))
                .unwrap_or_default();
            let name = header.name();
            if name.eq_ignore_ascii_case(CLASSIFICATION_HEADER) {
                if let Some(marking) = header_marking(&raw) {
                    found.push((marking, LabelSource::ClassificationHeader));
                }
            } else if name.eq_ignore_ascii_case("SIO-Label")
                && let Some(marking) = sio_label_marking(&raw)
            {
                found.push((marking, LabelSource::SioLabel));
            }
        }
    }
    // Highest marking wins; on a tie the first source (subject) is reported.
    let Some(&(marking, source)) = found.iter().rev().max_by_key(|(marking, _)| *marking) else {
        return Ok(Label {
            classification: Classification::Official,
            source: LabelSource::Unlabelled,
        });
    };
    match Classification::try_from(marking) {
        Ok(classification) => Ok(Label {
            classification,
            source,
        }),
        Err(marking) => Err(PolicyError::Classified {
            marking,
            found_in: source,
        }),
    }
}

fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "").replace('\n', "").trim().to_owned()
}

/// Upper case, `-`, `_` and `/` as spaces, runs of spaces collapsed.
fn normalise(text: &str) -> String {
    text.to_uppercase()
        .replace(['-', '_', '/', '\u{2013}'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How strictly a label text must match.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// In a header: any trailing descriptors (`OFFICIAL-SENSITIVE PERSONAL`).
    Header,
    /// In a subject: SECRET, TOP SECRET must stand alone (or `UK EYES ONLY`).
    Subject,
}

fn marking_of(text: &str, strictness: Strictness) -> Option<Marking> {
    let norm = normalise(text);
    let norm = norm.strip_prefix("UK ").unwrap_or(&norm);
    let table = [
        ("TOP SECRET", Marking::TopSecret),
        ("SECRET", Marking::Secret),
        ("OFFICIAL SENSITIVE", Marking::OfficialSensitive),
        ("OFFICIALSENSITIVE", Marking::OfficialSensitive),
        ("RESTRICTED", Marking::OfficialSensitive),
        ("OFFICIAL", Marking::Official),
    ];
    for (word, marking) in table {
        let Some(rest) = norm.strip_prefix(word) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            continue;
        }
        let descriptor = rest.trim();
        let strict = strictness == Strictness::Subject
            && matches!(marking, Marking::Secret | Marking::TopSecret);
        if !strict || descriptor.is_empty() || descriptor == "UK EYES ONLY" {
            return Some(marking);
        }
    }
    None
}

fn header_marking(value: &str) -> Option<Marking> {
    marking_of(value, Strictness::Header)
}

/// The marking a subject line starts with, after reply and forward prefixes.
fn subject_marking(subject: &str) -> Option<Marking> {
    let mut s = subject.trim_start();
    'strip: loop {
        for prefix in ["re:", "fw:", "fwd:", "aw:", "sv:", "wg:", "tr:"] {
            if s.len() >= prefix.len()
                && s.is_char_boundary(prefix.len())
                && s[..prefix.len()].eq_ignore_ascii_case(prefix)
            {
                s = s[prefix.len()..].trim_start();
                continue 'strip;
            }
        }
        break;
    }
    // Up to three bracketed tags: `[EXTERNAL] [OFFICIAL-SENSITIVE] …`.
    let mut rest = s;
    for _ in 0..3 {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('(') => ')',
            _ => break,
        };
        let Some(end) = rest.find(close) else { break };
        if let Some(marking) = marking_of(&rest[1..end], Strictness::Subject) {
            return Some(marking);
        }
        rest = rest[end + 1..].trim_start();
    }
    if let Some(colon) = s.find(':').filter(|&c| c <= 40)
        && let Some(marking) = marking_of(&s[..colon], Strictness::Subject)
    {
        return Some(marking);
    }
    // Without brackets or colon only the unmistakable compound forms count.
    let norm = normalise(s);
    ["OFFICIAL SENSITIVE", "RESTRICTED"]
        .iter()
        .any(|w| norm == *w || norm.starts_with(&format!("{w} ")))
        .then_some(Marking::OfficialSensitive)
}

/// The marking an RFC 7444 `SIO-Label` carries: its `marking` parameter, or
/// else the highest classification word in an XML label.
fn sio_label_marking(value: &str) -> Option<Marking> {
    let value = value.replace("\\\"", "\"");
    let params: Vec<(String, String)> = value
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            )
        })
        .collect();
    if let Some((_, marking)) = params.iter().find(|(k, _)| k == "marking")
        && let Some(found) = header_marking(marking)
    {
        return Some(found);
    }
    let label: String = params
        .iter()
        .filter(|(k, _)| k == "label" || k.starts_with("label*"))
        .map(|(_, v)| v.as_str())
        .collect();
    let text = if label.contains('<') {
        label
    } else {
        mail_parser::decoders::base64::base64_decode(label.as_bytes())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    // Look at each element's text: `<classification>SECRET</classification>`.
    text.split(['<', '>'])
        .filter_map(|t| marking_of(t.trim(), Strictness::Header))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: &str) -> Vec<u8> {
        format!("From: a@x.example\r\n{headers}\r\nBody\r\n").into_bytes()
    }

    fn label(c: Classification, s: LabelSource) -> Result<Label, PolicyError> {
        Ok(Label {
            classification: c,
            source: s,
        })
    }

    #[test]
    fn reads_labels_from_every_source() {
        use Classification::*;
        use LabelSource::*;
        let cases = [
            ("Subject: Case notes\r\n", label(Official, Unlabelled)),
            ("", label(Official, Unlabelled)),
            (
                "Subject: [OFFICIAL-SENSITIVE] Case notes\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: [OFFICIAL SENSITIVE] Case notes\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: OFFICIAL-SENSITIVE: Case notes\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: OFFICIAL - SENSITIVE: Case notes\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: official-sensitive case notes\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: Official_Sensitive: x\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: [OFFICIAL-SENSITIVE PERSONAL] x\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: RE: Fwd: [OFFICIAL-SENSITIVE] x\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: [EXTERNAL] [RESTRICTED] x\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: RESTRICTED: x\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: Restricted - x\r\n",
                label(OfficialSensitive, Subject),
            ),
            ("Subject: [OFFICIAL] x\r\n", label(Official, Subject)),
            ("Subject: OFFICIAL: x\r\n", label(Official, Subject)),
            (
                "Subject: =?utf-8?q?=5BOFFICIAL-SENSITIVE=5D_x?=\r\n",
                label(OfficialSensitive, Subject),
            ),
            (
                "Subject: Secret Santa: bring gifts\r\n",
                label(Official, Unlabelled),
            ),
            (
                "Subject: Official visit tomorrow\r\n",
                label(Official, Unlabelled),
            ),
            ("Subject: Meeting at 10:30\r\n", label(Official, Unlabelled)),
            (
                "X-Security-Classification: OFFICIAL-SENSITIVE\r\n",
                label(OfficialSensitive, ClassificationHeader),
            ),
            (
                "X-Security-Classification: official\r\n",
                label(Official, ClassificationHeader),
            ),
            (
                "X-Security-Classification: RESTRICTED\r\n",
                label(OfficialSensitive, ClassificationHeader),
            ),
            (
                "X-Security-Classification: PROTECT\r\n",
                label(Official, Unlabelled),
            ),
            (
                "SIO-Label: marking=\"OFFICIAL-SENSITIVE\"; fgcolor=black; bgcolor=yellow; type=\":ess\"; label=MQYGASkCAQM=\r\n",
                label(OfficialSensitive, SioLabel),
            ),
            (
                "SIO-Label: type=\":xml\"; label=\"<?xml version=\\\"1.0\\\"?><ConfidentialityLabel><classification>OFFICIAL</classification></ConfidentialityLabel>\"\r\n",
                label(Official, SioLabel),
            ),
            (
                "Subject: [OFFICIAL] x\r\nX-Security-Classification: OFFICIAL-SENSITIVE\r\n",
                label(OfficialSensitive, ClassificationHeader),
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(read_label(&message(headers)), expected, "{headers}");
        }
    }

    #[test]
    fn refuses_secret_and_top_secret_with_reply() {
        let xml = "<ConfidentialityLabel><classification>TOP SECRET</classification></ConfidentialityLabel>";
        let b64 = String::from_utf8(
            mail_builder::encoders::base64::base64_encode(xml.as_bytes()).unwrap(),
        )
        .unwrap();
        let cases = [
            (
                "Subject: [SECRET] plans\r\n",
                Marking::Secret,
                LabelSource::Subject,
            ),
            (
                "Subject: SECRET: plans\r\n",
                Marking::Secret,
                LabelSource::Subject,
            ),
            (
                "Subject: Re: [TOP SECRET] plans\r\n",
                Marking::TopSecret,
                LabelSource::Subject,
            ),
            (
                "Subject: TOP-SECRET: plans\r\n",
                Marking::TopSecret,
                LabelSource::Subject,
            ),
            (
                "Subject: [SECRET UK EYES ONLY] plans\r\n",
                Marking::Secret,
                LabelSource::Subject,
            ),
            (
                "X-Security-Classification: SECRET\r\n",
                Marking::Secret,
                LabelSource::ClassificationHeader,
            ),
            (
                "Subject: [OFFICIAL] x\r\nX-Security-Classification: TOP SECRET\r\n",
                Marking::TopSecret,
                LabelSource::ClassificationHeader,
            ),
            (
                "SIO-Label: marking=\"SECRET\"; fgcolor=black; bgcolor=red; type=\":ess\"; label=MQYGASkCAQM=\r\n",
                Marking::Secret,
                LabelSource::SioLabel,
            ),
            (
                &*format!("SIO-Label: type=\":xml\"; label={b64}\r\n"),
                Marking::TopSecret,
                LabelSource::SioLabel,
            ),
        ];
        for (headers, marking, source) in cases {
            let error = read_label(&message(headers)).unwrap_err();
            assert_eq!(
                error,
                PolicyError::Classified {
                    marking,
                    found_in: source
                },
                "{headers}"
            );
            let reply = error.reply();
            assert_eq!(
                (reply.code, reply.enhanced.to_string()),
                (550, "5.7.1".into())
            );
            assert!(
                reply.text.contains(&format!("marked {marking}")),
                "{}",
                reply.text
            );
            assert!(
                reply
                    .text
                    .contains("this service does not carry SECRET or TOP SECRET mail")
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn read_label_never_panics(message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = read_label(&message);
        }

        #[test]
        fn read_label_never_panics_on_header_like_text(text in "((Subject|SIO-Label|X-Security-Classification): [ -~]{0,40}\r\n){0,5}") {
            let _ = read_label(text.as_bytes());
        }
    }

    #[test]
    fn unlabelled_mail_gains_a_header() {
        let label = read_label(&message("Subject: hello\r\n")).unwrap();
        assert_eq!(
            label.header_to_add().as_deref(),
            Some("X-Security-Classification: OFFICIAL\r\n")
        );
        let label = read_label(&message("Subject: [OFFICIAL] hello\r\n")).unwrap();
        assert_eq!(label.header_to_add(), None);
    }
}
