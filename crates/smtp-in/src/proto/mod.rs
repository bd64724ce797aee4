//! The SMTP wire grammar, with no I/O: framing of command lines
//! ([`line`]), of `DATA` bodies ([`data`]) and of `BDAT` chunks (counted by
//! the session), the message [`body`] collector that enforces the size limit
//! and the line-ending rules, command parsing ([`command`]) and reply
//! encoding ([`reply`]).
//!
//! Framing comes before parsing: the framers decide where a command or a
//! message ends and apply the limits (line length, message size), so bytes
//! of a body are never read as a command and an oversized line is discarded
//! whole.
//!
//! # Why not `smtp-proto`
//!
//! `smtp-proto` 0.2 (`Request::parse`) was evaluated and is not used. Its
//! path parser removes the quotes of a quoted local part
//! (`"eric brown"@x` becomes `eric brown@x`), turns `<postmaster>` into the
//! empty path, and accepts lines ended by a bare LF. Ward hands the path
//! exactly as written to `policy::Address::parse`, which owns address syntax,
//! and refuses bare line ends, so a small parser of our own that keeps the
//! raw path is both simpler and stricter. Only the commands and parameters
//! Ward offers are understood; everything else gets a precise refusal.

pub(crate) mod body;
pub(crate) mod command;
pub(crate) mod data;
pub(crate) mod line;
pub(crate) mod reply;
