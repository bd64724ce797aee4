//! The SMTP reply a refusal turns into: a three-digit code (RFC 5321 §4.2),
//! an enhanced status code (RFC 3463) and one sentence a person can act on.
//! The mapping from every [`PolicyError`](crate::PolicyError) to its reply
//! lives in [`crate::error`], in one `match`, so no handler ever writes a
//! reply literal.

use std::fmt;

/// An RFC 3463 enhanced status code, `class.subject.detail` (e.g. `5.7.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject: 1 addressing, 3 mail system, 4 network, 5 protocol,
    /// 6 content, 7 security or policy.
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedStatus {
    /// Builds `class.subject.detail`.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply line: `550 5.7.1 The recipient … is outside the secure community.`
///
/// `Display` renders the line without the trailing CRLF; the SMTP encoder
/// adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The RFC 5321 reply code, e.g. `550`.
    pub code: u16,
    /// The RFC 3463 enhanced status code, e.g. `5.7.1`.
    pub enhanced: EnhancedStatus,
    /// The human-readable sentence; one line, no CR or LF.
    pub text: String,
}

impl Reply {
    /// Builds a reply from a code, an enhanced code as a `(class, subject,
    /// detail)` triple, and its text.
    pub fn new(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Self {
        let mut text = text.into();
        // A reply is one line: a stray line break would let text from an
        // address or header inject a second reply.
        text.retain(|c| c != '\r' && c != '\n');
        Self {
            code,
            enhanced: EnhancedStatus::new(enhanced.0, enhanced.1, enhanced.2),
            text,
        }
    }

    /// True for 4xx replies: the client should try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// True for 5xx replies: the client must not retry unchanged.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_enhanced_and_text() {
        let reply = Reply::new(530, (5, 7, 0), "Must issue a STARTTLS command first");
        assert_eq!(
            reply.to_string(),
            "530 5.7.0 Must issue a STARTTLS command first"
        );
        assert!(reply.is_permanent());
        assert!(!reply.is_transient());
    }

    #[test]
    fn strips_line_breaks_from_text() {
        let reply = Reply::new(451, (4, 3, 2), "a\r\n250 b");
        assert_eq!(reply.text, "a250 b");
        assert!(reply.is_transient());
    }
}
