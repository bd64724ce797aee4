//! Users: creation (one at a time or a CSV file at once), the status
//! changes an administrator makes, directory details, and passwords.

use std::collections::HashSet;

use policy::{LocalPart, abbreviation_local_part};
use store::{AccountStatus, DirectoryFields, OrgId, Organisation, PasswordHash, Role, User};

use crate::api::{Credentials, DirectoryForm, Response, UserForm};
use crate::error::{AccountRefusal, AdminError};
use crate::orgs::parse_address;
use crate::password;
use crate::service::{Caller, Service, status_text};
use crate::settings::secs;

/// Builds the account `form` describes in `org`, with its address formed
/// by the organisation's scheme, without writing anything. `taken` holds
/// addresses claimed earlier in the same batch (lower case).
pub(crate) fn plan(
    service: &Service,
    caller: &Caller,
    form: &UserForm,
    org_id: OrgId,
    org: &Organisation,
    taken: &mut HashSet<String>,
) -> Result<User, AdminError> {
    let first = form.first_name.trim();
    let last = form.last_name.trim();
    if first.is_empty() {
        return Err(AdminError::invalid("first_name", "is required"));
    }
    if last.is_empty() {
        return Err(AdminError::invalid("last_name", "is required"));
    }
    let role = match form.role.as_deref().map(str::trim).unwrap_or("user") {
        "" | "user" => Role::User,
        "org-admin" | "admin" => Role::OrgAdmin,
        "operator" if caller.actor.is_operator() => Role::Operator,
        other => {
            return Err(AdminError::invalid(
                "role",
                format!("{other:?} is not a role; use user or org-admin"),
            ));
        }
    };
    let suffix = &service.settings().suffix;
    let in_use = |address: &str, taken: &HashSet<String>| -> Result<bool, AdminError> {
        Ok(taken.contains(&address.to_ascii_lowercase())
            || service.store.user_by_address(address)?.is_some())
    };
    let address = match &org.abbreviation {
        Some(abbreviation) => {
            let domain = format!("{abbreviation}.{suffix}");
            let mut failure = None;
            let local = abbreviation_local_part(first, last, |candidate: &LocalPart| {
                let address = format!("{}@{domain}", candidate.as_str());
                in_use(&address, taken).unwrap_or_else(|e| {
                    failure = Some(e);
                    true
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
            let local = local.map_err(|e| AdminError::invalid("name", e.to_string()))?;
            format!("{}@{domain}", local.as_str())
        }
        None => {
            let existing = form.existing_address.as_deref().unwrap_or("").trim();
            if existing.is_empty() {
                return Err(AdminError::invalid(
                    "existing_address",
                    format!(
                        "{} keeps its users' existing addresses: give the user's address at {}",
                        org.name,
                        base_domains(org, suffix).join(" or ")
                    ),
                ));
            }
            let parsed = parse_address("existing_address", existing)?;
            let domain = parsed.domain().as_str().to_owned();
            let bases = base_domains(org, suffix);
            let secure = if bases.contains(&domain) {
                format!("{}@{domain}.{suffix}", parsed.local_part().as_str())
            } else if org.domains.contains(&domain) {
                parsed.to_string()
            } else {
                return Err(AdminError::invalid(
                    "existing_address",
                    format!(
                        "{existing} is not at {}'s domain ({})",
                        org.name,
                        bases.join(", ")
                    ),
                ));
            };
            if in_use(&secure, taken)? {
                return Err(AdminError::Conflict(format!(
                    "the address {secure} is already in use (or belonged to an account deleted within the retention period)"
                )));
            }
            secure
        }
    };
    taken.insert(address.to_ascii_lowercase());
    let notice_address = match form.notice_address.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Some(parse_address("notice_address", a)?.to_string()),
        _ => None,
    };
    let mut directory = DirectoryFields::default();
    apply_directory(&mut directory, &form.directory);
    Ok(User {
        address,
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        notice_address,
        organisation: org_id,
        role,
        directory,
        ex_directory: form.ex_directory,
        status: AccountStatus::NewUserLocked,
        password_hash: None,
        password_set_at: None,
        previous_passwords: Vec::new(),
        failed_attempts: 0,
        locked_at: None,
        last_login: None,
        created_at: service.now(),
    })
}

fn base_domains(org: &Organisation, suffix: &str) -> Vec<String> {
    let abbreviation = org.abbreviation.as_ref().map(|a| format!("{a}.{suffix}"));
    org.domains
        .iter()
        .filter(|d| Some(*d) != abbreviation.as_ref())
        .filter_map(|d| d.strip_suffix(&format!(".{suffix}")).map(str::to_owned))
        .collect()
}

fn apply_directory(fields: &mut DirectoryFields, form: &DirectoryForm) {
    let set = |target: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            v.trim().clone_into(target);
        }
    };
    set(&mut fields.telephone, &form.telephone);
    set(&mut fields.mobile, &form.mobile);
    set(&mut fields.description, &form.description);
    set(&mut fields.address1, &form.address1);
    set(&mut fields.address2, &form.address2);
    set(&mut fields.town, &form.town);
    set(&mut fields.postcode, &form.postcode);
    set(&mut fields.business_type, &form.business_type);
    set(&mut fields.cj_area, &form.cj_area);
}

/// Gives a planned user a one-time password.
fn with_one_time_password(mut user: User, now: i64) -> (User, String) {
    let otp = password::one_time();
    user.password_hash = Some(PasswordHash(password::hash(&otp)));
    user.password_set_at = Some(now);
    user.status = AccountStatus::NewUserLocked;
    (user, otp)
}

/// Creates one user with a one-time password (used by `add` and approval).
pub(crate) fn create(
    service: &Service,
    caller: &Caller,
    form: &UserForm,
    org_id: OrgId,
    org: &Organisation,
    role: Role,
) -> Result<Credentials, AdminError> {
    let mut user = plan(service, caller, form, org_id, org, &mut HashSet::new())?;
    user.role = role;
    let (user, otp) = with_one_time_password(user, service.now());
    service.store.create_user(&user).map_err(taken)?;
    service.audit(
        caller,
        "user.add",
        &format!(
            "user={} org={} role={:?}",
            user.address, org.name, user.role
        ),
    )?;
    Ok(Credentials {
        address: user.address,
        password: otp,
    })
}

fn taken(e: store::Error) -> AdminError {
    match e {
        store::Error::AddressTaken(a) => {
            AdminError::Conflict(format!("the address {a} is already in use"))
        }
        other => other.into(),
    }
}

fn managed_org(
    service: &Service,
    caller: &Caller,
    key: &str,
) -> Result<(OrgId, Organisation), AdminError> {
    let (id, org) = service.find_org(key)?;
    if caller.actor.may_manage(id) {
        return Ok((id, org));
    }
    if caller.actor.organisation() == Some(id) {
        return Err(AdminError::Forbidden(
            "only an Organisation Administrator or the operator adds users".to_owned(),
        ));
    }
    Err(AdminError::NotFound(format!(
        "no organisation is connected as {}",
        key.trim()
    )))
}

pub(crate) fn add(
    service: &Service,
    caller: &Caller,
    form: &UserForm,
) -> Result<Response, AdminError> {
    let (id, org) = managed_org(service, caller, &form.organisation)?;
    let role = plan(service, caller, form, id, &org, &mut HashSet::new())?.role;
    let created = create(service, caller, form, id, &org, role)?;
    Ok(Response::Created {
        users: vec![created],
    })
}

/// The CSV columns `user import` reads (header names, case-insensitive;
/// only the first two are required).
pub const IMPORT_COLUMNS: &[&str] = &[
    "first_name",
    "last_name",
    "existing_address",
    "role",
    "notice_address",
    "telephone",
    "mobile",
    "description",
    "address1",
    "address2",
    "town",
    "postcode",
    "business_type",
    "cj_area",
    "ex_directory",
];

/// Adds every user in a CSV file, all or none: every bad row is reported
/// with its line number and nothing is written.
pub(crate) fn import(
    service: &Service,
    caller: &Caller,
    org_key: &str,
    csv_text: &str,
) -> Result<Response, AdminError> {
    let (org_id, org) = managed_org(service, caller, org_key)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AdminError::invalid("line 1", format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    for h in &headers {
        if !IMPORT_COLUMNS.contains(&h.as_str()) {
            return Err(AdminError::invalid(
                "line 1",
                format!(
                    "unknown column {h:?}; the columns are {}",
                    IMPORT_COLUMNS.join(", ")
                ),
            ));
        }
    }
    for needed in ["first_name", "last_name"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(AdminError::invalid(
                "line 1",
                format!("the column {needed} is missing"),
            ));
        }
    }
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    let mut taken = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        let form = UserForm {
            organisation: org_key.to_owned(),
            first_name: get("first_name").unwrap_or_default(),
            last_name: get("last_name").unwrap_or_default(),
            existing_address: get("existing_address"),
            role: get("role"),
            notice_address: get("notice_address"),
            ex_directory: matches!(get("ex_directory").as_deref(), Some("yes" | "true" | "1")),
            directory: DirectoryForm {
                telephone: get("telephone"),
                mobile: get("mobile"),
                description: get("description"),
                address1: get("address1"),
                address2: get("address2"),
                town: get("town"),
                postcode: get("postcode"),
                business_type: get("business_type"),
                cj_area: get("cj_area"),
            },
        };
        match plan(service, caller, &form, org_id, &org, &mut taken) {
            Ok(user) => planned.push(user),
            Err(e) => problems.push(format!("line {line}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(AdminError::invalid(
            "csv",
            format!(
                "no users were added; fix these rows and import again:\n{}",
                problems.join("\n")
            ),
        ));
    }
    if planned.is_empty() {
        return Err(AdminError::invalid("csv", "the file has no user rows"));
    }
    let now = service.now();
    let with_passwords = hash_all(planned, now);
    let users: Vec<User> = with_passwords.iter().map(|(u, _)| u.clone()).collect();
    service.store.create_users(&users).map_err(taken_error)?;
    service.audit(
        caller,
        "user.import",
        &format!(
            "org={} count={} users={}",
            org.name,
            users.len(),
            users
                .iter()
                .map(|u| u.address.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    )?;
    Ok(Response::Created {
        users: with_passwords
            .into_iter()
            .map(|(u, p)| Credentials {
                address: u.address,
                password: p,
            })
            .collect(),
    })
}

fn taken_error(e: store::Error) -> AdminError {
    taken(e)
}

/// Gives every planned user a one-time password, hashing on all cores
/// (argon2 is deliberately slow; hundreds of users are common).
fn hash_all(users: Vec<User>, now: i64) -> Vec<(User, String)> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let chunk = users.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|u| with_one_time_password(u.clone(), now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("hashing does not panic"))
            .collect()
    })
}

pub(crate) fn list(
    service: &Service,
    caller: &Caller,
    org_key: Option<&str>,
) -> Result<Response, AdminError> {
    let org = match (org_key, caller.actor.organisation()) {
        (Some(key), _) => Some(managed_org(service, caller, key)?.0),
        (None, _) if caller.actor.is_operator() => None,
        (None, Some(own)) if caller.actor.may_manage(own) => Some(own),
        (None, _) => {
            return Err(AdminError::Forbidden(
                "only an Organisation Administrator or the operator lists users".to_owned(),
            ));
        }
    };
    let mut users = Vec::new();
    for (_, u) in service.store.users(org)? {
        users.push(service.user_view(&u)?);
    }
    Ok(Response::Users { users })
}

fn self_or_managed(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<(store::UserId, User), AdminError> {
    if let crate::Actor::User {
        id, address: own, ..
    } = &caller.actor
        && own.eq_ignore_ascii_case(address.trim())
        && let Some(user) = service.store.user(*id)?
    {
        return Ok((*id, user));
    }
    service.managed_user(caller, address)
}

pub(crate) fn show(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let (_, user) = self_or_managed(service, caller, address)?;
    Ok(Response::User {
        user: service.user_view(&user)?,
    })
}

/// One administrator's status change: checks, writes, audits, answers.
fn change_status(
    service: &Service,
    caller: &Caller,
    address: &str,
    action: &str,
    check: impl FnOnce(&User) -> Result<(), String>,
    change: impl FnOnce(&mut User, i64),
) -> Result<User, AdminError> {
    let (id, user) = service.managed_user(caller, address)?;
    if user.role == Role::Operator && !caller.actor.is_operator() {
        return Err(AdminError::Forbidden(
            "operator accounts are managed by the operator".to_owned(),
        ));
    }
    check(&user).map_err(AdminError::Conflict)?;
    let now = service.now();
    let updated = service.store.update_user(id, |u| change(u, now))?;
    service.audit(
        caller,
        action,
        &format!(
            "user={} status={}",
            updated.address,
            status_text(updated.status)
        ),
    )?;
    Ok(updated)
}

fn not_deleted(user: &User) -> Result<(), String> {
    if user.status == AccountStatus::Deleted {
        Err(format!("{} has been deleted", user.address))
    } else {
        Ok(())
    }
}

pub(crate) fn suspend(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let user = change_status(
        service,
        caller,
        address,
        "user.suspend",
        |u| {
            not_deleted(u)?;
            if u.status == AccountStatus::Suspended {
                return Err(format!("{} is already suspended", u.address));
            }
            Ok(())
        },
        |u, now| {
            u.status = AccountStatus::Suspended;
            u.locked_at = Some(now);
        },
    )?;
    Ok(Response::Done {
        message: format!(
            "{} suspended; they cannot log in until reactivated",
            user.address
        ),
    })
}

pub(crate) fn reactivate(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let user = change_status(
        service,
        caller,
        address,
        "user.reactivate",
        |u| {
            not_deleted(u)?;
            if u.status != AccountStatus::Suspended {
                return Err(format!(
                    "{} is not suspended (status {})",
                    u.address,
                    status_text(u.status)
                ));
            }
            Ok(())
        },
        |u, now| {
            u.status = crate::service::unlocked_status(u);
            u.failed_attempts = 0;
            u.locked_at = Some(now);
        },
    )?;
    Ok(Response::Done {
        message: format!(
            "{} reactivated (status {})",
            user.address,
            status_text(user.status)
        ),
    })
}

pub(crate) fn unlock(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let user = change_status(
        service,
        caller,
        address,
        "user.unlock",
        |u| {
            if u.status != AccountStatus::Locked {
                return Err(format!(
                    "{} is not locked (status {})",
                    u.address,
                    status_text(u.status)
                ));
            }
            Ok(())
        },
        |u, now| {
            u.status = crate::service::unlocked_status(u);
            u.failed_attempts = 0;
            u.locked_at = Some(now);
        },
    )?;
    Ok(Response::Done {
        message: format!("{} unlocked", user.address),
    })
}

pub(crate) fn delete(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let days = secs(service.settings().deleted_retention) / 86_400;
    let user = change_status(
        service,
        caller,
        address,
        "user.delete",
        not_deleted,
        |u, now| {
            u.status = AccountStatus::Deleted;
            u.password_hash = None;
            u.locked_at = Some(now);
        },
    )?;
    Ok(Response::Done {
        message: format!(
            "{} deleted; the mailbox is removed after {days} days and the address is not reused before then",
            user.address
        ),
    })
}

pub(crate) fn reset(
    service: &Service,
    caller: &Caller,
    address: &str,
) -> Result<Response, AdminError> {
    let otp = password::one_time();
    let hash = password::hash(&otp);
    let history = service.settings.password_history;
    let user = change_status(
        service,
        caller,
        address,
        "user.reset",
        not_deleted,
        |u, now| {
            remember_password(u, history);
            u.password_hash = Some(PasswordHash(hash));
            u.password_set_at = Some(now);
            u.status = AccountStatus::NewUserLocked;
            u.failed_attempts = 0;
            u.locked_at = Some(now);
        },
    )?;
    Ok(Response::Created {
        users: vec![Credentials {
            address: user.address,
            password: otp,
        }],
    })
}

pub(crate) fn update(
    service: &Service,
    caller: &Caller,
    address: &str,
    directory: &DirectoryForm,
    ex_directory: Option<bool>,
) -> Result<Response, AdminError> {
    let (id, user) = self_or_managed(service, caller, address)?;
    if user.status == AccountStatus::Deleted {
        return Err(AdminError::Conflict(format!(
            "{} has been deleted",
            user.address
        )));
    }
    let updated = service.store.update_user(id, |u| {
        apply_directory(&mut u.directory, directory);
        if let Some(x) = ex_directory {
            u.ex_directory = x;
        }
    })?;
    service.audit(caller, "user.update", &format!("user={}", updated.address))?;
    Ok(Response::User {
        user: service.user_view(&updated)?,
    })
}

/// Keeps the password being replaced among the `history` most recent, so
/// that a later change cannot go back to it.
fn remember_password(user: &mut store::User, history: usize) {
    if let Some(current) = user.password_hash.take() {
        user.previous_passwords.insert(0, current);
    }
    user.previous_passwords.truncate(history);
}

/// Changes a password given the current one: the first-login change of a
/// one-time password, a change after expiry, or any time.
pub(crate) fn passwd(
    service: &Service,
    caller: &Caller,
    address: &str,
    current: &str,
    new: &str,
) -> Result<Response, AdminError> {
    let (id, user) = service.check_password(address, current, &caller.source)?;
    match user.status {
        AccountStatus::Active | AccountStatus::NewUserLocked => {}
        AccountStatus::Locked => return Err(AdminError::AccountRefused(AccountRefusal::Locked)),
        AccountStatus::Suspended => {
            return Err(AdminError::AccountRefused(AccountRefusal::Suspended));
        }
        AccountStatus::Deleted => return Err(AdminError::AccountRefused(AccountRefusal::Deleted)),
    }
    if new == current {
        return Err(AdminError::WeakPassword(
            "it is the same as the current one".to_owned(),
        ));
    }
    let local = user
        .address
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let personal = [
        user.address.as_str(),
        local.as_str(),
        &user.first_name,
        &user.last_name,
    ];
    password::check_rules(new, &personal).map_err(AdminError::WeakPassword)?;
    let history = service.settings.password_history;
    if user
        .previous_passwords
        .iter()
        .take(history)
        .any(|old| password::verify(new, &old.0))
    {
        return Err(AdminError::WeakPassword(format!(
            "it is one of your {history} previous passwords; choose one you have not used before"
        )));
    }
    let hash = password::hash(new);
    let now = service.now();
    service.store.update_user(id, |u| {
        remember_password(u, history);
        u.password_hash = Some(PasswordHash(hash));
        u.password_set_at = Some(now);
        u.failed_attempts = 0;
        u.last_login = Some(now);
        if u.status == AccountStatus::NewUserLocked {
            u.status = AccountStatus::Active;
        }
    })?;
    service.audit_as(
        &user.address,
        &caller.source,
        "user.passwd",
        &format!("user={}", user.address),
    )?;
    Ok(Response::Done {
        message: format!("the password of {} is changed", user.address),
    })
}
