//! `ward`: the secure mail server daemon and its operator command line.
//!
//! This file only parses arguments, sets up logging and turns results into
//! exit codes: 0 success, 1 failure, 2 invalid configuration or usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use ward::admin::{self, Status};
use ward::config::{Config, ConfigErrors, LogFormat, TlsSource};
use ward::server::Daemon;

#[derive(Parser)]
#[command(
    name = "ward",
    version,
    about = "Ward: a secure mail server for a closed community"
)]
struct Cli {
    /// Log line format; overrides the configuration's [log] format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

/// Where to find the configuration: a file, or the embedded default.
#[derive(clap::Args)]
struct Source {
    /// The configuration file (TOML). Without it, the embedded default.
    #[arg(long, short, env = "WARD_CONFIG")]
    config: Option<PathBuf>,
    /// The data folder; overrides server.data_dir. Default ./ward-data.
    #[arg(long, env = "WARD_DATA")]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve(Source),
    /// Check a configuration file and list every problem in it.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Show the running daemon's version, uptime and listeners.
    Status {
        #[command(flatten)]
        source: Source,
        /// Print the raw JSON answer.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve(source) => {
            let Some(config) = load(&source) else {
                return ExitCode::from(2);
            };
            let format = match cli.log_format {
                Some(LogFormatArg::Json) => LogFormat::Json,
                Some(LogFormatArg::Text) => LogFormat::Text,
                None => config.log_format,
            };
            ward::logging::init(format, &config.log_level);
            finish(runtime().block_on(serve(config)))
        }
        Command::Status { source, json } => {
            let Some(config) = load(&source) else {
                return ExitCode::from(2);
            };
            finish(runtime().block_on(status(&config.admin_socket, json)))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(source: &Source) -> Option<Config> {
    let loaded = match &source.config {
        Some(path) => Config::load(path, source.data.as_deref()),
        None => Config::embedded(source.data.as_deref()),
    };
    loaded.map_err(|e| print_problems(&e)).ok()
}

fn print_problems(errors: &ConfigErrors) {
    eprintln!("ward: {errors}:");
    for problem in &errors.problems {
        eprintln!("  {problem}");
    }
}

fn check_config(file: &Path) -> ExitCode {
    match Config::load(file, None) {
        Ok(config) => {
            println!("{}: valid", file.display());
            println!(
                "  host name {}, suffix {}, data in {}",
                config.hostname,
                config.suffix,
                config.data_dir.display()
            );
            for (kind, address) in &config.listeners {
                println!("  {:<12} {address}", kind.key());
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_problems(&errors);
            ExitCode::from(2)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let daemon = Daemon::start(config.clone()).await?;
    if daemon.is_first_start() {
        print_welcome(&config, &daemon);
    }
    daemon.run(CancellationToken::new()).await?;
    Ok(())
}

/// Printed once, when the data folder is new.
fn print_welcome(config: &Config, daemon: &Daemon) {
    let certificate = match &config.tls {
        TlsSource::Files { certificate, .. } => certificate.display().to_string(),
        TlsSource::SelfSigned => format!(
            "{} (self-signed for {}; clients must be told to trust it)",
            config.data_dir.join("tls").join("cert.pem").display(),
            config.hostname
        ),
    };
    println!("Ward is starting for the first time.");
    println!("  data folder   {}", config.data_dir.display());
    println!("  certificate   {certificate}");
    println!("  admin socket  {}", config.admin_socket.display());
    for (kind, address) in daemon.addresses() {
        println!("  {:<13} {address}  {}", kind.key(), kind.describe());
    }
    println!("Check on it with:  ward status");
    println!("Add the first organisation and user with `ward org apply` and `ward user add`");
    println!("(see docs/operations.md; these commands arrive with the accounts work).");
}

async fn status(socket: &Path, json: bool) -> anyhow::Result<()> {
    let status: Status = admin::get(socket, "/v1/status").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    let up = status.uptime_seconds;
    println!("Ward {} on {}", status.version, status.hostname);
    println!(
        "  uptime      {}h {}m {}s",
        up / 3600,
        up / 60 % 60,
        up % 60
    );
    println!("  data        {}", status.data_dir);
    println!("  listeners");
    for l in &status.listeners {
        println!("    {:<12} {:<24} {}", l.kind, l.address, l.description);
    }
    Ok(())
}
