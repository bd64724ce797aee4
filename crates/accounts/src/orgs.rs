//! Organisations: applying, approval with an Organisation Administrator,
//! rejection, listing, suspension.

use policy::{Address, Domain, ParseOptions};
use store::{
    Application, ApplicationId, ApplicationState, ConnectionKind, Error as StoreError, OrgState,
    Organisation, Role, Sponsor, TermsAcceptance,
};

use crate::api::{ApplicationForm, ApplicationView, Response, UserForm};
use crate::clock::format_utc;
use crate::error::AdminError;
use crate::service::{Caller, Service, connection_text};
use crate::users;

fn operator_only(caller: &Caller, what: &str) -> Result<(), AdminError> {
    if caller.actor.is_operator() {
        Ok(())
    } else {
        Err(AdminError::Forbidden(format!("only the operator {what}")))
    }
}

fn required(field: &str, value: &str) -> Result<String, AdminError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AdminError::invalid(field, "is required"));
    }
    Ok(value.to_owned())
}

pub(crate) fn parse_domain(field: &str, value: &str) -> Result<Domain, AdminError> {
    Domain::parse(value.trim())
        .map_err(|e| AdminError::invalid(field, format!("{:?} is not a domain: {e}", value.trim())))
}

pub(crate) fn parse_address(field: &str, value: &str) -> Result<Address, AdminError> {
    Address::parse(value.trim().as_bytes(), ParseOptions::default()).map_err(|e| {
        AdminError::invalid(
            field,
            format!("{:?} is not an email address: {e}", value.trim()),
        )
    })
}

/// Checks a form and records the application with the signatory's
/// acceptance of the terms.
pub(crate) fn apply(
    service: &Service,
    caller: &Caller,
    form: &ApplicationForm,
) -> Result<Response, AdminError> {
    let settings = service.settings();
    let suffix = &settings.suffix;
    let domain = parse_domain("domain", &form.domain)?;
    if domain.as_str() == suffix || domain.as_str().ends_with(&format!(".{suffix}")) {
        return Err(AdminError::invalid(
            "domain",
            format!("give the organisation's own domain, without .{suffix}"),
        ));
    }
    let name = required("name", &form.name)?;
    let suffixed = format!("{}.{suffix}", domain.as_str());
    if let Some((_, org)) = service.store.organisation_by_domain(&suffixed)? {
        return Err(AdminError::Conflict(format!(
            "{} is already connected, as {}",
            domain.as_str(),
            org.name
        )));
    }
    for (id, app) in service.store.applications()? {
        if app.state == ApplicationState::Pending && app.domain == domain.as_str() {
            return Err(AdminError::Conflict(format!(
                "{} has already applied: application {} from {}, waiting for a decision",
                domain.as_str(),
                id.0,
                app.organisation_name
            )));
        }
    }
    let parent = match form.parent.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(
            service
                .find_org(p)
                .map_err(|_| {
                    AdminError::invalid(
                        "parent",
                        format!("no connected organisation is called {p}"),
                    )
                })?
                .0,
        ),
        _ => None,
    };
    let connection = connection(form)?;
    let abbreviation = match form.abbreviation.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => {
            let a = parse_domain("abbreviation", a)?;
            if a.as_str().contains('.') {
                return Err(AdminError::invalid(
                    "abbreviation",
                    "must be a single word such as safeguarder (no dots)",
                ));
            }
            if let Some((_, org)) = service
                .store
                .organisation_by_domain(&format!("{}.{suffix}", a.as_str()))?
            {
                return Err(AdminError::Conflict(format!(
                    "the abbreviation {} is already used by {}",
                    a.as_str(),
                    org.name
                )));
            }
            Some(a.as_str().to_owned())
        }
        _ => None,
    };
    let reason = required("reason", &form.reason)?;
    if form.expected_users == 0 {
        return Err(AdminError::invalid(
            "expected_users",
            "say how many users you expect (at least 1)",
        ));
    }
    if form.sponsors.is_empty() {
        return Err(AdminError::invalid(
            "sponsors",
            "at least one sponsor on a secure government domain is required",
        ));
    }
    let mut sponsors = Vec::new();
    for (i, s) in form.sponsors.iter().enumerate() {
        let field = |f: &str| format!("sponsors[{}].{f}", i + 1);
        let address = parse_address(&field("address"), &s.address)?;
        if !settings
            .secure_domains
            .iter()
            .filter_map(|d| Domain::parse(d).ok())
            .any(|d| address.domain().is_within(&d))
        {
            return Err(AdminError::invalid(
                field("address"),
                format!(
                    "{} is not on a secure government domain; a sponsor's address must be on one of: {}",
                    s.address.trim(),
                    settings.secure_domains.join(", ")
                ),
            ));
        }
        sponsors.push(Sponsor {
            name: required(&field("name"), &s.name)?,
            address: address.to_string(),
            organisation: required(&field("organisation"), &s.organisation)?,
            position: required(&field("position"), &s.position)?,
        });
    }
    let signatory_name = required("signatory.name", &form.signatory.name)?;
    let signatory_position = required("signatory.position", &form.signatory.position)?;
    let signatory_address =
        parse_address("signatory.address", &form.signatory.address)?.to_string();
    if form.signatory.accepts_terms.trim() != settings.terms_version {
        return Err(AdminError::invalid(
            "signatory.accepts_terms",
            format!(
                "the primary signatory must accept the terms and conditions, version {}",
                settings.terms_version
            ),
        ));
    }
    let now = service.now();
    let application = Application {
        domain: domain.as_str().to_owned(),
        organisation_name: name.clone(),
        parent,
        connection,
        ex_directory: form.ex_directory,
        abbreviation,
        reason,
        expected_users: form.expected_users,
        sponsors,
        signatory_name: signatory_name.clone(),
        signatory_position,
        signatory_address: signatory_address.clone(),
        terms_version: settings.terms_version.clone(),
        submitted_at: now,
        state: ApplicationState::Pending,
    };
    let id = service
        .store
        .submit_application(&application)
        .map_err(|e| match e {
            StoreError::DuplicateApplication(d) => AdminError::Conflict(format!(
                "{d} has already applied and is waiting for a decision"
            )),
            other => other.into(),
        })?;
    service.store.record_terms_acceptance(&TermsAcceptance {
        domain: domain.as_str().to_owned(),
        name: signatory_name,
        address: signatory_address,
        terms_version: settings.terms_version.clone(),
        accepted_at: now,
    })?;
    service.audit(
        caller,
        "org.apply",
        &format!("application={} domain={} org={name}", id.0, domain.as_str()),
    )?;
    Ok(Response::Applied {
        application: id.0,
        domain: domain.as_str().to_owned(),
    })
}

fn connection(form: &ApplicationForm) -> Result<ConnectionKind, AdminError> {
    match form.connection.trim().to_ascii_lowercase().as_str() {
        "mailbox" | "" => {
            if form
                .gateway
                .as_deref()
                .is_some_and(|g| !g.trim().is_empty())
            {
                return Err(AdminError::invalid(
                    "gateway",
                    "a gateway is only for an smtp connection",
                ));
            }
            Ok(ConnectionKind::Mailbox)
        }
        "smtp" => {
            let gateway = form.gateway.as_deref().unwrap_or("");
            if gateway.trim().is_empty() {
                return Err(AdminError::invalid(
                    "gateway",
                    "an smtp connection needs the host name of the organisation's mail gateway",
                ));
            }
            Ok(ConnectionKind::Smtp {
                gateway: parse_domain("gateway", gateway)?.as_str().to_owned(),
                port: form.gateway_port.unwrap_or(25),
                strip_suffix: form.strip_suffix,
            })
        }
        other => Err(AdminError::invalid(
            "connection",
            format!("{other:?} is not a connection kind; use mailbox or smtp"),
        )),
    }
}

fn pending(service: &Service, id: u64) -> Result<Application, AdminError> {
    let app = service
        .store
        .application(ApplicationId(id))?
        .ok_or_else(|| AdminError::NotFound(format!("there is no application {id}")))?;
    match &app.state {
        ApplicationState::Pending => Ok(app),
        ApplicationState::Approved { .. } => Err(AdminError::Conflict(format!(
            "application {id} was already approved"
        ))),
        ApplicationState::Rejected { .. } => Err(AdminError::Conflict(format!(
            "application {id} was already rejected"
        ))),
    }
}

/// Approves an application: creates the organisation and its Organisation
/// Administrator, who gets a one-time password.
pub(crate) fn approve(
    service: &Service,
    caller: &Caller,
    id: u64,
    admin: &UserForm,
) -> Result<Response, AdminError> {
    operator_only(caller, "approves applications")?;
    let app = pending(service, id)?;
    let suffix = &service.settings().suffix;
    let mut domains = vec![format!("{}.{suffix}", app.domain)];
    if let Some(a) = &app.abbreviation {
        domains.push(format!("{a}.{suffix}"));
    }
    let org = Organisation {
        name: app.organisation_name.clone(),
        domains,
        abbreviation: app.abbreviation.clone(),
        connection: app.connection.clone(),
        parent: app.parent,
        ex_directory: app.ex_directory,
        state: OrgState::Active,
    };
    // Check the administrator's details before anything is written.
    let mut form = admin.clone();
    form.role = Some("org-admin".to_owned());
    users::plan(
        service,
        caller,
        &form,
        store::OrgId(0),
        &org,
        &mut Default::default(),
    )?;
    let org_id = service
        .store
        .create_organisation(&org)
        .map_err(|e| match e {
            StoreError::DomainTaken(d) => AdminError::Conflict(format!("{d} is already connected")),
            other => other.into(),
        })?;
    service.store.decide_application(
        ApplicationId(id),
        ApplicationState::Approved {
            organisation: org_id,
        },
    )?;
    service.audit(
        caller,
        "org.approve",
        &format!(
            "application={id} org={} domains={}",
            org.name,
            org.domains.join(",")
        ),
    )?;
    let created = users::create(service, caller, &form, org_id, &org, Role::OrgAdmin)?;
    Ok(Response::Approved {
        organisation: service.org_view(org_id, &org)?,
        admin: created,
    })
}

pub(crate) fn reject(
    service: &Service,
    caller: &Caller,
    id: u64,
    reason: &str,
) -> Result<Response, AdminError> {
    operator_only(caller, "rejects applications")?;
    let app = pending(service, id)?;
    let reason = required("reason", reason)?;
    service.store.decide_application(
        ApplicationId(id),
        ApplicationState::Rejected {
            reason: reason.clone(),
        },
    )?;
    service.audit(
        caller,
        "org.reject",
        &format!(
            "application={id} domain={} org={} reason={reason}",
            app.domain, app.organisation_name
        ),
    )?;
    Ok(Response::Done {
        message: format!("application {id} from {} rejected", app.organisation_name),
    })
}

pub(crate) fn list(service: &Service, caller: &Caller) -> Result<Response, AdminError> {
    operator_only(caller, "lists organisations and applications")?;
    let mut organisations = Vec::new();
    for (id, org) in service.store.organisations()? {
        organisations.push(service.org_view(id, &org)?);
    }
    let applications = service
        .store
        .applications()?
        .into_iter()
        .map(|(id, a)| application_view(id, &a))
        .collect();
    Ok(Response::Organisations {
        organisations,
        applications,
    })
}

fn application_view(id: ApplicationId, a: &Application) -> ApplicationView {
    ApplicationView {
        id: id.0,
        domain: a.domain.clone(),
        name: a.organisation_name.clone(),
        connection: connection_text(&a.connection),
        abbreviation: a.abbreviation.clone(),
        sponsors: a
            .sponsors
            .iter()
            .map(|s| {
                format!(
                    "{} <{}>, {}, {}",
                    s.name, s.address, s.position, s.organisation
                )
            })
            .collect(),
        signatory: format!(
            "{} <{}>, {}",
            a.signatory_name, a.signatory_address, a.signatory_position
        ),
        terms_version: a.terms_version.clone(),
        reason: a.reason.clone(),
        expected_users: a.expected_users,
        submitted_at: format_utc(a.submitted_at),
        state: match &a.state {
            ApplicationState::Pending => "pending".to_owned(),
            ApplicationState::Approved { .. } => "approved".to_owned(),
            ApplicationState::Rejected { reason } => format!("rejected: {reason}"),
        },
    }
}

fn visible_org(
    service: &Service,
    caller: &Caller,
    key: &str,
) -> Result<(store::OrgId, Organisation), AdminError> {
    let found = service.find_org(key)?;
    if caller.actor.is_operator() || caller.actor.organisation() == Some(found.0) {
        Ok(found)
    } else {
        Err(AdminError::NotFound(format!(
            "no organisation is connected as {}",
            key.trim()
        )))
    }
}

pub(crate) fn show(service: &Service, caller: &Caller, key: &str) -> Result<Response, AdminError> {
    let (id, org) = visible_org(service, caller, key)?;
    admins_of(service, id, &org)
}

pub(crate) fn admins(
    service: &Service,
    caller: &Caller,
    key: &str,
) -> Result<Response, AdminError> {
    let (id, org) = visible_org(service, caller, key)?;
    admins_of(service, id, &org)
}

fn admins_of(
    service: &Service,
    id: store::OrgId,
    org: &Organisation,
) -> Result<Response, AdminError> {
    let mut admins = Vec::new();
    for (_, u) in service.store.users(Some(id))? {
        if u.role == Role::OrgAdmin && u.status != store::AccountStatus::Deleted {
            admins.push(service.user_view(&u)?);
        }
    }
    Ok(Response::Organisation {
        organisation: service.org_view(id, org)?,
        admins,
    })
}

pub(crate) fn set_state(
    service: &Service,
    caller: &Caller,
    key: &str,
    state: OrgState,
) -> Result<Response, AdminError> {
    operator_only(caller, "suspends and resumes organisations")?;
    let (id, org) = service.find_org(key)?;
    if org.state == state {
        return Err(AdminError::Conflict(format!(
            "{} is already {}",
            org.name,
            if state == OrgState::Active {
                "active"
            } else {
                "suspended"
            }
        )));
    }
    service.store.update_organisation(id, |o| o.state = state)?;
    let (action, message) = if state == OrgState::Active {
        (
            "org.resume",
            format!("{} resumed; its queued mail will be delivered", org.name),
        )
    } else {
        (
            "org.suspend",
            format!(
                "{} suspended; mail for it waits in the queue until it is resumed",
                org.name
            ),
        )
    };
    service.audit(
        caller,
        action,
        &format!("org={} domains={}", org.name, org.domains.join(",")),
    )?;
    Ok(Response::Done { message })
}
