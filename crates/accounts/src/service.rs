//! [`Service`]: the one place every account operation runs, whoever calls
//! it (the admin API, the command line on a stopped daemon, the protocol
//! servers' logins). It checks the caller's role, does the work through the
//! store, and appends what it did to the audit log.

use std::sync::Arc;

use store::{
    AccountStatus, AuditEvent, ConnectionKind, OrgId, OrgState, Organisation, Role, Store, User,
    UserId,
};

use crate::api::{OrgView, Request, Response, UserView};
use crate::clock::{Clock, format_utc};
use crate::error::{AccountRefusal, AdminError};
use crate::settings::{Settings, secs};
use crate::{directory, orgs, password, users};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service operator: whoever can reach the admin socket or open the
    /// store (the `ward` system user, root).
    Operator,
    /// A logged-in member.
    User {
        /// Their id.
        id: UserId,
        /// Their address.
        address: String,
        /// Their role.
        role: Role,
        /// Their organisation.
        organisation: OrgId,
    },
}

impl Actor {
    /// The name written in the audit log.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Operator => "operator".to_owned(),
            Self::User { address, .. } => address.clone(),
        }
    }

    pub(crate) fn is_operator(&self) -> bool {
        matches!(self, Self::Operator)
            || matches!(
                self,
                Self::User {
                    role: Role::Operator,
                    ..
                }
            )
    }

    /// The organisation whose members this actor may see when ex-directory.
    pub(crate) fn organisation(&self) -> Option<OrgId> {
        match self {
            Self::Operator => None,
            Self::User { organisation, .. } => Some(*organisation),
        }
    }

    /// Operators, and the Organisation Administrators of `org`, manage its
    /// users.
    pub(crate) fn may_manage(&self, org: OrgId) -> bool {
        self.is_operator()
            || matches!(self, Self::User { role: Role::OrgAdmin, organisation, .. } if *organisation == org)
    }
}

/// A caller and where the call came from (for the audit log).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// From where: `admin-socket`, `cli`, a peer address.
    pub source: String,
}

impl Caller {
    /// The operator, calling from `source`.
    pub fn operator(source: impl Into<String>) -> Self {
        Self {
            actor: Actor::Operator,
            source: source.into(),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user.
    pub id: UserId,
    /// Their canonical address, as stored.
    pub address: String,
    /// Their role.
    pub role: Role,
    /// Their organisation.
    pub organisation: OrgId,
}

impl Login {
    /// The actor this login acts as.
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            address: self.address.clone(),
            role: self.role,
            organisation: self.organisation,
        }
    }
}

/// The account operations over one store.
#[derive(Debug, Clone)]
pub struct Service {
    pub(crate) store: Arc<Store>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ca: Option<Arc<transport::ca::CertificateAuthority>>,
    pub(crate) verified: Arc<crate::verified::VerifiedCache>,
}

impl Service {
    /// The operations over `store` with these rules and clock.
    pub fn new(store: Arc<Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            clock,
            ca: None,
            verified: Arc::default(),
        }
    }

    /// The same, issuing gateway certificates from `ca`.
    pub fn with_ca(mut self, ca: Arc<transport::ca::CertificateAuthority>) -> Self {
        self.ca = Some(ca);
        self
    }

    /// Logins whose password check was answered from the cache of recent
    /// successful verifications rather than by argon2id.
    pub fn cached_logins(&self) -> u64 {
        self.verified.hits()
    }

    /// The rules in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs one operation for `caller`. Blocking (argon2, store flushes):
    /// async callers use `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`AdminError`], whose message is meant for the caller.
    pub fn execute(&self, caller: &Caller, request: Request) -> Result<Response, AdminError> {
        match request {
            Request::OrgApply(form) => orgs::apply(self, caller, &form),
            Request::OrgApprove {
                application,
                admin,
                connection,
            } => orgs::approve(self, caller, application, &admin, connection.as_ref()),
            Request::OrgReject {
                application,
                reason,
            } => orgs::reject(self, caller, application, &reason),
            Request::OrgList => orgs::list(self, caller),
            Request::OrgShow { organisation } => orgs::show(self, caller, &organisation),
            Request::OrgSuspend { organisation } => {
                orgs::set_state(self, caller, &organisation, OrgState::Suspended)
            }
            Request::OrgDelivery { organisation, held } => {
                orgs::set_delivery_held(self, caller, &organisation, held)
            }
            Request::OrgResume { organisation } => {
                orgs::set_state(self, caller, &organisation, OrgState::Active)
            }
            Request::OrgAdmins { organisation } => orgs::admins(self, caller, &organisation),
            Request::OrgCertIssue { organisation, days } => {
                crate::certs::issue(self, caller, &organisation, days.unwrap_or(730))
            }
            Request::OrgCertRevoke { organisation } => {
                crate::certs::revoke(self, caller, &organisation)
            }
            Request::OrgCertList { organisation } => {
                crate::certs::list(self, caller, organisation.as_deref())
            }
            Request::OrgNetworks {
                organisation,
                networks,
            } => crate::certs::networks(self, caller, &organisation, networks),
            Request::QueueList => crate::queue::list(self, caller),
            Request::QueueShow { id } => crate::queue::show(self, caller, id),
            Request::QueueHold { id } => crate::queue::hold(self, caller, id, true),
            Request::QueueRelease { id } => crate::queue::hold(self, caller, id, false),
            Request::QueueDelete { id } => crate::queue::delete(self, caller, id),
            Request::QueueFlush { destination } => {
                crate::queue::flush(self, caller, destination.as_deref())
            }
            Request::UserAdd(form) => users::add(self, caller, &form),
            Request::UserImport { organisation, csv } => {
                users::import(self, caller, &organisation, &csv)
            }
            Request::UserList { organisation } => {
                users::list(self, caller, organisation.as_deref())
            }
            Request::UserShow { address } => users::show(self, caller, &address),
            Request::UserSuspend { address } => users::suspend(self, caller, &address),
            Request::UserReactivate { address } => users::reactivate(self, caller, &address),
            Request::UserUnlock { address } => users::unlock(self, caller, &address),
            Request::UserDelete { address } => users::delete(self, caller, &address),
            Request::UserReset { address } => users::reset(self, caller, &address),
            Request::UserUpdate {
                address,
                directory,
                ex_directory,
            } => users::update(self, caller, &address, &directory, ex_directory),
            Request::Passwd {
                address,
                current,
                new,
            } => users::passwd(self, caller, &address, &current, &new),
            Request::DirectorySearch { text } => directory::search(self, caller, &text),
            Request::DirectoryExport { format } => directory::export(self, caller, format),
            Request::Invite { address, name } => {
                crate::invite::invite(self, caller, &address, name.as_deref())
            }
            Request::AuditList {
                since,
                organisation,
                limit,
            } => crate::audit::list(self, caller, since, organisation.as_deref(), limit),
            Request::AuditVerify => crate::audit::verify(self, caller),
            Request::AuditExport { after, since, max } => {
                crate::audit::export(self, caller, after, since, max)
            }
            Request::AuditCheck { checkpoints } => crate::audit::check(self, caller, &checkpoints),
            Request::Demo => crate::demo::create(self, caller),
        }
    }

    /// Checks a password for the protocol servers and the admin API, with
    /// every rule: failed-login counting and lock, inactivity lock,
    /// one-time password, expiry, suspension. Blocking (argon2).
    ///
    /// # Errors
    ///
    /// [`AdminError::BadCredentials`] (unknown address or wrong password
    /// alike), [`AdminError::AccountRefused`], [`AdminError::Store`].
    pub fn login(&self, address: &str, password: &str, source: &str) -> Result<Login, AdminError> {
        let (id, user) = self.check_password(address, password, source)?;
        let now = self.now();
        if let Some(refusal) = self.refusal(&user, now) {
            if refusal == AccountRefusal::Locked && user.status == AccountStatus::Active {
                // Unused too long: the lock is recorded, not just reported.
                self.store.update_user(id, |u| {
                    u.status = AccountStatus::Locked;
                    u.locked_at = Some(now);
                })?;
                self.audit_as(
                    &user.address,
                    source,
                    "user.lock",
                    &format!("user={} reason=inactivity", user.address),
                )?;
            }
            self.audit_as(
                &user.address,
                source,
                "login.failed",
                &format!("user={} reason={}", user.address, refusal_code(refusal)),
            )?;
            return Err(AdminError::AccountRefused(refusal));
        }
        // Every sign-in is on the record. A client that reconnects often
        // costs one durable write each time, shared with other writers
        // (group commit); the last login is kept to the minute and goes
        // into the same batch when it changes.
        let event = AuditEvent {
            actor: user.address.clone(),
            action: "login".to_owned(),
            source: source.to_owned(),
            detail: format!("user={}", user.address),
        };
        let organisations = [user.organisation];
        if user.failed_attempts != 0 || user.last_login.is_none_or(|t| now - t >= 60) {
            self.store.update_user_audited(
                id,
                |u| {
                    u.failed_attempts = 0;
                    u.last_login = Some(now);
                },
                &event,
                &organisations,
            )?;
        } else {
            self.store.audit_for(&event, &organisations)?;
        }
        Ok(Login {
            id,
            address: user.address,
            role: user.role,
            organisation: user.organisation,
        })
    }

    /// Verifies address and password only, counting failures and applying
    /// (and lifting, when it has run out) the failed-login lock. Returns the
    /// user as stored after that bookkeeping.
    pub(crate) fn check_password(
        &self,
        address: &str,
        password: &str,
        source: &str,
    ) -> Result<(UserId, User), AdminError> {
        // An unknown name is on the record too, as typed (cleaned and
        // shortened): guessing at addresses is worth seeing. Repeated
        // guessing is bounded by the protocol servers' per-address
        // throttle, which stops checking (and so writing) after a few.
        let unknown = |reason: &str| -> Result<(UserId, User), AdminError> {
            password::verify_dummy(password);
            let typed: String = address
                .chars()
                .filter(|c| !c.is_control() && !c.is_whitespace())
                .take(100)
                .collect();
            self.audit_as(
                &typed,
                source,
                "login.failed",
                &format!("user={typed} reason={reason}"),
            )?;
            Err(AdminError::BadCredentials)
        };
        let Some((id, mut user)) = self.store.user_by_address(address.trim())? else {
            return unknown("unknown-user");
        };
        let Some(hash) = user.password_hash.clone() else {
            return unknown("no-password");
        };
        let now = self.now();
        let max = self.settings.max_failed_logins;
        let lock_over = user.status == AccountStatus::Locked
            && user.failed_attempts >= max
            && user
                .locked_at
                .is_some_and(|t| now - t >= secs(self.settings.failed_login_lock));
        if lock_over {
            user = self.store.update_user(id, |u| {
                u.status = unlocked_status(u);
                u.failed_attempts = 0;
                u.locked_at = Some(now);
            })?;
        }
        let verified = self.verified.contains(&hash.0, password)
            || password::verify(password, &hash.0) && {
                self.verified.insert(&hash.0, password);
                true
            };
        if !verified {
            let locks = user.status == AccountStatus::Active && user.failed_attempts + 1 >= max;
            // The count and its record in one batch: one flush per failure.
            self.store.update_user_audited(
                id,
                |u| {
                    u.failed_attempts = u.failed_attempts.saturating_add(1);
                    if locks {
                        u.status = AccountStatus::Locked;
                        u.locked_at = Some(now);
                    }
                },
                &AuditEvent {
                    actor: user.address.clone(),
                    action: "login.failed".to_owned(),
                    source: source.to_owned(),
                    detail: format!(
                        "user={} reason=bad-password{}",
                        user.address,
                        if locks { " locked=yes" } else { "" }
                    ),
                },
                &[user.organisation],
            )?;
            return Err(AdminError::BadCredentials);
        }
        Ok((id, user))
    }

    /// Whether a session signed in as `address` at `since` (seconds since
    /// the Unix epoch) may go on: the account still passes every sign-in
    /// rule and its password has not changed since. Open sessions ask when
    /// the store says credentials changed ([`store::Store::subscribe_credentials`]);
    /// it is one or two store reads, no password hashing.
    ///
    /// # Errors
    ///
    /// Why the session must end.
    pub fn session_still_valid(&self, address: &str, since: i64) -> Result<(), SessionRevoked> {
        let user = match self.store.user_by_address(address) {
            Ok(Some((_, user))) => user,
            Ok(None) => return Err(SessionRevoked::Account(AccountRefusal::Deleted)),
            // A read failure is no reason to end sessions.
            Err(_) => return Ok(()),
        };
        if let Some(refusal) = self.refusal(&user, self.now()) {
            return Err(SessionRevoked::Account(refusal));
        }
        if user.password_set_at.is_some_and(|set| set > since) {
            return Err(SessionRevoked::PasswordChanged);
        }
        Ok(())
    }

    /// Why a user with a correct password may still not log in, if at all.
    pub(crate) fn refusal(&self, user: &User, now: i64) -> Option<AccountRefusal> {
        match user.status {
            AccountStatus::Locked => return Some(AccountRefusal::Locked),
            AccountStatus::NewUserLocked => return Some(AccountRefusal::MustChangePassword),
            AccountStatus::Suspended => return Some(AccountRefusal::Suspended),
            AccountStatus::Deleted => return Some(AccountRefusal::Deleted),
            AccountStatus::Active => {}
        }
        if let Ok(Some(org)) = self.store.organisation(user.organisation)
            && org.state != OrgState::Active
        {
            return Some(AccountRefusal::OrganisationSuspended);
        }
        let activity = [user.last_login, user.password_set_at, user.locked_at]
            .into_iter()
            .flatten()
            .fold(user.created_at, i64::max);
        if now - activity >= secs(self.settings.inactivity_lock) {
            return Some(AccountRefusal::Locked);
        }
        if user
            .password_set_at
            .is_none_or(|t| now - t >= secs(self.settings.password_max_age))
        {
            return Some(AccountRefusal::PasswordExpired);
        }
        None
    }

    /// Appends an audit record for `caller`.
    pub(crate) fn audit(
        &self,
        caller: &Caller,
        action: &str,
        detail: &str,
    ) -> Result<(), AdminError> {
        self.audit_as(&caller.actor.audit_name(), &caller.source, action, detail)
    }

    /// Appends an audit record, shown also to the administrators of the
    /// organisations it concerns (see `audit::subjects`).
    pub(crate) fn audit_as(
        &self,
        actor: &str,
        source: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), AdminError> {
        let organisations = crate::audit::subjects(self, actor, detail)?;
        self.store.audit_for(
            &AuditEvent {
                actor: actor.to_owned(),
                action: action.to_owned(),
                source: source.to_owned(),
                detail: detail.to_owned(),
            },
            &organisations,
        )?;
        Ok(())
    }

    /// Finds an organisation by id, name or any of its domains (with or
    /// without the suffix).
    pub(crate) fn find_org(&self, key: &str) -> Result<(OrgId, Organisation), AdminError> {
        let key = key.trim();
        let lower = key.to_ascii_lowercase();
        let with_suffix = format!("{lower}.{}", self.settings.suffix);
        for candidate in [&lower, &with_suffix] {
            if let Some(found) = self.store.organisation_by_domain(candidate)? {
                return Ok(found);
            }
        }
        for (id, org) in self.store.organisations()? {
            if org.name.eq_ignore_ascii_case(key) || id.0.to_string() == key {
                return Ok((id, org));
            }
        }
        Err(AdminError::NotFound(format!(
            "no organisation is connected as {key}"
        )))
    }

    /// Finds a user the caller may manage (operators: anyone; Organisation
    /// Administrators: their own organisation's). Others' users are
    /// reported as not found, so nothing leaks about them.
    pub(crate) fn managed_user(
        &self,
        caller: &Caller,
        address: &str,
    ) -> Result<(UserId, User), AdminError> {
        let not_found = || AdminError::NotFound(format!("no user has the address {address}"));
        let (id, user) = self
            .store
            .user_by_address(address.trim())?
            .ok_or_else(not_found)?;
        if caller.actor.may_manage(user.organisation) {
            return Ok((id, user));
        }
        if caller.actor.organisation() == Some(user.organisation) {
            return Err(AdminError::Forbidden(
                "only an Organisation Administrator or the operator manages users".to_owned(),
            ));
        }
        Err(not_found())
    }

    pub(crate) fn org_view(&self, id: OrgId, org: &Organisation) -> Result<OrgView, AdminError> {
        let users = self
            .store
            .users(Some(id))?
            .iter()
            .filter(|(_, u)| u.status != AccountStatus::Deleted)
            .count();
        let parent = match org.parent {
            Some(p) => self.store.organisation(p)?.map(|o| o.name),
            None => None,
        };
        Ok(OrgView {
            id: id.0,
            name: org.name.clone(),
            domains: org.domains.clone(),
            abbreviation: org.abbreviation.clone(),
            connection: connection_text(&org.connection),
            parent,
            ex_directory: org.ex_directory,
            state: match org.state {
                OrgState::Active => "active",
                OrgState::Suspended => "suspended",
                OrgState::Closed => "closed",
            }
            .to_owned(),
            delivery_held: org.delivery_held,
            users,
            address: postal_address(&org.details),
            telephone: org.details.telephone.clone(),
            location: org.details.location.clone(),
            business_type: org.details.business_type.clone(),
        })
    }

    pub(crate) fn user_view(&self, user: &User) -> Result<UserView, AdminError> {
        let organisation = self
            .store
            .organisation(user.organisation)?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(UserView {
            address: user.address.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            organisation,
            role: role_text(user.role).to_owned(),
            status: status_text(user.status).to_owned(),
            ex_directory: user.ex_directory,
            failed_logins: user.failed_attempts,
            last_login: user.last_login.map(format_utc),
            password_set_at: user.password_set_at.map(format_utc),
            telephone: user.directory.telephone.clone(),
            mobile: user.directory.mobile.clone(),
            description: user.directory.description.clone(),
        })
    }

    /// Removes the mailboxes of accounts deleted longer ago than the
    /// retention period, and frees their addresses. Returns how many
    /// accounts were purged. Run periodically by the daemon.
    ///
    /// # Errors
    ///
    /// [`AdminError::Store`].
    pub fn purge_deleted(&self) -> Result<usize, AdminError> {
        let now = self.now();
        let retention = secs(self.settings.deleted_retention);
        let mut purged = 0;
        for (id, user) in self.store.users(None)? {
            let due = user.status == AccountStatus::Deleted
                && !user.address.ends_with(PURGED_DOMAIN)
                && user.locked_at.is_some_and(|t| now - t >= retention);
            if !due {
                continue;
            }
            let mut boxes = self.store.mailboxes(id)?;
            boxes.sort_by_key(|b| std::cmp::Reverse(b.name.matches(store::DELIMITER).count()));
            for mailbox in boxes {
                if mailbox.name == "INBOX" {
                    let uids: Vec<_> = self
                        .store
                        .messages(mailbox.id)?
                        .iter()
                        .map(|m| m.uid)
                        .collect();
                    self.store.expunge(mailbox.id, Some(&uids))?;
                } else {
                    self.store.delete_mailbox(id, &mailbox.name)?;
                }
            }
            let old = user.address.clone();
            self.store.update_user(id, |u| {
                u.address = format!("deleted-{}{PURGED_DOMAIN}", id.0);
            })?;
            self.audit_as("system", "retention", "user.purge", &format!("user={old}"))?;
            purged += 1;
        }
        Ok(purged)
    }
}

/// The status an account returns to when a lock or suspension ends: a
/// user who never logged in still has to change the one-time password.
pub(crate) fn unlocked_status(user: &User) -> AccountStatus {
    if user.last_login.is_none() {
        AccountStatus::NewUserLocked
    } else {
        AccountStatus::Active
    }
}

/// The domain a purged account's address is moved to, freeing the original.
const PURGED_DOMAIN: &str = "@purged.invalid";

pub(crate) fn connection_text(connection: &ConnectionKind) -> String {
    match connection {
        ConnectionKind::Mailbox => "mailbox".to_owned(),
        ConnectionKind::Smtp { gateway, port, .. } => format!("smtp via {gateway}:{port}"),
        ConnectionKind::Undecided => "don't know / other (the operator decides)".to_owned(),
    }
}

/// A postal address on one line: its non-empty parts, comma separated.
pub(crate) fn postal_address(details: &store::OrgDetails) -> String {
    [
        &details.address1,
        &details.address2,
        &details.town,
        &details.postcode,
    ]
    .iter()
    .map(|p| p.trim())
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

/// Why an open session must end ([`Service::session_still_valid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRevoked {
    /// The account may no longer sign in (suspended, locked, deleted, its
    /// organisation suspended, its password expired).
    Account(AccountRefusal),
    /// The password was changed since the session signed in.
    PasswordChanged,
}

impl std::fmt::Display for SessionRevoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Account(refusal) => refusal.fmt(f),
            Self::PasswordChanged => {
                f.write_str("the password was changed; sign in again with the new one")
            }
        }
    }
}

/// A refused sign-in's reason, as the audit log names it.
fn refusal_code(refusal: AccountRefusal) -> &'static str {
    match refusal {
        AccountRefusal::Locked => "locked",
        AccountRefusal::MustChangePassword => "must-change-password",
        AccountRefusal::PasswordExpired => "password-expired",
        AccountRefusal::Suspended => "suspended",
        AccountRefusal::Deleted => "deleted",
        AccountRefusal::OrganisationSuspended => "organisation-suspended",
    }
}

pub(crate) fn role_text(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::OrgAdmin => "org-admin",
        Role::Operator => "operator",
    }
}

/// The status as the service names it.
pub fn status_text(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Active => "Active",
        AccountStatus::Locked => "Locked",
        AccountStatus::NewUserLocked => "New User Locked",
        AccountStatus::Suspended => "Suspended",
        AccountStatus::Deleted => "Deleted",
    }
}
