//! `smtp-load`: a bounded load generator for SMTP over TLS, written for
//! Ward's acceptance benchmark (issue 6) because Postfix's `smtp-source`
//! speaks no TLS.
//!
//! It opens `--concurrency` sessions (STARTTLS or implicit TLS, then AUTH
//! PLAIN if `--auth` is given) and sends `--messages` messages of `--size`
//! octets between them, each session reusing its connection for many
//! transactions (`MAIL`, `RCPT`..., `DATA`, `RSET`). A `250` after the data
//! counts as accepted; any other reply is a failure and is reported by
//! text. It prints the messages, the seconds and the accepted messages per
//! second; the clock starts once every session is open.
//!
//! With `--idle N` it instead opens N sessions (TLS and EHLO only), prints
//! `holding N` and keeps them silent for `--idle-seconds`, so that the
//! server's memory can be read meanwhile.
//!
//! What it does not do: pipelining (RFC 2920), CHUNKING, reconnecting a
//! lost session, or anything but loopback-benchmark use. Everything is
//! bounded: `--max-seconds` for the whole run and `--reply-timeout` for
//! every read and write.
//!
//! ```text
//! smtp-load --port 12587 --starttls --ca-file data/tls/cert.pem \
//!     --auth 'eric.brown@example.cjsm.net:PASSWORD' \
//!     --from eric.brown@example.cjsm.net --to anna.jones@example.cjsm.net \
//!     --messages 20000 --concurrency 10 --size 5120
//! ```

mod client;
mod load;
mod message;
mod tls;

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Parser};
use rustls_pki_types::ServerName;

use crate::client::{Target, TlsMode};
use crate::load::Load;
use crate::message::Template;
use crate::tls::Trust;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "smtp-load",
    about = "Bounded SMTP-over-TLS load generator (benchmark use only)",
    group(ArgGroup::new("tls").required(true).args(["starttls", "implicit_tls"])),
    group(ArgGroup::new("trust").required(true).args(["ca_file", "insecure"])),
)]
struct Args {
    /// Server IP address.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Server port.
    #[arg(long)]
    port: u16,
    /// Plain greeting, then STARTTLS (ports 25 and 587).
    #[arg(long)]
    starttls: bool,
    /// TLS from the first byte (port 465).
    #[arg(long)]
    implicit_tls: bool,
    /// Name the server certificate must carry (also sent as SNI).
    #[arg(long, default_value = "localhost")]
    tls_name: String,
    /// PEM file of the certificate(s) to trust, e.g. a self-signed server
    /// certificate.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// BENCHMARK ONLY: accept any server certificate without checking who
    /// issued it or whom it names.
    #[arg(long)]
    insecure: bool,
    /// AUTH PLAIN credentials, USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    auth: Option<String>,
    /// Name sent in EHLO.
    #[arg(long, default_value = "smtp-load.localhost")]
    ehlo: String,
    /// Envelope sender (and From: header).
    #[arg(long, default_value = "")]
    from: String,
    /// Envelope recipient; repeat for several.
    #[arg(long)]
    to: Vec<String>,
    /// Messages to send in all, 1 to 10,000,000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    messages: u64,
    /// Sessions sending at once, 1 to 10,000.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Message size in octets (headers and body), up to 50 MB.
    #[arg(long, default_value_t = 5120, value_parser = clap::value_parser!(u64).range(0..=50_000_000))]
    size: u64,
    /// Bound on the whole run in seconds: no message is started after it,
    /// and the tool gives up a little later whatever happens.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    max_seconds: u64,
    /// Bound in seconds on every single read or write.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    reply_timeout: u64,
    /// Instead of sending mail, open this many sessions (TLS and EHLO) and
    /// hold them idle; up to 100,000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    idle: Option<u64>,
    /// How long to hold the idle sessions, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    idle_seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("smtp-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("smtp-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load or the idle hold; `Ok(false)` when anything failed.
async fn run(args: Args) -> anyhow::Result<bool> {
    let trust = match &args.ca_file {
        Some(path) => Trust::CaFile(path),
        None => Trust::DangerousAcceptAny,
    };
    let auth = match &args.auth {
        Some(text) => {
            let (user, password) = text.split_once(':').context("--auth wants USER:PASSWORD")?;
            Some((user.to_owned(), password.to_owned()))
        }
        None => None,
    };
    let target = Arc::new(Target {
        address: SocketAddr::new(args.host, args.port),
        tls_name: ServerName::try_from(args.tls_name.clone())
            .context("--tls-name is not a valid server name")?,
        mode: if args.implicit_tls {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        },
        connector: tls::connector(trust)?,
        ehlo: args.ehlo.clone(),
        auth,
        reply_timeout: Duration::from_secs(args.reply_timeout),
    });
    // The hard stop: a little beyond the soft deadline, for the sessions
    // to finish the message in hand and say QUIT.
    let hard_stop = Duration::from_secs(args.max_seconds + args.reply_timeout * 3 + 10);

    if let Some(count) = args.idle {
        let hold = Duration::from_secs(args.idle_seconds);
        let work = load::idle(target, count as usize, 50, hold, |held| {
            println!("holding {held} idle sessions for {} s", hold.as_secs());
            let _ = std::io::stdout().flush();
        });
        let report = tokio::time::timeout(hard_stop, work)
            .await
            .context("the idle run passed --max-seconds")?;
        println!("idle sessions held: {}", report.held);
        for (what, n) in &report.failures {
            println!("  failed to open ({n}x): {what}");
        }
        return Ok(report.failures.is_empty());
    }

    if args.to.is_empty() {
        bail!("give at least one --to recipient");
    }
    let load = Load {
        template: Template::new(&args.from, &args.to, args.size as usize),
        from: args.from,
        to: args.to,
        messages: args.messages,
        concurrency: args.concurrency as usize,
        max_time: Duration::from_secs(args.max_seconds),
    };
    let (messages, concurrency) = (load.messages, load.concurrency);
    let report = tokio::time::timeout(hard_stop, load::run(target, load))
        .await
        .context("the load passed --max-seconds and did not wind down")?;
    let seconds = report.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        report.accepted as f64 / seconds
    } else {
        0.0
    };
    let unsent = messages.saturating_sub(report.accepted + report.failures);
    println!(
        "sessions {}/{concurrency} opened in {:.3} s",
        report.sessions_opened,
        report.opening.as_secs_f64()
    );
    println!(
        "messages {messages} accepted {} failures {} unsent {unsent}",
        report.accepted, report.failures
    );
    println!("seconds {seconds:.3} messages/s {rate:.1}");
    for (what, n) in &report.failure_kinds {
        println!("  failure ({n}x): {what}");
    }
    if report.hit_deadline {
        println!("  stopped at --max-seconds {}", args.max_seconds);
    }
    // One machine-readable line for scripts.
    println!(
        "RESULT concurrency={concurrency} messages={messages} accepted={} failures={} unsent={unsent} seconds={seconds:.3} rate={rate:.1}",
        report.accepted, report.failures
    );
    Ok(report.failures == 0 && unsent == 0)
}
