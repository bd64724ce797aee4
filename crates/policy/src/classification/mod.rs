//! Protective markings: which classification a message carries, read from
//! every place a sender may have written it, in any shape.
//!
//! A message's label is read from its `Subject` (every one, if there are
//! several), the `X-Security-Classification` header, the RFC 7444
//! `SIO-Label` header (its `marking` parameter, or the text of an XML
//! label) and the RFC 2156 / Outlook `Sensitivity` header. Each value is
//! read twice, as written (unfolded) and with its RFC 2047 encoded words
//! decoded, and the higher reading counts. The highest marking found
//! anywhere wins; on a tie the subject is reported, then the headers in
//! the order above. RESTRICTED, the pre-2014 marking, maps to
//! OFFICIAL-SENSITIVE. SECRET and TOP SECRET are refused
//! ([`PolicyError::Classified`]): this service does not carry them.
//! Unlabelled mail is OFFICIAL, and the caller adds
//! [`Label::header_to_add`] (`X-Security-Classification: OFFICIAL`) to say
//! so.
//!
//! # Tokens
//!
//! Label recognition is a tokenizer over the marking grammar, not a list
//! of prefixes. Text is normalised first (invisible characters dropped,
//! NFKD, combining marks dropped, Cyrillic, Greek and other look-alikes
//! folded to Latin; see `tokens`), then cut into tokens of ASCII letters
//! and digits. Every other character separates tokens: spaces, tabs, `//`,
//! `-`, `_`, `:`, `.`, brackets. Words of the grammar are matched against
//! the letters with the token breaks ignored, so `TOP SECRET`,
//! `TOP-SECRET`, `TOP_SECRET`, `TOP//SECRET`, `TOPSECRET` and `T.O.P.
//! SECRET` are one shape. Case is ignored, but remembered. Text with
//! bidirectional controls or right-to-left letters is also read reversed,
//! letter by letter and word by word, since that is how it may be shown
//! (`\u{202E}TERCES POT` displays as `TOP SECRET`).
//!
//! # Grammar
//!
//! ```text
//! marking   = *2qualifier phrase *8caveat
//! qualifier = "UK" / "NATO" / "COSMIC" / "EU" / "UE"
//! phrase    = "TOP" "SECRET"                     ; TOP SECRET, refused
//!           / "SECRET"                           ; SECRET, refused
//!           / "OFFICIAL" "SENSITIVE"             ; OFFICIAL-SENSITIVE
//!           / "RESTRICTED"                       ; OFFICIAL-SENSITIVE
//!           / "OFFICIAL"                         ; OFFICIAL
//! caveat    = "UK" "EYES" "ONLY" / "EYES" "ONLY" / "UKEO" / "NOFORN"
//!           / "ORCON" / "ATOMAL" / "STRAP" / "CODEWORD" / "REL" ["TO"]
//!           / "PERSONAL" / "COMMERCIAL" / "LOCSEN" / "SENSITIVE"
//!           / "UK" / "EYES" / "ONLY" / "NATO" / "EU" / "1" / "2" / "3"
//!
//! subject   = *(prefix / tag) *marking text
//! prefix    = prefix-word ["[" n "]" / "(" n ")" / "^" n] ":"
//! prefix-word = "RE" / "FW" / "FWD" / "AW" / "WG" / "SV" / "VS" / "VB"
//!           / "TR" / "RV" / "ANTW" / "DOORST" / "ODP" / "PD" / "RES"
//!           / "ENC" / "VL" / "YNT" / "ILT" / "R" / "I"
//!           / "EXTERNAL" / "EXT" / "CAUTION" / "WARNING" / "URGENT"
//!           / "IMPORTANT" / "SPAM" / "FYI" / "ENCRYPT" / "SECURE"
//! tag       = open *token close                  ; [EXTERNAL], (x), 【x】
//! ```
//!
//! Between any two words any separator may stand, or none. A phrase must
//! end where a word ends (or its caveats must), so `SECRETARY` and
//! `SECRETS` are not SECRET; `TOP SECRET` and `OFFICIAL SENSITIVE` may run
//! into the next word (`TOPSECRETPLANS`).
//!
//! **Header values** (`X-Security-Classification`, `Sensitivity`, the
//! `marking` parameter and XML text of `SIO-Label`): any marking anywhere
//! in the value counts, in any case. Outlook's `Sensitivity` values
//! (`Personal`, `Private`, `Company-Confidential`) are not markings and
//! leave the message unlabelled.
//!
//! **Subjects.** Subjects are prose, so a marking counts where markings are
//! written:
//!
//! - at the head, after any number of prefixes and tags in any order
//!   (`Re: AW: [EXTERNAL] SV: Fwd: TOP SECRET//UK EYES ONLY`). TOP SECRET,
//!   OFFICIAL-SENSITIVE and RESTRICTED count there in any case and shape
//!   (`Top secret recipe` is refused). SECRET and OFFICIAL count when
//!   written in upper case, when set off by punctuation typical of
//!   markings (`:`, `/`, `-`, `_`, brackets) or the end of the subject, or
//!   when a caveat such as `UK EYES ONLY` follows. So `SECRET plans`,
//!   `Secret: plans`, `secret-santa` and `Secret UK eyes only` are SECRET,
//!   but `Secret Santa party` in mixed case is not a label: it is the one
//!   deliberate exception, because a bare capitalised word is everyday
//!   English. Markings may follow one another at the head
//!   (`OFFICIAL-SENSITIVE: TOP SECRET annex` is TOP SECRET);
//! - in a leading tag, in any case: `[EXTERNAL] [Secret] plans`;
//! - anywhere else, when written in upper case and either unmistakable
//!   (TOP SECRET, OFFICIAL-SENSITIVE) or set off as above (`Minutes -
//!   SECRET`, `Notes [OFFICIAL]`).
//!
//! When in doubt the rules refuse: a false refusal gets a clear reply, a
//! leak is a security defect. Unknown markings (e.g. `PROTECT`,
//! `CONFIDENTIAL`) are not guessed at: a source that carries only one
//! counts as unlabelled.
//!
//! The tokenizer and the grammar are linear in the length of their input.

mod grammar;
mod sio_label;
mod tokens;

use std::fmt;

use mail_parser::{Header, HeaderName, HeaderValue, MessageParser};

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
    /// The `Subject`.
    Subject,
    /// The `X-Security-Classification` header.
    ClassificationHeader,
    /// The RFC 7444 `SIO-Label` header.
    SioLabel,
    /// The RFC 2156 `Sensitivity` header, when its value is a marking.
    Sensitivity,
    /// Nowhere: the mail is OFFICIAL by default.
    Unlabelled,
}

impl fmt::Display for LabelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabelSource::Subject => "subject",
            LabelSource::ClassificationHeader => "X-Security-Classification header",
            LabelSource::SioLabel => "SIO-Label header",
            LabelSource::Sensitivity => "Sensitivity header",
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
    let mut best: Option<(Marking, LabelSource)> = None;
    // Subjects and every other header as text, with encoded words decoded.
    let parser = MessageParser::new()
        .header_text(HeaderName::Subject)
        .default_header_text();
    if let Some(parsed) = parser.parse_headers(message) {
        for header in parsed.headers() {
            let Some(source) = source_of(header.name()) else {
                continue;
            };
            let read = match source {
                LabelSource::Subject => grammar::subject_marking,
                LabelSource::SioLabel => sio_label::marking,
                _ => grammar::header_marking,
            };
            let raw = raw_value(message, header);
            let decoded = text_of(header.value()).filter(|decoded| *decoded != raw);
            let Some(marking) = read(&raw).max(decoded.as_deref().and_then(read)) else {
                continue;
            };
            if best.is_none_or(|(m, s)| (marking, rank(source)) > (m, rank(s))) {
                best = Some((marking, source));
            }
        }
    }
    let Some((marking, source)) = best else {
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

/// The source a header name stands for, if Ward reads it.
fn source_of(name: &str) -> Option<LabelSource> {
    [
        ("Subject", LabelSource::Subject),
        (CLASSIFICATION_HEADER, LabelSource::ClassificationHeader),
        ("SIO-Label", LabelSource::SioLabel),
        ("Sensitivity", LabelSource::Sensitivity),
    ]
    .into_iter()
    .find_map(|(n, source)| n.eq_ignore_ascii_case(name.trim()).then_some(source))
}

/// Which source is reported when two carry the same marking: the higher.
fn rank(source: LabelSource) -> u8 {
    match source {
        LabelSource::Subject => 4,
        LabelSource::ClassificationHeader => 3,
        LabelSource::SioLabel => 2,
        LabelSource::Sensitivity => 1,
        LabelSource::Unlabelled => 0,
    }
}

/// A header's value as written, unfolded.
fn raw_value(message: &[u8], header: &Header<'_>) -> String {
    let raw = message
        .get(header.offset_start() as usize..header.offset_end() as usize)
        .unwrap_or_default();
    String::from_utf8_lossy(raw)
        .replace("\r\n", "")
        .replace(['\r', '\n'], "")
        .trim()
        .to_owned()
}

/// A parsed header's text, encoded words decoded.
fn text_of(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(text) => Some(text.to_string()),
        HeaderValue::TextList(list) => Some(list.join(" ")),
        _ => None,
    }
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
