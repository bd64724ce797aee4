//! `relay-sink`: a loopback SMTP server that stands in for a mail gateway in
//! Ward's relay benchmark (issue 7). It offers STARTTLS with the certificate
//! it is given, refuses `MAIL` before TLS, accepts every message with `250`
//! and throws the content away (nothing is written to disk), counting what
//! it accepted.
//!
//! What it counts: messages (a `250` after the data), recipients, and
//! duplicates (a `Message-ID` seen before, compared exactly), besides
//! connections, TLS sessions and sessions that ended in an error. The
//! running count goes
//!
//! - every 100 ms into `--status-file` (replaced atomically), one line of
//!   `key=value` fields, e.g. `messages=5000 recipients=5000 duplicates=0
//!   ... first_ms=... last_ms=...`, where `last_ms` is the Unix time in
//!   milliseconds of the latest accepted message: a script that noted its
//!   own start time reads from it when the N-th message arrived;
//! - once a second, when it changed, to stdout as
//!   `received N messages R recipients D duplicates at UNIX_MS`.
//!
//! It prints `ready ADDRESS` per listener once listening, and a `final ...`
//! line when it stops: after `--max-seconds`, or on SIGTERM or SIGINT.
//!
//! It advertises `PIPELINING` (RFC 2920; replies are held until the
//! client's batch is read), `8BITMIME`, `SIZE`, `ENHANCEDSTATUSCODES` and
//! `SMTPUTF8`, and accepts any `MAIL`/`RCPT` parameters. No AUTH, no
//! CHUNKING, no DSN extension. Benchmark use only.
//!
//! ```text
//! relay-sink --listen 127.0.0.1:10025 --cert sink.pem --key sink.key \
//!     --status-file sink.status --max-seconds 900
//! ```

mod smtp;
mod stats;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::smtp::Settings;
use crate::stats::Stats;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "relay-sink",
    about = "Loopback STARTTLS SMTP sink that counts and discards mail (benchmark use only)"
)]
struct Args {
    /// Address to listen on; repeat for several (e.g. 127.0.0.1:10025 and
    /// [::1]:10025).
    #[arg(long, default_value = "127.0.0.1:10025")]
    listen: Vec<SocketAddr>,
    /// The server certificate chain, leaf first (PEM).
    #[arg(long)]
    cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// Name in the greeting and the EHLO reply.
    #[arg(long, default_value = "localhost")]
    hostname: String,
    /// Write the running count here every 100 ms.
    #[arg(long)]
    status_file: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    max_seconds: u64,
    /// Seconds a client may stay silent before the session is cut.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: u64,
    /// Do not advertise PIPELINING.
    #[arg(long)]
    no_pipelining: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("relay-sink: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-sink: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The server TLS configuration (ring provider, TLS 1.2 and 1.3).
fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad PEM in {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("no usable private key in {}", key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("the ring provider supports no protocol version")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the certificate and key do not fit together")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Arc::new(Settings {
        hostname: args.hostname.clone(),
        acceptor: acceptor(&args.cert, &args.key)?,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        pipelining: !args.no_pipelining,
    });
    let stats = Arc::new(Stats::default());
    for address in &args.listen {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        println!("ready {}", listener.local_addr()?);
        let (settings, stats) = (Arc::clone(&settings), Arc::clone(&stats));
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let (settings, stats) = (Arc::clone(&settings), Arc::clone(&stats));
                        tokio::spawn(smtp::serve(stream, settings, stats));
                    }
                    Err(e) => {
                        // Out of descriptors, most likely: wait a little.
                        eprintln!("relay-sink: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    let _ = std::io::stdout().flush();

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let stop = tokio::time::sleep(Duration::from_secs(args.max_seconds));
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut ticks = 0u64;
    let mut last_printed = None;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let snapshot = stats.snapshot();
                if let Some(path) = &args.status_file {
                    write_status(path, &snapshot.line());
                }
                ticks += 1;
                if ticks.is_multiple_of(10) && last_printed != Some(snapshot.counts()) {
                    println!(
                        "received {} messages {} recipients {} duplicates at {}",
                        snapshot.messages, snapshot.recipients, snapshot.duplicates, snapshot.last_ms
                    );
                    let _ = std::io::stdout().flush();
                    last_printed = Some(snapshot.counts());
                }
            }
        }
    }
    let snapshot = stats.snapshot();
    if let Some(path) = &args.status_file {
        write_status(path, &snapshot.line());
    }
    println!("final {}", snapshot.line());
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Replaces the status file (write a temporary file, then rename).
fn write_status(path: &Path, line: &str) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result =
        std::fs::write(&tmp, format!("{line}\n")).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        eprintln!("relay-sink: cannot write {}: {e}", path.display());
    }
}
