//! Size and recipient limits. The SMTP framer enforces them while reading
//! (it advertises `SIZE` and stops counting at the limit); this module holds
//! their values and turns a breach into the refusal: `552 5.3.4` for size
//! (RFC 1870, RFC 3463) and `452 4.5.3` for recipients (RFC 5321 §4.5.3.1.10,
//! which asks for a transient reply so the client sends the rest later).

use crate::error::PolicyError;

/// Default message size limit: 25 MiB, the common limit of government and
/// NHS mail systems, so mail that fits here fits there.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 25 * 1024 * 1024;
/// Default recipients per message: 100, the minimum RFC 5321 §4.5.3.1.8
/// requires a server to accept.
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message accepted, in octets as received (after dot-unstuffing).
    /// Default [`DEFAULT_MAX_MESSAGE_SIZE`]; range 1 KiB to a few hundred MiB.
    pub max_message_size: u64,
    /// Most recipients in one transaction. Default [`DEFAULT_MAX_RECIPIENTS`];
    /// should not be below 100.
    pub max_recipients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
        }
    }
}

impl Limits {
    /// Limits with these values.
    pub fn new(max_message_size: u64, max_recipients: usize) -> Self {
        Self {
            max_message_size,
            max_recipients,
        }
    }

    /// Checks a message size (declared with `SIZE=` or counted after DATA).
    ///
    /// # Errors
    ///
    /// [`PolicyError::MessageTooBig`] above the limit.
    pub fn check_message_size(&self, size: u64) -> Result<(), PolicyError> {
        if size > self.max_message_size {
            Err(PolicyError::MessageTooBig {
                size,
                limit: self.max_message_size,
            })
        } else {
            Ok(())
        }
    }

    /// Checks whether one more recipient may be added when `accepted` have
    /// been accepted already.
    ///
    /// # Errors
    ///
    /// [`PolicyError::TooManyRecipients`] once the limit is reached.
    pub fn check_another_recipient(&self, accepted: usize) -> Result<(), PolicyError> {
        if accepted >= self.max_recipients {
            Err(PolicyError::TooManyRecipients {
                limit: self.max_recipients,
            })
        } else {
            Ok(())
        }
    }
}

/// Longest physical line accepted in a header section: RFC 5322's 998
/// characters with ample room for the non-conforming (long unfolded
/// `References:` or signature lines occur in real mail), far below what
/// would let one line cost memory in every parser that reads it.
pub const MAX_HEADER_LINE: usize = 8 * 1024;
/// Most header fields in one header section.
pub const MAX_HEADER_FIELDS: usize = 1_000;
/// Largest header section (up to the first empty line).
pub const MAX_HEADER_SECTION: usize = 1024 * 1024;

/// Most MIME parts (`Content-Type:` fields) in one message.
pub const MAX_MIME_PARTS: usize = 5_000;
/// Most multipart boundaries in one message: a bound on MIME nesting depth.
pub const MAX_MIME_BOUNDARIES: usize = 100;

/// How a message exceeds the bounds every parser relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderBound {
    /// A physical line longer than [`MAX_HEADER_LINE`].
    #[error("a header line is longer than {MAX_HEADER_LINE} characters")]
    LineTooLong,
    /// More than [`MAX_HEADER_FIELDS`] header fields.
    #[error("the message has more than {MAX_HEADER_FIELDS} header fields")]
    TooManyFields,
    /// A header section larger than [`MAX_HEADER_SECTION`].
    #[error("the header section is larger than {MAX_HEADER_SECTION} bytes")]
    SectionTooLarge,
    /// More than [`MAX_MIME_PARTS`] MIME parts.
    #[error("the message has more than {MAX_MIME_PARTS} MIME parts")]
    TooManyParts,
    /// More than [`MAX_MIME_BOUNDARIES`] multipart boundaries (nesting).
    #[error("the message nests more than {MAX_MIME_BOUNDARIES} multipart levels")]
    TooDeep,
}

/// Checks a message's structure against the bounds every parser relies
/// on: its top-level header section ([`check_header_section`]), then the
/// number of MIME parts and multipart boundaries, by a linear scan of the
/// lines (before mail-parser, whose multipart nesting is unbounded, sees
/// it).
///
/// # Errors
///
/// The first bound exceeded.
pub fn check_message_structure(message: &[u8]) -> Result<(), HeaderBound> {
    check_header_section(message)?;
    let (mut parts, mut boundaries) = (0, 0);
    let mut in_content_type = false;
    for line in message.split(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !folded {
            in_content_type = line.len() >= 13 && line[..13].eq_ignore_ascii_case(b"content-type:");
            parts += usize::from(in_content_type);
        }
        if in_content_type
            && line
                .windows(9)
                .any(|w| w.eq_ignore_ascii_case(b"boundary="))
        {
            boundaries += 1;
        }
        if parts > MAX_MIME_PARTS {
            return Err(HeaderBound::TooManyParts);
        }
        if boundaries > MAX_MIME_BOUNDARIES {
            return Err(HeaderBound::TooDeep);
        }
    }
    Ok(())
}

/// Checks a message's top-level header section against the bounds, by
/// scanning bytes (no parser runs on a section that fails).
///
/// # Errors
///
/// The first bound exceeded.
pub fn check_header_section(message: &[u8]) -> Result<(), HeaderBound> {
    let mut fields = 0;
    let mut offset = 0;
    for line in message.split(|&b| b == b'\n') {
        let length = line.len() + 1;
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if text.is_empty() {
            break;
        }
        if text.len() > MAX_HEADER_LINE {
            return Err(HeaderBound::LineTooLong);
        }
        if !matches!(text[0], b' ' | b'\t') {
            fields += 1;
            if fields > MAX_HEADER_FIELDS {
                return Err(HeaderBound::TooManyFields);
            }
        }
        offset += length;
        if offset > MAX_HEADER_SECTION {
            return Err(HeaderBound::SectionTooLarge);
        }
    }
    Ok(())
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn rfc_lines_pass_and_huge_ones_do_not() {
        let ok = format!(
            "Subject: {}\r\nFrom: a@b\r\n\r\n{}",
            "x".repeat(989),
            "y".repeat(1 << 20)
        );
        assert_eq!(check_header_section(ok.as_bytes()), Ok(()));
        let long = format!("Subject: {}\r\n\r\nbody", "x".repeat(2 << 20));
        assert_eq!(
            check_header_section(long.as_bytes()),
            Err(HeaderBound::LineTooLong)
        );
        let many = "X-A: 1\r\n".repeat(1_001) + "\r\nbody";
        assert_eq!(
            check_header_section(many.as_bytes()),
            Err(HeaderBound::TooManyFields)
        );
        let folded = format!(
            "X-A: 1\r\n{}\r\nbody",
            " folded line of some length\r\n".repeat(40_000)
        );
        assert_eq!(
            check_header_section(folded.as_bytes()),
            Err(HeaderBound::SectionTooLarge)
        );
    }

    #[test]
    fn mime_nesting_and_part_counts_are_bounded() {
        let mut nested = String::from("Subject: x\r\n");
        for level in 0..=MAX_MIME_BOUNDARIES {
            nested.push_str(&format!(
                "Content-Type: multipart/mixed;\r\n boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
            ));
        }
        assert_eq!(
            check_message_structure(nested.as_bytes()),
            Err(HeaderBound::TooDeep)
        );
        let many = format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n{}--b--\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(MAX_MIME_PARTS)
        );
        assert_eq!(
            check_message_structure(many.as_bytes()),
            Err(HeaderBound::TooManyParts)
        );
        let ordinary = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n";
        assert_eq!(check_message_structure(ordinary.as_bytes()), Ok(()));
    }
}
