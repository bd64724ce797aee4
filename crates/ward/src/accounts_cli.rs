//! The account commands of the `ward` command line: `org`, `user`,
//! `passwd`, `directory`, `invite`, `audit`, `demo`. Each builds an
//! `accounts::Request`, sends it to the running daemon's admin API or,
//! when no daemon answers, opens the store and runs it itself, then prints
//! the answer for a person (or as JSON with `--json`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accounts::{
    ApplicationForm, Caller, ConnectionForm, DirectoryForm, ExportFormat, Request, Response,
    Service, SignatoryForm, SponsorForm, UserForm,
};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ward::admin::{self, ClientError};
use ward::config::Config;

/// Options every account command takes.
#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// The configuration file (TOML). Without it, the embedded default.
    #[arg(long, short, env = "WARD_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// The data folder; overrides server.data_dir. Default ./ward-data.
    #[arg(long, env = "WARD_DATA", global = true)]
    pub(crate) data: Option<PathBuf>,
    /// Act as this member (an Organisation Administrator, say) rather than
    /// as the operator; the password comes from WARD_PASSWORD or a prompt.
    #[arg(long = "as", env = "WARD_AS", global = true, value_name = "ADDRESS")]
    pub(crate) as_member: Option<String>,
    /// Print the answer as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum OrgCommand {
    /// Apply for an organisation to join (every field seed 001 asks for),
    /// from flags or from a TOML/JSON file.
    Apply(Box<ApplyArgs>),
    /// Approve an application, naming its Organisation Administrator (for
    /// an individual's application, the individual, who becomes a member
    /// of the parent organisation).
    Approve {
        /// The application number.
        application: u64,
        #[command(flatten)]
        admin: PersonArgs,
        /// The connection, when the applicant did not know it (or to
        /// change theirs): mailbox, or smtp with --gateway.
        #[arg(long, value_parser = ["mailbox", "smtp"])]
        connection: Option<String>,
        /// The gateway host for an smtp connection.
        #[arg(long, requires = "connection")]
        gateway: Option<String>,
        /// The gateway's port (default 25).
        #[arg(long, requires = "gateway")]
        gateway_port: Option<u16>,
        /// The organisation uses unsuffixed addresses internally.
        #[arg(long, requires = "gateway")]
        strip_suffix: bool,
    },
    /// Reject an application.
    Reject {
        /// The application number.
        application: u64,
        /// Why, in a sentence the applicant will understand.
        #[arg(long)]
        reason: String,
    },
    /// List organisations and applications.
    List,
    /// Show an organisation (by domain, name or number).
    Show {
        /// Domain, name or number.
        organisation: String,
    },
    /// Hold delivery to an organisation whose mail server is down: its mail
    /// waits in the queue; its users still sign in and send. Its
    /// Organisation Administrators may do this too (`--as`).
    HoldDelivery {
        /// Domain, name or number.
        organisation: String,
    },
    /// Release held delivery: the waiting mail is delivered now.
    ReleaseDelivery {
        /// Domain, name or number.
        organisation: String,
    },
    /// Suspend an organisation: its users cannot sign in or send, and its
    /// mail waits in the queue.
    Suspend {
        /// Domain, name or number.
        organisation: String,
    },
    /// Resume a suspended organisation.
    Resume {
        /// Domain, name or number.
        organisation: String,
    },
    /// List an organisation's administrators.
    Admins {
        /// Domain, name or number.
        organisation: String,
    },
    /// Gateway client certificates from Ward's CA, for SMTP-connected
    /// organisations' mail servers.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Show or set the networks (CIDR) from which an SMTP organisation's
    /// gateway is recognised over TLS without a certificate.
    Networks {
        /// Domain, name or number.
        organisation: String,
        /// The networks, e.g. 192.0.2.0/24 2001:db8::/48; none: show them.
        networks: Vec<String>,
        /// Remove every network (the gateway must present a certificate).
        #[arg(long, conflicts_with = "networks")]
        clear: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum CertCommand {
    /// Issue a client certificate for an organisation's gateway.
    Issue {
        /// Domain, name or number.
        organisation: String,
        /// Days it is valid (default 730).
        #[arg(long)]
        days: Option<u32>,
        /// Write DOMAIN.pem, DOMAIN.key (mode 0600) and ward-ca.pem here
        /// instead of printing them.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Revoke every certificate of an organisation: its gateway can no
    /// longer send as it.
    Revoke {
        /// Domain, name or number.
        organisation: String,
    },
    /// List issued certificates.
    List {
        /// Domain, name or number.
        organisation: Option<String>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct ApplyArgs {
    /// Read the application from this TOML or JSON file (same field names
    /// as `accounts::ApplicationForm`); flags are then not used.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The organisation's email domain, e.g. greenstonechambers.co.uk. A
    /// public mail provider's (gmail.com, ...) makes it an individual's
    /// application, which needs --parent.
    #[arg(long)]
    domain: Option<String>,
    /// Its full name (an individual: e.g. "John Smith (Safeguarder)").
    #[arg(long)]
    name: Option<String>,
    /// Parent organisation (domain or name).
    #[arg(long)]
    parent: Option<String>,
    /// mailbox (Ward hosts the mailboxes), smtp (its own mail server), or
    /// unknown (don't know / other: the operator decides at approval).
    #[arg(long, default_value = "mailbox")]
    connection: String,
    /// The gateway host for an smtp connection.
    #[arg(long)]
    gateway: Option<String>,
    /// The gateway's port.
    #[arg(long)]
    gateway_port: Option<u16>,
    /// The organisation uses unsuffixed addresses internally.
    #[arg(long)]
    strip_suffix: bool,
    /// Hide the organisation from the directory.
    #[arg(long)]
    ex_directory: bool,
    /// Abbreviation for forename.surname@ABBREV.<suffix> addresses.
    #[arg(long)]
    abbreviation: Option<String>,
    /// Why the organisation needs access.
    #[arg(long)]
    reason: Option<String>,
    /// How many users it expects.
    #[arg(long)]
    users: Option<u32>,
    /// A sponsor as "Name|Organisation|address|Position" (repeat for more).
    #[arg(long = "sponsor")]
    sponsors: Vec<String>,
    /// The primary signatory's name.
    #[arg(long)]
    signatory_name: Option<String>,
    /// The primary signatory's position.
    #[arg(long)]
    signatory_position: Option<String>,
    /// The primary signatory's address.
    #[arg(long)]
    signatory_address: Option<String>,
    /// The version of the terms and conditions the signatory accepts.
    #[arg(long)]
    accept_terms: Option<String>,
    /// First line of the postal address (an individual: their own).
    #[arg(long)]
    address1: Option<String>,
    /// Second line of the postal address.
    #[arg(long)]
    address2: Option<String>,
    /// Town or city.
    #[arg(long)]
    town: Option<String>,
    /// Postcode.
    #[arg(long)]
    postcode: Option<String>,
    /// Telephone number.
    #[arg(long)]
    telephone: Option<String>,
    /// Geographic location of the head office, e.g. Scotland (the
    /// directory's CJ Area).
    #[arg(long)]
    location: Option<String>,
    /// Line of business or practice area, e.g. Solicitors (the directory's
    /// Business Type).
    #[arg(long)]
    business_type: Option<String>,
}

/// A person to create an account for.
#[derive(Args, Debug)]
pub(crate) struct PersonArgs {
    /// First name.
    #[arg(long)]
    first_name: String,
    /// Last name.
    #[arg(long)]
    last_name: String,
    /// Their existing address in the organisation's domain (for
    /// organisations without an abbreviation).
    #[arg(long)]
    existing_address: Option<String>,
    /// Where system notices go.
    #[arg(long)]
    notice_address: Option<String>,
}

#[derive(Args, Debug, Default)]
pub(crate) struct DirectoryArgs {
    /// Telephone.
    #[arg(long)]
    telephone: Option<String>,
    /// Mobile.
    #[arg(long)]
    mobile: Option<String>,
    /// Description (job title, team).
    #[arg(long)]
    description: Option<String>,
    /// First address line.
    #[arg(long)]
    address1: Option<String>,
    /// Second address line.
    #[arg(long)]
    address2: Option<String>,
    /// Town or city.
    #[arg(long)]
    town: Option<String>,
    /// Postcode.
    #[arg(long)]
    postcode: Option<String>,
    /// Business type.
    #[arg(long)]
    business_type: Option<String>,
    /// Criminal-justice area.
    #[arg(long)]
    cj_area: Option<String>,
}

impl DirectoryArgs {
    fn form(&self) -> DirectoryForm {
        DirectoryForm {
            telephone: self.telephone.clone(),
            mobile: self.mobile.clone(),
            description: self.description.clone(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            town: self.town.clone(),
            postcode: self.postcode.clone(),
            business_type: self.business_type.clone(),
            cj_area: self.cj_area.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum UserCommand {
    /// Add a user; prints the one-time password once.
    Add {
        /// The organisation (domain, name or number).
        #[arg(long = "org")]
        organisation: String,
        #[command(flatten)]
        person: PersonArgs,
        /// user or org-admin.
        #[arg(long, default_value = "user")]
        role: String,
        /// Hide the user from the directory.
        #[arg(long)]
        ex_directory: bool,
        #[command(flatten)]
        directory: DirectoryArgs,
    },
    /// Add every user in a CSV file (all or none); prints or writes the
    /// one-time passwords.
    Import {
        /// The CSV file; columns first_name, last_name and optionally
        /// existing_address, role, notice_address, telephone, mobile,
        /// description, address1, address2, town, postcode, business_type,
        /// cj_area, ex_directory.
        file: PathBuf,
        /// The organisation (domain, name or number).
        #[arg(long = "org")]
        organisation: String,
        /// Write address,one_time_password lines here (mode 0600) instead
        /// of printing them.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List users (of one organisation).
    List {
        /// The organisation (domain, name or number).
        #[arg(long = "org")]
        organisation: Option<String>,
    },
    /// Show a user.
    Show {
        /// The secure address.
        address: String,
    },
    /// Suspend a user.
    Suspend {
        /// The secure address.
        address: String,
    },
    /// Reactivate a suspended user.
    Reactivate {
        /// The secure address.
        address: String,
    },
    /// Unlock a locked user.
    Unlock {
        /// The secure address.
        address: String,
    },
    /// Delete a user (the mailbox goes after the retention period).
    Delete {
        /// The secure address.
        address: String,
    },
    /// Issue a new one-time password.
    Reset {
        /// The secure address.
        address: String,
    },
    /// Change a user's directory entry.
    Update {
        /// The secure address.
        address: String,
        #[command(flatten)]
        directory: DirectoryArgs,
        /// Hide (true) or show (false) in the directory.
        #[arg(long)]
        ex_directory: Option<bool>,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum DirectoryCommand {
    /// Find members by name, organisation or address.
    Search {
        /// Text to look for.
        text: String,
    },
    /// Export the directory.
    Export {
        /// csv (the service's spreadsheet columns) or vcard (address books).
        #[arg(long, value_parser = ["csv", "vcard"], default_value = "csv")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// `ward queue ...`: the outbound queue.
#[derive(Subcommand, Debug)]
pub(crate) enum QueueCommand {
    /// Every queued message: id, sender, recipients, destination, age,
    /// attempts, last error.
    List,
    /// One queued message, recipient by recipient.
    Show {
        /// The queue id (from `ward queue list`).
        id: u64,
    },
    /// Stop trying a message until it is released.
    Hold {
        /// The queue id.
        id: u64,
    },
    /// Release a held message; it is tried at once.
    Release {
        /// The queue id.
        id: u64,
    },
    /// Remove a message from the queue without delivering it (no bounce).
    Delete {
        /// The queue id.
        id: u64,
    },
    /// Try queued mail now, ignoring retry times and back-off.
    Flush {
        /// Only this destination: gateway host, domain or organisation name.
        destination: Option<String>,
    },
}

/// Builds the request of `ward queue ...`.
pub(crate) fn queue_request(command: QueueCommand) -> Request {
    match command {
        QueueCommand::List => Request::QueueList,
        QueueCommand::Show { id } => Request::QueueShow { id },
        QueueCommand::Hold { id } => Request::QueueHold { id },
        QueueCommand::Release { id } => Request::QueueRelease { id },
        QueueCommand::Delete { id } => Request::QueueDelete { id },
        QueueCommand::Flush { destination } => Request::QueueFlush { destination },
    }
}

fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn print_queue_entry(e: &accounts::QueueEntryView, detail: bool) {
    let sender = if e.sender.is_empty() { "<>" } else { &e.sender };
    println!(
        "{:<8} {:<36} {:>6} {:>3} tries  {}{}",
        e.id,
        sender,
        age(e.age_seconds),
        e.attempts,
        e.destinations.join(","),
        if e.held { "  HELD" } else { "" }
    );
    if detail {
        println!(
            "         queued {}  next attempt {}  {} bytes",
            e.queued_at, e.next_attempt_at, e.size
        );
    }
    for r in &e.recipients {
        if !detail && matches!(r.state.as_str(), "delivered") {
            continue;
        }
        println!(
            "           {:<40} {:<9} {}",
            r.address,
            r.state,
            r.detail.as_deref().unwrap_or("")
        );
    }
}

/// Builds the request of `ward org ...`, and where to write its files.
pub(crate) fn org_request(command: OrgCommand) -> anyhow::Result<(Request, Option<PathBuf>)> {
    if let OrgCommand::Cert(cert) = command {
        return Ok(match cert {
            CertCommand::Issue {
                organisation,
                days,
                out_dir,
            } => (Request::OrgCertIssue { organisation, days }, out_dir),
            CertCommand::Revoke { organisation } => (Request::OrgCertRevoke { organisation }, None),
            CertCommand::List { organisation } => (Request::OrgCertList { organisation }, None),
        });
    }
    let request = match command {
        OrgCommand::Apply(args) => Request::OrgApply(application(*args)?),
        OrgCommand::Approve {
            application,
            admin,
            connection,
            gateway,
            gateway_port,
            strip_suffix,
        } => Request::OrgApprove {
            application,
            admin: person(admin, None, "org-admin"),
            connection: connection.map(|connection| ConnectionForm {
                connection,
                gateway,
                gateway_port,
                strip_suffix,
            }),
        },
        OrgCommand::Reject {
            application,
            reason,
        } => Request::OrgReject {
            application,
            reason,
        },
        OrgCommand::List => Request::OrgList,
        OrgCommand::Show { organisation } => Request::OrgShow { organisation },
        OrgCommand::HoldDelivery { organisation } => Request::OrgDelivery {
            organisation,
            held: true,
        },
        OrgCommand::ReleaseDelivery { organisation } => Request::OrgDelivery {
            organisation,
            held: false,
        },
        OrgCommand::Suspend { organisation } => Request::OrgSuspend { organisation },
        OrgCommand::Resume { organisation } => Request::OrgResume { organisation },
        OrgCommand::Admins { organisation } => Request::OrgAdmins { organisation },
        OrgCommand::Networks {
            organisation,
            networks,
            clear,
        } => Request::OrgNetworks {
            organisation,
            networks: (clear || !networks.is_empty()).then_some(networks),
        },
        OrgCommand::Cert(_) => unreachable!("handled above"),
    };
    Ok((request, None))
}

fn person(p: PersonArgs, organisation: Option<String>, role: &str) -> UserForm {
    UserForm {
        organisation: organisation.unwrap_or_default(),
        first_name: p.first_name,
        last_name: p.last_name,
        existing_address: p.existing_address,
        role: Some(role.to_owned()),
        notice_address: p.notice_address,
        ..UserForm::default()
    }
}

fn application(args: ApplyArgs) -> anyhow::Result<ApplicationForm> {
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        return if is_json {
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid application", path.display()))
        } else {
            toml::from_str(&text)
                .with_context(|| format!("{} is not a valid application", path.display()))
        };
    }
    let mut sponsors = Vec::new();
    for s in &args.sponsors {
        let parts: Vec<&str> = s.split('|').map(str::trim).collect();
        let [name, organisation, address, position] = parts[..] else {
            bail!("--sponsor {s:?} must be \"Name|Organisation|address|Position\"");
        };
        sponsors.push(SponsorForm {
            name: name.to_owned(),
            organisation: organisation.to_owned(),
            address: address.to_owned(),
            position: position.to_owned(),
        });
    }
    Ok(ApplicationForm {
        domain: args.domain.unwrap_or_default(),
        name: args.name.unwrap_or_default(),
        parent: args.parent,
        connection: args.connection,
        gateway: args.gateway,
        gateway_port: args.gateway_port,
        strip_suffix: args.strip_suffix,
        ex_directory: args.ex_directory,
        abbreviation: args.abbreviation,
        reason: args.reason.unwrap_or_default(),
        expected_users: args.users.unwrap_or(0),
        sponsors,
        signatory: SignatoryForm {
            name: args.signatory_name.unwrap_or_default(),
            position: args.signatory_position.unwrap_or_default(),
            address: args.signatory_address.unwrap_or_default(),
            accepts_terms: args.accept_terms.unwrap_or_default(),
        },
        address1: args.address1.unwrap_or_default(),
        address2: args.address2.unwrap_or_default(),
        town: args.town.unwrap_or_default(),
        postcode: args.postcode.unwrap_or_default(),
        telephone: args.telephone.unwrap_or_default(),
        location: args.location.unwrap_or_default(),
        business_type: args.business_type.unwrap_or_default(),
    })
}

/// Builds the request of `ward user ...`; also returns where to write
/// imported passwords.
pub(crate) fn user_request(command: UserCommand) -> anyhow::Result<(Request, Option<PathBuf>)> {
    Ok(match command {
        UserCommand::Add {
            organisation,
            person: p,
            role,
            ex_directory,
            directory,
        } => {
            let mut form = person(p, Some(organisation), &role);
            form.ex_directory = ex_directory;
            form.directory = directory.form();
            (Request::UserAdd(form), None)
        }
        UserCommand::Import {
            file,
            organisation,
            output,
        } => {
            let csv = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            (Request::UserImport { organisation, csv }, output)
        }
        UserCommand::List { organisation } => (Request::UserList { organisation }, None),
        UserCommand::Show { address } => (Request::UserShow { address }, None),
        UserCommand::Suspend { address } => (Request::UserSuspend { address }, None),
        UserCommand::Reactivate { address } => (Request::UserReactivate { address }, None),
        UserCommand::Unlock { address } => (Request::UserUnlock { address }, None),
        UserCommand::Delete { address } => (Request::UserDelete { address }, None),
        UserCommand::Reset { address } => (Request::UserReset { address }, None),
        UserCommand::Update {
            address,
            directory,
            ex_directory,
        } => (
            Request::UserUpdate {
                address,
                directory: directory.form(),
                ex_directory,
            },
            None,
        ),
    })
}

pub(crate) fn directory_request(command: DirectoryCommand) -> (Request, Option<PathBuf>) {
    match command {
        DirectoryCommand::Search { text } => (Request::DirectorySearch { text }, None),
        DirectoryCommand::Export { format, output } => (
            Request::DirectoryExport {
                format: if format == "vcard" {
                    ExportFormat::Vcard
                } else {
                    ExportFormat::Csv
                },
            },
            output,
        ),
    }
}

/// Reads the lines `ward passwd` needs: from the terminal without echo,
/// or, when standard input is not a terminal, one per line from it.
pub(crate) fn passwd_request(address: Option<String>) -> anyhow::Result<Request> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let address = match address {
            Some(a) => a,
            None => {
                print!("Address: ");
                std::io::stdout().flush()?;
                let mut line = String::new();
                stdin.lock().read_line(&mut line)?;
                line.trim().to_owned()
            }
        };
        let current = rpassword::prompt_password("Current (or one-time) password: ")?;
        let new = rpassword::prompt_password("New password (at least 12 characters): ")?;
        let again = rpassword::prompt_password("New password again: ")?;
        if new != again {
            bail!("the two new passwords differ; nothing was changed");
        }
        return Ok(Request::Passwd {
            address,
            current,
            new,
        });
    }
    let mut lines = stdin.lock().lines();
    let mut next = |what: &str| -> anyhow::Result<String> {
        match lines.next() {
            Some(line) => Ok(line?.trim_end_matches('\r').to_owned()),
            None => bail!("standard input ended before the {what}"),
        }
    };
    let address = match address {
        Some(a) => a,
        None => next("address")?,
    };
    let current = next("current password")?;
    let new = next("new password")?;
    Ok(Request::Passwd {
        address,
        current,
        new,
    })
}

/// The member password for `--as`: WARD_PASSWORD, or a prompt.
pub(crate) fn member_password(address: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("WARD_PASSWORD") {
        return Ok(p);
    }
    Ok(rpassword::prompt_password(format!(
        "Password for {address}: "
    ))?)
}

/// Why an account command failed, for the exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The request was refused; the message says why.
    #[error("{0}")]
    Refused(String),
    /// Anything else (store, I/O).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Sends the request to the daemon, or runs it on the store when no daemon
/// is running.
pub(crate) async fn execute(
    config: &Config,
    common: &Common,
    request: Request,
) -> Result<Response, Failure> {
    let member = match &common.as_member {
        Some(address) => Some((address.clone(), member_password(address)?)),
        None => None,
    };
    let creds = member.as_ref().map(|(a, p)| (a.as_str(), p.as_str()));
    match admin::call(&config.admin_socket, &request, creds).await {
        Ok(response) => Ok(response),
        Err(ClientError::Refused { message, .. }) => Err(Failure::Refused(message)),
        Err(ClientError::NotRunning { .. }) => {
            let config = config.clone();
            tokio::task::spawn_blocking(move || local(&config, request, member))
                .await
                .map_err(|e| Failure::Other(anyhow::anyhow!("the operation panicked: {e}")))?
        }
        Err(e) => Err(Failure::Other(e.into())),
    }
}

/// Opens the store directly (the daemon is stopped) for the account
/// operations; returns them with the audit source `cli user=NAME`.
pub(crate) fn local_service(config: &Config) -> Result<(Service, String), Failure> {
    let dir = config.data_dir.join("store");
    if !dir.exists() {
        return Err(Failure::Other(anyhow::anyhow!(
            "no daemon is running and there is no store at {} yet: start Ward once with `ward serve`",
            dir.display()
        )));
    }
    let store = store::Store::open(&dir).map_err(|e| Failure::Other(e.into()))?;
    let service = Service::new(
        Arc::new(store),
        config.accounts.clone(),
        accounts::clock::from_env(),
    );
    let source = format!(
        "cli user={}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
    );
    Ok((service, source))
}

/// Runs the request on the store directly (the daemon is stopped).
fn local(
    config: &Config,
    request: Request,
    member: Option<(String, String)>,
) -> Result<Response, Failure> {
    let (service, source) = local_service(config)?;
    let result = (|| {
        let actor = match member {
            None => accounts::Actor::Operator,
            Some((address, password)) => service.login(&address, &password, &source)?.actor(),
        };
        service.execute(
            &Caller {
                actor,
                source: source.clone(),
            },
            request,
        )
    })();
    service
        .store()
        .flush()
        .map_err(|e| Failure::Other(e.into()))?;
    result.map_err(|e| match e {
        accounts::AdminError::Store(e) => Failure::Other(e.into()),
        other => Failure::Refused(other.to_string()),
    })
}

/// Prints an answer for a person, or as JSON; `output` receives exported
/// content or imported passwords instead of standard output.
pub(crate) fn print(response: &Response, json: bool, output: Option<&Path>) -> anyhow::Result<()> {
    if json && output.is_none() {
        println!("{}", serde_json::to_string_pretty(response)?);
        return Ok(());
    }
    match response {
        Response::Certificate { .. } => print_certificate(response, output)?,
        Response::Certificates { certificates } => {
            if certificates.is_empty() {
                println!("no gateway certificates issued");
            }
            for c in certificates {
                println!(
                    "{:<30} issued {}  until {}  {}  {}",
                    c.organisation,
                    c.issued_at,
                    c.not_after,
                    c.revoked_at
                        .as_ref()
                        .map_or_else(|| "valid".to_owned(), |r| format!("REVOKED {r}")),
                    c.fingerprint
                );
            }
        }
        Response::Done { message } => println!("{message}"),
        Response::Queue { entries } => {
            if entries.is_empty() {
                println!("the queue is empty");
            }
            for e in entries {
                print_queue_entry(e, false);
            }
            if !entries.is_empty() {
                println!("{} queued message(s)", entries.len());
            }
        }
        Response::QueueEntry { entry } => print_queue_entry(entry, true),
        Response::Applied {
            application,
            domain,
        } => {
            println!(
                "Application {application} for {domain} recorded; an operator will approve or reject it."
            );
        }
        Response::Approved {
            organisation,
            admin,
        } => {
            println!(
                "{} approved and connected as {}.",
                organisation.name,
                organisation.domains.join(", ")
            );
            println!("Organisation Administrator: {}", admin.address);
            println!("One-time password:          {}", admin.password);
            println!("(shown once; it must be changed at first login with `ward passwd`)");
        }
        Response::Joined {
            applicant,
            organisation,
            account,
        } => {
            println!(
                "{applicant} approved as an individual member of {}.",
                organisation.name
            );
            println!("Secure address:    {}", account.address);
            println!("One-time password: {}", account.password);
            println!("(shown once; it must be changed at first login with `ward passwd`)");
        }
        Response::Organisations {
            organisations,
            applications,
        } => {
            println!("Organisations:");
            if organisations.is_empty() {
                println!("  (none)");
            }
            for o in organisations {
                println!(
                    "  {:>3}  {:<30} {:<10} {:>4} users  {}  {}",
                    o.id,
                    o.name,
                    o.state,
                    o.users,
                    o.domains.join(", "),
                    o.connection
                );
            }
            println!("Applications:");
            if applications.is_empty() {
                println!("  (none)");
            }
            for a in applications {
                println!(
                    "  {:>3}  {:<30} {:<28} {}  {}",
                    a.id, a.name, a.domain, a.submitted_at, a.state
                );
                match (&a.parent, a.individual) {
                    (Some(p), true) => println!("       individual, joining {p}"),
                    (Some(p), false) => println!("       parent {p}; connection {}", a.connection),
                    (None, _) => println!("       connection {}", a.connection),
                }
                println!(
                    "       {}; {}; {}, {}",
                    a.address, a.telephone, a.location, a.business_type
                );
            }
        }
        Response::Organisation {
            organisation: o,
            admins,
        } => {
            println!("{} (number {})", o.name, o.id);
            println!("  domains       {}", o.domains.join(", "));
            if let Some(a) = &o.abbreviation {
                println!("  abbreviation  {a}");
            }
            println!("  connection    {}", o.connection);
            if let Some(p) = &o.parent {
                println!("  parent        {p}");
            }
            println!("  state         {}", o.state);
            if !o.address.is_empty() {
                println!("  address       {}", o.address);
            }
            if !o.telephone.is_empty() {
                println!("  telephone     {}", o.telephone);
            }
            if !o.location.is_empty() || !o.business_type.is_empty() {
                println!("  business      {}, {}", o.business_type, o.location);
            }
            if o.delivery_held {
                println!("  delivery      held (mail waits in the queue)");
            }
            println!(
                "  ex-directory  {}",
                if o.ex_directory { "yes" } else { "no" }
            );
            println!("  users         {}", o.users);
            println!("  administrators");
            for u in admins {
                println!(
                    "    {} {} <{}>  {}",
                    u.first_name, u.last_name, u.address, u.status
                );
            }
        }
        Response::Users { users } => {
            for u in users {
                println!(
                    "{:<45} {:<24} {:<10} {:<16} {}",
                    u.address,
                    format!("{} {}", u.first_name, u.last_name),
                    u.role,
                    u.status,
                    u.organisation
                );
            }
        }
        Response::User { user: u } => {
            println!("{} {} <{}>", u.first_name, u.last_name, u.address);
            println!("  organisation  {}", u.organisation);
            println!("  role          {}", u.role);
            println!("  status        {}", u.status);
            println!(
                "  last login    {}",
                u.last_login.as_deref().unwrap_or("never")
            );
            println!(
                "  password set  {}",
                u.password_set_at.as_deref().unwrap_or("never")
            );
            println!("  failed logins {}", u.failed_logins);
            if !u.telephone.is_empty() {
                println!("  telephone     {}", u.telephone);
            }
            if !u.description.is_empty() {
                println!("  description   {}", u.description);
            }
        }
        Response::Created { users } => match output {
            Some(path) => {
                let mut text = String::from("address,one_time_password\n");
                for c in users {
                    text.push_str(&format!("{},{}\n", c.address, c.password));
                }
                write_private(path, &text)?;
                println!(
                    "{} users added; their one-time passwords are in {}",
                    users.len(),
                    path.display()
                );
            }
            None => {
                for c in users {
                    println!("{}  one-time password: {}", c.address, c.password);
                }
                println!("(shown once; each must be changed at first login with `ward passwd`)");
            }
        },
        Response::Directory { entries } => {
            if entries.is_empty() {
                println!("no one in the directory matches");
            }
            for e in entries {
                println!(
                    "{:<24} {:<30} {:<45} {}",
                    format!("{} {}", e.first_name, e.last_name),
                    e.organisation,
                    e.address,
                    e.telephone
                );
            }
        }
        Response::Export { content } => match output {
            Some(path) => {
                std::fs::write(path, content)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("directory written to {}", path.display());
            }
            None => print!("{content}"),
        },
        Response::Audit { records } => {
            for r in records {
                println!(
                    "{:>6}  {}  {:<36} {:<18} {}  [{}]",
                    r.seq, r.at, r.actor, r.action, r.detail, r.source
                );
            }
        }
        Response::AuditChecked { .. } => crate::audit_cli::print_checked(response)?,
        Response::AuditVerified {
            records,
            intact,
            problem,
        } => {
            if *intact {
                println!("audit log intact: {records} records, chain verified");
            } else {
                bail!(
                    "the audit log is NOT intact: {}",
                    problem.as_deref().unwrap_or("unknown problem")
                );
            }
        }
        Response::Demo {
            created,
            organisations,
            users,
            message,
        } => {
            println!("{message}");
            if *created {
                for o in organisations {
                    println!("  organisation  {o}");
                }
                for c in users {
                    println!("  user          {}  password: {}", c.address, c.password);
                }
            }
        }
    }
    Ok(())
}

fn print_certificate(response: &Response, output: Option<&Path>) -> anyhow::Result<()> {
    let Response::Certificate {
        organisation,
        domain,
        certificate_pem,
        key_pem,
        ca_pem,
        fingerprint,
        not_after,
    } = response
    else {
        return Ok(());
    };
    println!("Gateway certificate for {organisation} ({domain}), valid until {not_after}");
    println!("  SHA-256 fingerprint {fingerprint}");
    match output {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let cert = dir.join(format!("{domain}.pem"));
            let key = dir.join(format!("{domain}.key"));
            let ca = dir.join("ward-ca.pem");
            std::fs::write(&cert, certificate_pem)?;
            write_private(&key, key_pem)?;
            std::fs::write(&ca, ca_pem)?;
            println!("  certificate  {}", cert.display());
            println!(
                "  private key  {}  (mode 0600; install it on the gateway, then delete this copy)",
                key.display()
            );
            println!("  Ward's CA    {}", ca.display());
        }
        None => {
            print!("{certificate_pem}{key_pem}");
            println!("# Ward's CA, for the gateway to verify Ward:");
            print!("{ca_pem}");
        }
    }
    println!(
        "Configure the gateway to present this certificate when it connects to Ward's SMTP port."
    );
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
