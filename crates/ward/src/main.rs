//! `ward`: the secure mail server daemon and its operator command line.
//!
//! This file only parses arguments, sets up logging and turns results into
//! exit codes: 0 success, 1 failure, 2 invalid configuration or usage.

mod accounts_cli;
mod audit_cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use accounts_cli::{Common, DirectoryCommand, Failure, OrgCommand, QueueCommand, UserCommand};
use audit_cli::AuditCommand;

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
#[allow(clippy::large_enum_variant)] // parsed once per run
enum Command {
    /// Run the daemon.
    Serve {
        #[command(flatten)]
        source: Source,
        /// Create a small demo community on first use (two organisations,
        /// a few users with their passwords printed).
        #[arg(long)]
        demo: bool,
    },
    /// Organisations: apply, approve, reject, list, show, suspend, resume.
    Org {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Users: add, import, list, show, suspend, reactivate, unlock, delete,
    /// reset, update.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Change your own password (the one-time password at first login).
    Passwd {
        #[command(flatten)]
        common: Common,
        /// Your secure address (asked for when not given).
        address: Option<String>,
    },
    /// The member directory: search and export.
    Directory {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Email a colleague an invitation to join.
    Invite {
        #[command(flatten)]
        common: Common,
        /// Their address (on a secure domain).
        address: String,
        /// Their name, for the greeting.
        #[arg(long)]
        name: Option<String>,
    },
    /// The audit log: list (newest last), export as JSON lines, or verify
    /// its chain (and signed checkpoints of it). Organisation
    /// Administrators (`--as`) see their own organisation's records.
    Audit {
        #[command(flatten)]
        common: Common,
        /// Only records from this date (YYYY-MM-DD) on.
        #[arg(long)]
        since: Option<String>,
        /// Only records about this organisation.
        #[arg(long = "org")]
        organisation: Option<String>,
        /// At most this many (the newest).
        #[arg(long)]
        limit: Option<usize>,
        #[command(subcommand)]
        command: Option<AuditCommand>,
    },
    /// The outbound queue: list, show, hold, release, delete, flush.
    Queue {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Create the demo community (once) and print its passwords.
    Demo {
        #[command(flatten)]
        common: Common,
    },
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
    // Whatever Ward or a library creates (store, keys, socket, exports)
    // is its user's alone.
    ward::private::restrict_umask();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve { source, demo } => {
            let Some(config) = load(&source) else {
                return ExitCode::from(2);
            };
            match ward::private::check(&config.data_dir) {
                Ok(Ok(())) => {}
                Ok(Err(exposed)) => {
                    eprintln!("ward: {exposed}");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!(
                        "ward: cannot read the data folder {}: {e}",
                        config.data_dir.display()
                    );
                    return ExitCode::from(2);
                }
            }
            let format = match cli.log_format {
                Some(LogFormatArg::Json) => LogFormat::Json,
                Some(LogFormatArg::Text) => LogFormat::Text,
                None => config.log_format,
            };
            ward::logging::init(format, &config.log_level);
            finish(runtime().block_on(serve(config, demo)))
        }
        Command::Org { common, command } => account(&common, accounts_cli::org_request(command)),
        Command::User { common, command } => account(&common, accounts_cli::user_request(command)),
        Command::Passwd { common, address } => account(
            &common,
            accounts_cli::passwd_request(address).map(|r| (r, None)),
        ),
        Command::Directory { common, command } => {
            account(&common, Ok(accounts_cli::directory_request(command)))
        }
        Command::Invite {
            common,
            address,
            name,
        } => account(
            &common,
            Ok((accounts::Request::Invite { address, name }, None)),
        ),
        Command::Audit {
            common,
            since,
            organisation,
            limit,
            command,
        } => {
            let request = match command {
                Some(AuditCommand::Verify {
                    checkpoint: Some(file),
                }) => {
                    return audit_command(&common.clone(), |config| async move {
                        audit_cli::verify_checkpoints(&config, &common, &file).await
                    });
                }
                Some(AuditCommand::Export { since, output }) => {
                    return audit_command(&common.clone(), |config| async move {
                        audit_cli::export(&config, &common, since.as_deref(), output.as_deref())
                            .await
                    });
                }
                Some(AuditCommand::Verify { checkpoint: None }) => {
                    Ok(accounts::Request::AuditVerify)
                }
                None => match since.as_deref().map(|s| {
                    accounts::clock::parse_date(s).ok_or_else(|| {
                        anyhow::anyhow!("--since {s:?} is not a date like 2026-11-23")
                    })
                }) {
                    Some(Err(e)) => Err(e),
                    since => Ok(accounts::Request::AuditList {
                        since: since.map(|s| s.expect("errors handled above")),
                        organisation,
                        limit,
                    }),
                },
            };
            account(&common, request.map(|r| (r, None)))
        }
        Command::Demo { common } => account(&common, Ok((accounts::Request::Demo, None))),
        Command::Queue { common, command } => {
            account(&common, Ok((accounts_cli::queue_request(command), None)))
        }
        Command::Status { source, json } => {
            let Some(config) = load(&source) else {
                return ExitCode::from(2);
            };
            finish(runtime().block_on(status(&config.admin_socket, json)))
        }
    }
}

/// Runs one account command and turns its outcome into an exit code:
/// 0 done, 1 refused or failed, 2 bad usage or configuration.
fn account(
    common: &Common,
    request: anyhow::Result<(accounts::Request, Option<PathBuf>)>,
) -> ExitCode {
    let source = Source {
        config: common.config.clone(),
        data: common.data.clone(),
    };
    let Some(config) = load(&source) else {
        return ExitCode::from(2);
    };
    let (request, output) = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ward: {e:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime().block_on(accounts_cli::execute(&config, common, request));
    match outcome {
        Ok(response) => finish(accounts_cli::print(
            &response,
            common.json,
            output.as_deref(),
        )),
        Err(Failure::Refused(message)) => {
            eprintln!("ward: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Other(e)) => {
            eprintln!("ward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one of the audit commands of `audit_cli`, with the exit codes of
/// [`account`].
fn audit_command<F, Fut>(common: &Common, command: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let source = Source {
        config: common.config.clone(),
        data: common.data.clone(),
    };
    let Some(config) = load(&source) else {
        return ExitCode::from(2);
    };
    match runtime().block_on(command(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(message)) => {
            eprintln!("ward: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Other(e)) => {
            eprintln!("ward: {e:#}");
            ExitCode::FAILURE
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

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let daemon = Daemon::start(config.clone()).await?;
    if daemon.is_first_start() {
        print_welcome(&config, &daemon);
    }
    if demo {
        let service = daemon.service().clone();
        let response = tokio::task::spawn_blocking(move || {
            service.execute(
                &accounts::Caller::operator("serve --demo"),
                accounts::Request::Demo,
            )
        })
        .await??;
        daemon.refresh_community();
        accounts_cli::print(&response, false, None)?;
        print_demo_tour(&config, &daemon);
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
    println!("Add the first organisation with `ward org apply` and `ward org approve`,");
    println!("or try Ward at once with `ward serve --demo` (see README.md).");
}

/// How to reach the demo community, printed with its passwords.
fn print_demo_tour(config: &Config, daemon: &Daemon) {
    let find = |kind: ward::config::ListenerKind| {
        daemon
            .addresses()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| a.to_string())
            .unwrap_or_else(|| "(not configured)".to_owned())
    };
    println!("Point a mail client at it (accept the self-signed certificate):");
    println!(
        "  IMAP, STARTTLS        {}",
        find(ward::config::ListenerKind::Imap)
    );
    println!(
        "  submission, STARTTLS  {}",
        find(ward::config::ListenerKind::Submission)
    );
    println!(
        "  or the directory:     ward directory search brown --data {}",
        config.data_dir.display()
    );
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
    let q = status.queue;
    println!(
        "  queue       {} message(s){}{}",
        q.messages,
        if q.held > 0 {
            format!(", {} held", q.held)
        } else {
            String::new()
        },
        if q.messages > 0 {
            format!(", oldest {}s", q.oldest_age_seconds)
        } else {
            String::new()
        }
    );
    Ok(())
}
