//! Ward's outbound SMTP relay.
//!
//! It will own delivery of queued mail to connected organisations' gateways
//! and to external secure domains: routing (configured gateways, then MX
//! records through hickory-resolver), verified TLS only (never in clear),
//! retries with back-off through outages, exactly-once delivery marks, and
//! delivery status notifications (RFC 3464).
//!
//! It binds no listener: it is driven by the daemon from the queue in `store`.
