//! System tests: the real `ward` binary, started as an operator would, on
//! free loopback ports with a temporary data folder, spoken to over real
//! sockets and real TLS.
//!
//! One test binary made of modules; `harness` holds what they share.

// Items are `pub` for the modules of this one binary.
#![allow(unreachable_pub)]

mod accounts;
mod audit;
mod check_config;
mod community;
mod crowding;
mod files;
mod harness;
mod imap;
mod lifecycle;
mod limits;
mod memory;
mod queue;
mod relay;
mod reload_ca;
mod revocation;
mod smtp;
mod spoofing;
mod suspension;
mod tls_policy;
