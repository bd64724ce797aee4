//! Ward's IMAP server (IMAP4rev1 and IMAP4rev2) for users of hosted mailboxes.
//!
//! It will own the IMAP session (parsing and encoding apart from I/O),
//! login through `policy` and `store`, and mailbox access with CONDSTORE,
//! QRESYNC, IDLE and the special-use mailboxes mail clients expect.
