//! Key layout of the single sled tree that holds everything.
//!
//! Every key starts with one byte naming its table, followed by big-endian
//! ids so that a prefix or range scan visits one user's mailboxes, or one
//! mailbox's messages, in id order. One tree (rather than one per table)
//! lets every operation commit as a single atomic sled batch.

/// Store-wide values: counters, schema version, audit head.
pub(crate) const META: u8 = 0x00;
/// Organisation id → organisation.
pub(crate) const ORG: u8 = 0x01;
/// Domain → organisation id.
pub(crate) const ORG_DOMAIN: u8 = 0x02;
/// Application id → application.
pub(crate) const APPLICATION: u8 = 0x03;
/// Acceptance id → terms-and-conditions acceptance.
pub(crate) const TERMS: u8 = 0x04;
/// User id → user.
pub(crate) const USER: u8 = 0x05;
/// Lower-cased address → user id.
pub(crate) const USER_ADDRESS: u8 = 0x06;
/// Mailbox id → mailbox record.
pub(crate) const MAILBOX: u8 = 0x07;
/// User id ‖ mailbox name → mailbox id.
pub(crate) const MAILBOX_NAME: u8 = 0x08;
/// User id ‖ mailbox name → () (subscriptions).
pub(crate) const SUBSCRIPTION: u8 = 0x09;
/// Mailbox id ‖ UID → message entry.
pub(crate) const MESSAGE: u8 = 0x0a;
/// Body hash → body record (size, reference count, cached parse data).
pub(crate) const BODY: u8 = 0x0b;
// 0x0c held body chunks in layout version 1; bodies are files now.
/// Queue id → queue entry.
pub(crate) const QUEUE: u8 = 0x0d;
/// Audit sequence number → audit record.
pub(crate) const AUDIT: u8 = 0x0e;
/// Certificate fingerprint → gateway certificate record.
pub(crate) const GATEWAY_CERT: u8 = 0x1f;
/// Organisation id → the source networks its gateway connects from.
pub(crate) const GATEWAY_NETWORKS: u8 = 0x20;
/// Organisation id ‖ audit sequence number → () (the records an
/// organisation's administrators may read).
pub(crate) const AUDIT_ORG: u8 = 0x21;

/// A key made of a table byte and one big-endian id.
pub(crate) fn id(table: u8, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(table);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// A key made of a table byte and a string.
pub(crate) fn text(table: u8, s: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + s.len());
    k.push(table);
    k.extend_from_slice(s.as_bytes());
    k
}

/// A key made of a table byte, an id and a string (mailbox names per user).
pub(crate) fn id_text(table: u8, id: u64, s: &str) -> Vec<u8> {
    let mut k = self::id(table, id);
    k.extend_from_slice(s.as_bytes());
    k
}

/// The key of one message: mailbox id ‖ UID.
pub(crate) fn message(mailbox: u64, uid: u32) -> Vec<u8> {
    let mut k = id(MESSAGE, mailbox);
    k.extend_from_slice(&uid.to_be_bytes());
    k
}

/// The UID at the end of a message key.
pub(crate) fn message_uid(key: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&key[9..13]);
    u32::from_be_bytes(b)
}

/// The key of a body record.
pub(crate) fn body(hash: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(BODY);
    k.extend_from_slice(hash);
    k
}

/// The id at bytes 1..9 of a key made by [`id`].
pub(crate) fn key_id(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[1..9]);
    u64::from_be_bytes(b)
}
