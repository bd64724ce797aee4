//! Integration tests of the SMTP driver, built as one test binary: a real
//! server on `127.0.0.1:0` with real TLS and a real sled store.
//! `submission` (STARTTLS, AUTH, delivery and queueing), `lifecycle`
//! (shutdown and timeouts), `durability` (SIGKILL right after `250`),
//! `smtplib` (Python's client); `support` holds the fixtures.

mod durability;
mod lifecycle;
mod smtplib;
mod submission;
mod support;
