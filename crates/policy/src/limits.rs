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
