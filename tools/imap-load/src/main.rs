//! `imap-load`: a bounded load generator for IMAP over implicit TLS, for
//! Ward's IMAP benchmark (issue 8), run against Ward and Dovecot alike.
//!
//! Modes:
//!
//! - `--populate N`: APPEND N messages of `--size` octets to `--mailbox`
//!   over `--concurrency` sessions, so both servers hold the same data.
//! - `--mixed N` (default): `--concurrency` sessions share N operations of a
//!   mail-client mix, round after round: fetch the headers and flags of ten
//!   messages, fetch one whole body, flag it, APPEND a message, mark that
//!   message `\Deleted` and `UID EXPUNGE` it (so the mailbox keeps its
//!   size), and every tenth round LOGOUT, log in again and SELECT. Every
//!   command counts as one operation; operations per second are reported.
//! - `--select-all R`: R times, one session SELECTs the mailbox and fetches
//!   `1:* (UID FLAGS)`; reports each time and the median.
//! - `--idle N`: opens N sessions, SELECTs and enters IDLE, prints
//!   `holding N` and keeps them for `--idle-seconds`, so the server's memory
//!   can be read meanwhile.
//!
//! Everything is bounded: `--max-seconds` for the run and `--reply-timeout`
//! for each read and write. Loopback benchmarks only.

#[path = "../../smtp-load/src/tls.rs"]
mod tls;

mod client;
mod workload;

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgGroup, Parser};
use rustls_pki_types::ServerName;

use crate::client::Target;
use crate::tls::Trust;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "imap-load",
    about = "Bounded IMAP-over-TLS load generator (benchmark use only)",
    group(ArgGroup::new("trust").required(true).args(["ca_file", "insecure"])),
    group(ArgGroup::new("mode").args(["populate", "mixed", "select_all", "idle"])),
)]
struct Args {
    /// Server IP address.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Server port (implicit TLS, 993).
    #[arg(long)]
    port: u16,
    /// Name the server certificate must carry (also sent as SNI).
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// PEM file of the certificate(s) to trust.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// BENCHMARK ONLY: accept any server certificate.
    #[arg(long)]
    insecure: bool,
    /// Login name.
    #[arg(long)]
    user: String,
    /// Password.
    #[arg(long)]
    password: String,
    /// The mailbox to work in.
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// APPEND this many messages, then stop.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    populate: Option<u64>,
    /// Operations of the mixed workload in all (the default mode).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    mixed: Option<u64>,
    /// Time SELECT and `FETCH 1:* (UID FLAGS)` this many times.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    select_all: Option<u64>,
    /// Hold this many sessions in IDLE.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    idle: Option<u64>,
    /// How long to hold the IDLE sessions, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    idle_seconds: u64,
    /// Sessions at once, 1 to 10,000.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Size of appended messages in octets.
    #[arg(long, default_value_t = 5120, value_parser = clap::value_parser!(u64).range(200..=50_000_000))]
    size: u64,
    /// Bound on the whole run in seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    max_seconds: u64,
    /// Bound in seconds on every single read or write.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    reply_timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("imap-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("imap-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let trust = match &args.ca_file {
        Some(path) => Trust::CaFile(path),
        None => Trust::DangerousAcceptAny,
    };
    let target = Arc::new(Target {
        address: SocketAddr::new(args.host, args.port),
        tls_name: ServerName::try_from(args.tls_name.clone())
            .context("--tls-name is not a valid server name")?,
        connector: tls::connector(trust)?,
        user: args.user.clone(),
        password: args.password.clone(),
        reply_timeout: Duration::from_secs(args.reply_timeout),
    });
    let deadline = Duration::from_secs(args.max_seconds);
    let hard_stop = deadline + Duration::from_secs(args.reply_timeout * 3 + 10);
    let plan = workload::Plan {
        target,
        mailbox: args.mailbox.clone(),
        concurrency: args.concurrency as usize,
        size: args.size as usize,
        deadline,
    };
    let work = async {
        if let Some(n) = args.populate {
            workload::populate(&plan, n).await
        } else if let Some(times) = args.select_all {
            workload::select_all(&plan, times).await
        } else if let Some(n) = args.idle {
            let hold = Duration::from_secs(args.idle_seconds);
            workload::idle(&plan, n as usize, hold, |held| {
                println!("holding {held} sessions in IDLE for {} s", hold.as_secs());
                let _ = std::io::stdout().flush();
            })
            .await
        } else {
            workload::mixed(&plan, args.mixed.unwrap_or(10_000)).await
        }
    };
    let report = tokio::time::timeout(hard_stop, work)
        .await
        .context("the run passed --max-seconds and did not wind down")?;
    print!("{report}");
    Ok(report.failures.is_empty())
}
