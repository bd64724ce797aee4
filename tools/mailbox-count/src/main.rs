//! `mailbox-count`: prints how many messages one user's mailbox holds in a
//! Ward store, opened directly while the daemon is stopped.
//!
//! The SMTP acceptance benchmark (`tools/bench-smtp.sh`) uses it after
//! killing Ward to check that every message answered with `250` was stored:
//! the count must equal the load tool's accepted total. It only reads (sled
//! replays its log on open); it must not run while `ward serve` holds the
//! store.
//!
//! ```text
//! mailbox-count --store ward-data/store anna.jones@greenstonechambers.co.uk.cjsm.net
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "mailbox-count",
    about = "Count a mailbox's messages in a stopped Ward store"
)]
struct Args {
    /// The store folder (the daemon's data_dir/store).
    #[arg(long)]
    store: PathBuf,
    /// The mailbox name.
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// The user's address.
    address: String,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(count) => {
            println!("{count}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mailbox-count: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the store and reads the mailbox's message counter.
fn run(args: Args) -> anyhow::Result<u64> {
    let store = store::Store::open(&args.store)
        .with_context(|| format!("cannot open the store {}", args.store.display()))?;
    let (user, _) = store
        .user_by_address(&args.address)?
        .with_context(|| format!("no user {}", args.address))?;
    let mailbox = store
        .mailbox_by_name(user, &args.mailbox)?
        .with_context(|| format!("{} has no mailbox {}", args.address, args.mailbox))?;
    Ok(mailbox.messages)
}
