//! The secure community's rules, as pure code.
//!
//! `policy` decides; other crates act. It will own:
//!
//! - checked address types (RFC 5321/5322 local parts, internationalised
//!   domains, length limits) and the community suffix (`cjsm.net` by default):
//!   `user@org.example` ↔ `user@org.example.cjsm.net` and abbreviation domains
//!   such as `jimmy.jones@safeguarder.cjsm.net`;
//! - the allow-list between connected organisations and external secure
//!   government domains, and the routing decision for each recipient
//!   (local mailbox, organisation gateway, external secure domain, refuse);
//! - transport rules (TLS before `MAIL`, `RCPT` and `AUTH`; who may send as whom);
//! - classification labels (OFFICIAL, OFFICIAL-SENSITIVE; SECRET refused) and
//!   the bilingual footer added to mail leaving through the service;
//! - size and recipient limits.
//!
//! Every refusal carries an SMTP reply code, an enhanced status code
//! (RFC 3463) and a sentence a user understands.
//!
//! It deliberately does no I/O: no sockets, no files, no async, no store.
//! Callers pass in what it needs to know and act on its answer.
