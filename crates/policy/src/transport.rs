//! Transport rules: what a session must have done before a command, and
//! whether a signed-in account may send at all. No `MAIL`, `RCPT` or `AUTH`
//! without TLS (`530 5.7.0`, RFC 3207); submission needs authentication
//! (RFC 6409, RFC 4954); an account that is locked, not activated, suspended,
//! deleted or must change its password is refused with a reply saying which
//! and what to do. Who may send *as* whom is decided with the sender, in
//! [`crate::Community::check_sender`].

use crate::address::Address;
use crate::error::PolicyError;

/// Which listener the session arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Port 25: organisations' gateways and external secure servers.
    Relay,
    /// Ports 587/465: signed-in users' mail programs.
    Submission,
}

/// The commands the transport rules guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardedCommand {
    /// `AUTH`.
    Auth,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
}

/// What the session has established so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionState {
    /// TLS is active (after STARTTLS, or implicit TLS).
    pub tls: bool,
    /// The client has authenticated (SMTP AUTH succeeded).
    pub authenticated: bool,
}

/// Checks that `command` may be issued now.
///
/// # Errors
///
/// [`PolicyError::TlsRequired`] before TLS; on the submission listener,
/// [`PolicyError::AuthenticationRequired`] for `MAIL` and `RCPT` before AUTH.
pub fn check_command(
    listener: Listener,
    command: GuardedCommand,
    state: SessionState,
) -> Result<(), PolicyError> {
    if !state.tls {
        return Err(PolicyError::TlsRequired);
    }
    if listener == Listener::Submission && command != GuardedCommand::Auth && !state.authenticated {
        return Err(PolicyError::AuthenticationRequired);
    }
    Ok(())
}

/// An account's status, as the store records it (the CJSM statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// May sign in and send.
    Active,
    /// Locked after failed sign-ins or long disuse.
    Locked,
    /// A new account never activated in time.
    NewUserLocked,
    /// Suspended by its administrator.
    Suspended,
    /// Deleted.
    Deleted,
}

/// The facts about a signed-in account the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    /// The account's address.
    pub address: Address,
    /// Its status.
    pub status: AccountStatus,
    /// It holds a one-time or expired password that must be changed first.
    pub must_change_password: bool,
}

/// Checks that an account whose password was just verified may use the
/// service.
///
/// # Errors
///
/// [`PolicyError::AccountLocked`], [`PolicyError::AccountNotActivated`],
/// [`PolicyError::AccountSuspended`], [`PolicyError::AccountDeleted`], or
/// [`PolicyError::PasswordChangeRequired`].
pub fn check_account(account: &AccountState) -> Result<(), PolicyError> {
    let user = account.address.clone();
    match account.status {
        AccountStatus::Locked => Err(PolicyError::AccountLocked { user }),
        AccountStatus::NewUserLocked => Err(PolicyError::AccountNotActivated { user }),
        AccountStatus::Suspended => Err(PolicyError::AccountSuspended { user }),
        AccountStatus::Deleted => Err(PolicyError::AccountDeleted { user }),
        AccountStatus::Active if account.must_change_password => {
            Err(PolicyError::PasswordChangeRequired { user })
        }
        AccountStatus::Active => Ok(()),
    }
}
