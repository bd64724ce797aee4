//! `ward audit export` and `ward audit verify --checkpoint FILE`: the audit
//! commands that are more than one request and one answer. (Listing and a
//! plain `verify` go through `accounts_cli` like every account command.)

use std::io::Write as _;
use std::path::{Path, PathBuf};

use accounts::{AuditPoint, Caller, Request, Response, Service};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use ward::admin::{self, ClientError};
use ward::checkpoint;
use ward::config::Config;

use crate::accounts_cli::{Common, Failure};

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain; with --checkpoint, also that it
    /// still holds every signed checkpoint in FILE (so that a store
    /// rewritten since is detected).
    Verify {
        /// A checkpoint file the daemon wrote (`[audit] checkpoint_file`),
        /// or a copy of it kept elsewhere.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Write the records (those you may read) as JSON lines, oldest first:
    /// seq, at, at_millis, actor, action, source, detail, prev_hash, hash.
    Export {
        /// Only records from this date (YYYY-MM-DD) on.
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Sends the requests of one command to the daemon, or, when none is
/// running, to the store opened once for all of them.
enum Backend {
    Daemon { member: Option<(String, String)> },
    Local { service: Service, caller: Caller },
}

impl Backend {
    /// Asks `first`, choosing the daemon or the store on the way.
    async fn open(
        config: &Config,
        common: &Common,
        first: Request,
    ) -> Result<(Self, Response), Failure> {
        let member = match &common.as_member {
            Some(address) => Some((
                address.clone(),
                crate::accounts_cli::member_password(address)?,
            )),
            None => None,
        };
        let creds = member.as_ref().map(|(a, p)| (a.as_str(), p.as_str()));
        match admin::call(&config.admin_socket, &first, creds).await {
            Ok(response) => Ok((Self::Daemon { member }, response)),
            Err(ClientError::Refused { message, .. }) => Err(Failure::Refused(message)),
            Err(ClientError::NotRunning { .. }) => {
                let config = config.clone();
                tokio::task::spawn_blocking(move || {
                    let backend = Self::local(&config, member)?;
                    let response = backend.local_call(first)?;
                    Ok((backend, response))
                })
                .await
                .map_err(|e| Failure::Other(anyhow::anyhow!("the operation panicked: {e}")))?
            }
            Err(e) => Err(Failure::Other(e.into())),
        }
    }

    fn local(config: &Config, member: Option<(String, String)>) -> Result<Self, Failure> {
        let (service, source) = crate::accounts_cli::local_service(config)?;
        let actor = match member {
            None => accounts::Actor::Operator,
            Some((address, password)) => service
                .login(&address, &password, &source)
                .map_err(refused)?
                .actor(),
        };
        Ok(Self::Local {
            service,
            caller: Caller { actor, source },
        })
    }

    fn local_call(&self, request: Request) -> Result<Response, Failure> {
        match self {
            Self::Local { service, caller } => service.execute(caller, request).map_err(refused),
            Self::Daemon { .. } => unreachable!("only a local backend answers locally"),
        }
    }

    async fn call(&self, config: &Config, request: Request) -> Result<Response, Failure> {
        match self {
            Self::Daemon { member } => {
                let creds = member.as_ref().map(|(a, p)| (a.as_str(), p.as_str()));
                admin::call(&config.admin_socket, &request, creds)
                    .await
                    .map_err(|e| match e {
                        ClientError::Refused { message, .. } => Failure::Refused(message),
                        other => Failure::Other(other.into()),
                    })
            }
            Self::Local { .. } => tokio::task::block_in_place(|| self.local_call(request)),
        }
    }
}

fn refused(e: accounts::AdminError) -> Failure {
    match e {
        accounts::AdminError::Store(e) => Failure::Other(e.into()),
        other => Failure::Refused(other.to_string()),
    }
}

/// `ward audit export`: every readable record, a page at a time.
pub(crate) async fn export(
    config: &Config,
    common: &Common,
    since: Option<&str>,
    output: Option<&Path>,
) -> Result<(), Failure> {
    let since = match since {
        Some(s) => Some(accounts::clock::parse_date(s).ok_or_else(|| {
            Failure::Other(anyhow::anyhow!(
                "--since {s:?} is not a date like 2026-11-23"
            ))
        })?),
        None => None,
    };
    const PAGE: usize = 5000;
    let page = |after| Request::AuditExport {
        after,
        since,
        max: Some(PAGE),
    };
    let mut out: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (backend, mut response) = Backend::open(config, common, page(0)).await?;
    let mut written = 0u64;
    loop {
        let Response::Audit { records } = response else {
            return Err(Failure::Other(anyhow::anyhow!(
                "unexpected answer {response:?}"
            )));
        };
        let Some(last) = records.last().map(|r| r.seq) else {
            break;
        };
        for r in &records {
            let line = serde_json::to_string(r).map_err(anyhow::Error::from)?;
            writeln!(out, "{line}").map_err(anyhow::Error::from)?;
        }
        written += records.len() as u64;
        // A short page is the end as of that request. Asking again would
        // chase the log's head: each request of a member signed in through
        // the daemon adds its own sign-in record.
        if records.len() < PAGE {
            break;
        }
        response = backend.call(config, page(last)).await?;
    }
    out.flush().map_err(anyhow::Error::from)?;
    if let Some(path) = output {
        println!("{written} audit records written to {}", path.display());
    }
    Ok(())
}

/// `ward audit verify --checkpoint FILE`.
pub(crate) async fn verify_checkpoints(
    config: &Config,
    common: &Common,
    file: &Path,
) -> Result<(), Failure> {
    let lines = checkpoint::read(file)
        .with_context(|| format!("cannot read the checkpoint file {}", file.display()))?;
    if lines.is_empty() {
        return Err(Failure::Other(anyhow::anyhow!(
            "{} holds no checkpoints",
            file.display()
        )));
    }
    let ours = checkpoint::stored_public_key(&config.audit.key_dir).ok();
    if ours.is_none() {
        eprintln!(
            "ward: warning: cannot read this Ward's audit key in {}; each checkpoint is checked against its own key only",
            config.audit.key_dir.display()
        );
    }
    let mut problems = Vec::new();
    let mut signed = Vec::new();
    for (line, parsed) in lines {
        let checked = parsed.and_then(|c| {
            c.verify_signature()?;
            match &ours {
                Some(key) if *key != c.public_key => Err(format!(
                    "signed by key {}, not this Ward's key {key}",
                    c.public_key
                )),
                _ => Ok(c),
            }
        });
        match checked {
            Ok(c) => signed.push((line, c)),
            Err(why) => problems.push(format!("line {line}: {why}")),
        }
    }
    let points = signed
        .iter()
        .map(|(_, c)| AuditPoint {
            seq: c.seq,
            hash: c.hash.clone(),
        })
        .collect();
    let response = crate::accounts_cli::execute(
        config,
        common,
        Request::AuditCheck {
            checkpoints: points,
        },
    )
    .await?;
    let Response::AuditChecked {
        records,
        intact,
        problem,
        head,
        checkpoints,
    } = response
    else {
        return Err(Failure::Other(anyhow::anyhow!(
            "unexpected answer {response:?}"
        )));
    };
    let retention_start = unix_millis()
        .saturating_sub(i64::try_from(config.audit.retention.as_millis()).unwrap_or(i64::MAX));
    let mut confirmed = None;
    for ((line, c), outcome) in signed.iter().zip(&checkpoints) {
        let said = match outcome.outcome.as_str() {
            "contained" => {
                confirmed = Some(c);
                "held by the store".to_owned()
            }
            "purged" if c.at_millis < retention_start => format!(
                "older than the retention; the store now starts at record {}",
                outcome.first_retained.unwrap_or_default()
            ),
            "purged" => {
                problems.push(format!(
                    "line {line} (record {}): removed from the store before its retention ran out",
                    c.seq
                ));
                "REMOVED before its retention ran out".to_owned()
            }
            "differs" => {
                problems.push(format!(
                    "line {line} (record {}): the store's record there has another hash; the log was rewritten",
                    c.seq
                ));
                "NOT held: the record there differs".to_owned()
            }
            _ => {
                problems.push(format!(
                    "line {line} (record {}): the store's log ends at record {head}; it was cut or replaced",
                    c.seq
                ));
                format!("NOT held: the log ends at record {head}")
            }
        };
        println!(
            "checkpoint line {line}: record {} at {} ({}), signature good, {said}",
            c.seq, c.at, c.host
        );
    }
    if intact {
        println!("audit log intact: {records} records retained, chain verified to record {head}");
    } else {
        problems.push(format!(
            "the chain is broken: {}",
            problem.as_deref().unwrap_or("unknown problem")
        ));
    }
    if confirmed.is_none() && problems.is_empty() {
        problems.push("no checkpoint could be compared with the store".to_owned());
    }
    if !problems.is_empty() {
        return Err(Failure::Other(anyhow::anyhow!(
            "the audit log does NOT match the checkpoints in {}:\n  {}",
            file.display(),
            problems.join("\n  ")
        )));
    }
    if let Some(c) = confirmed {
        println!(
            "the store holds every checkpoint; the newest held is record {} of {}",
            c.seq, c.at
        );
    }
    Ok(())
}

/// Prints an `audit-check` answer sent on its own (`--json` aside).
pub(crate) fn print_checked(response: &Response) -> anyhow::Result<()> {
    if let Response::AuditChecked {
        records,
        intact,
        problem,
        head,
        checkpoints,
    } = response
    {
        for c in checkpoints {
            println!("record {}: {}", c.seq, c.outcome);
        }
        if !intact {
            bail!(
                "the audit log is NOT intact: {}",
                problem.as_deref().unwrap_or("unknown problem")
            );
        }
        println!("audit log intact: {records} records retained, head {head}");
    }
    Ok(())
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
