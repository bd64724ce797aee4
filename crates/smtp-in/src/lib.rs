//! Ward's inbound SMTP server: the gateway/MX listener for connected
//! organisations' mail servers and external secure domains, and the
//! submission listeners (STARTTLS and implicit TLS) for users.
//!
//! It will own the SMTP session state machine (kept apart from I/O), TLS
//! before `MAIL`, authentication, and durable delivery through `store`, asking
//! `policy` for every decision.
