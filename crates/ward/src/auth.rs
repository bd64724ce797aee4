//! The password check the protocol servers use: `accounts::Service::login`
//! (with every account rule), its answer turned into each protocol's terms.

use std::net::IpAddr;

use accounts::{AccountRefusal, AdminError, Service};
use policy::{Address, AuthenticatedUser, ParseOptions, PolicyError};
use smtp_in::AuthOutcome;

/// Checks SMTP AUTH credentials against the accounts.
#[derive(Debug, Clone)]
pub struct AccountsAuthenticator(pub Service);

impl smtp_in::Authenticator for AccountsAuthenticator {
    fn authenticate(&self, username: &str, password: &str, peer: Option<IpAddr>) -> AuthOutcome {
        let source = peer.map_or_else(|| "smtp".to_owned(), |p| format!("smtp {p}"));
        let user = || {
            Address::parse(username.trim().as_bytes(), ParseOptions::smtputf8()).map_err(|e| {
                AuthOutcome::Unavailable {
                    detail: format!("stored address does not parse: {e}"),
                }
            })
        };
        match self.0.login(username, password, &source) {
            Ok(login) => match Address::parse(login.address.as_bytes(), ParseOptions::smtputf8()) {
                Ok(address) => AuthOutcome::Accepted(AuthenticatedUser::new(address)),
                Err(e) => AuthOutcome::Unavailable {
                    detail: format!("stored address {} does not parse: {e}", login.address),
                },
            },
            Err(AdminError::BadCredentials) => AuthOutcome::BadCredentials,
            Err(AdminError::AccountRefused(refusal)) => match user() {
                Ok(user) => AuthOutcome::AccountRefused(match refusal {
                    AccountRefusal::Locked => PolicyError::AccountLocked { user },
                    AccountRefusal::MustChangePassword | AccountRefusal::PasswordExpired => {
                        PolicyError::PasswordChangeRequired { user }
                    }
                    AccountRefusal::Suspended | AccountRefusal::OrganisationSuspended => {
                        PolicyError::AccountSuspended { user }
                    }
                    AccountRefusal::Deleted => PolicyError::AccountDeleted { user },
                }),
                Err(outcome) => outcome,
            },
            Err(e) => AuthOutcome::Unavailable {
                detail: e.to_string(),
            },
        }
    }
}
