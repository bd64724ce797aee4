//! Organisations: applying (an organisation, or an individual at a public
//! mail provider under a parent organisation), approval with an
//! Organisation Administrator, rejection, listing, suspension.

use policy::{Address, Domain, ParseOptions};
use store::{
    Application, ApplicationId, ApplicationState, ConnectionKind, Error as StoreError, OrgDetails,
    OrgId, OrgState, Organisation, Role, Sponsor, TermsAcceptance,
};

use crate::api::{
    ApplicationForm, ApplicationView, ConnectionForm, DirectoryForm, Response, UserForm,
};
use crate::clock::format_utc;
use crate::error::AdminError;
use crate::service::{Caller, Service, connection_text, postal_address};
use crate::settings::Settings;
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
///
/// An application from a public mail provider's domain is an individual's
/// (seed 001's safeguarders): it must name a parent organisation with an
/// abbreviation and hosted mailboxes, and claims no domain. Any other
/// application is refused when its domain is connected or has applied, or
/// when its name, normalised, is that of a connected organisation or of a
/// pending application.
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
    let key = name_key(&name);
    if key.is_empty() {
        return Err(AdminError::invalid(
            "name",
            "give the organisation's name in full",
        ));
    }
    let individual = settings.is_public_mail_provider(domain.as_str());
    let parent = match form.parent.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(service.find_org(p).map_err(|_| {
            AdminError::invalid("parent", format!("no connected organisation is called {p}"))
        })?),
        _ => None,
    };
    let signatory_address =
        parse_address("signatory.address", &form.signatory.address)?.to_string();
    let (connection, abbreviation) = if individual {
        let parent = individual_parent(domain.as_str(), parent.as_ref())?;
        individual_duplicates(service, &signatory_address)?;
        (
            individual_connection(form, parent)?,
            individual_abbreviation(form, parent)?,
        )
    } else {
        domain_duplicates(service, domain.as_str(), suffix)?;
        (
            connection(
                "connection",
                &form.connection,
                form.gateway.as_deref(),
                form.gateway_port,
                form.strip_suffix,
                true,
            )?,
            abbreviation(service, form.abbreviation.as_deref(), suffix)?,
        )
    };
    name_duplicates(service, &name, &key)?;
    let details = details(form)?;
    let reason = required("reason", &form.reason)?;
    if form.expected_users == 0 {
        return Err(AdminError::invalid(
            "expected_users",
            "say how many users you expect (at least 1)",
        ));
    }
    let sponsors = sponsors(settings, form)?;
    let signatory_name = required("signatory.name", &form.signatory.name)?;
    let signatory_position = required("signatory.position", &form.signatory.position)?;
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
        parent: parent.as_ref().map(|(id, _)| *id),
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
        details,
        individual,
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
        // An individual shares the provider's domain: their acceptance is
        // recorded against their own address.
        domain: if individual {
            signatory_address.clone()
        } else {
            domain.as_str().to_owned()
        },
        name: signatory_name,
        address: signatory_address,
        terms_version: settings.terms_version.clone(),
        accepted_at: now,
    })?;
    let mut detail = format!("application={} domain={} org={name}", id.0, domain.as_str());
    if let Some((_, p)) = &parent {
        detail.push_str(&format!(" parent={}", p.name));
    }
    if individual {
        detail.push_str(" individual=yes");
    }
    service.audit(caller, "org.apply", &detail)?;
    Ok(Response::Applied {
        application: id.0,
        domain: domain.as_str().to_owned(),
    })
}

/// Refuses a domain already connected or with an application pending.
fn domain_duplicates(service: &Service, domain: &str, suffix: &str) -> Result<(), AdminError> {
    if let Some((_, org)) = service
        .store
        .organisation_by_domain(&format!("{domain}.{suffix}"))?
    {
        return Err(AdminError::Conflict(format!(
            "{domain} is already connected, as {}",
            org.name
        )));
    }
    for (id, app) in service.store.applications()? {
        if app.state == ApplicationState::Pending && !app.individual && app.domain == domain {
            return Err(AdminError::Conflict(format!(
                "{domain} has already applied: application {} from {}, waiting for a decision",
                id.0, app.organisation_name
            )));
        }
    }
    Ok(())
}

/// Refuses a name that, normalised, is a connected organisation's or a
/// pending application's: the applicant is told which, and what to do.
fn name_duplicates(service: &Service, name: &str, key: &str) -> Result<(), AdminError> {
    for (_, org) in service.store.organisations()? {
        if org.state != OrgState::Closed && name_key(&org.name) == key {
            return Err(AdminError::Conflict(format!(
                "{name} is already connected, as {} ({}): ask its Organisation Administrator for an account; \
                 if yours is a different organisation, give its name in full",
                org.name,
                org.domains.join(", ")
            )));
        }
    }
    for (id, app) in service.store.applications()? {
        if app.state == ApplicationState::Pending && name_key(&app.organisation_name) == key {
            return Err(AdminError::Conflict(format!(
                "{name} has already applied: application {} from {} ({}), waiting for a decision",
                id.0, app.organisation_name, app.domain
            )));
        }
    }
    Ok(())
}

/// An organisation's name reduced for comparison: lower case; apostrophes
/// and full stops dropped (`H.M.` is `hm`, `Children's` is `childrens`);
/// `&` read as `and`; other punctuation and runs of white space one space;
/// and the words `the` and the legal forms (`Ltd`, `Limited`, `LLP`,
/// `PLC`, `LLC`, `Inc`, `CIC`) left out.
pub(crate) fn name_key(name: &str) -> String {
    const IGNORED: [&str; 8] = ["the", "ltd", "limited", "llp", "plc", "llc", "inc", "cic"];
    let mut spaced = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '\u{2019}' | '.' => {}
            '&' => spaced.push_str(" and "),
            c if c.is_alphanumeric() => spaced.push(c),
            _ => spaced.push(' '),
        }
    }
    spaced
        .split_whitespace()
        .filter(|w| !IGNORED.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parent an individual joins under: required, with an abbreviation
/// (their address is `forename.surname@ABBREV.<suffix>`) and hosted
/// mailboxes.
fn individual_parent<'a>(
    domain: &str,
    parent: Option<&'a (OrgId, Organisation)>,
) -> Result<&'a Organisation, AdminError> {
    let Some((_, org)) = parent else {
        return Err(AdminError::invalid(
            "parent",
            format!(
                "{domain} is a public mail provider, so this is an individual's application: \
                 give the parent organisation you work under (a safeguarder names the organisation \
                 that appoints safeguarders); no one can connect {domain} itself"
            ),
        ));
    };
    if org.abbreviation.is_none() || org.connection != ConnectionKind::Mailbox {
        return Err(AdminError::invalid(
            "parent",
            format!(
                "{} cannot take individual members: that needs an abbreviation and hosted mailboxes; \
                 ask the service which parent organisation to name",
                org.name
            ),
        ));
    }
    Ok(org)
}

/// An individual gets a hosted mailbox under the parent.
fn individual_connection(
    form: &ApplicationForm,
    parent: &Organisation,
) -> Result<ConnectionKind, AdminError> {
    match connection(
        "connection",
        &form.connection,
        form.gateway.as_deref(),
        form.gateway_port,
        form.strip_suffix,
        true,
    )? {
        ConnectionKind::Smtp { .. } => Err(AdminError::invalid(
            "connection",
            format!(
                "an individual gets a hosted mailbox under {}: use mailbox or unknown",
                parent.name
            ),
        )),
        _ => Ok(ConnectionKind::Mailbox),
    }
}

/// An individual's address is under the parent's abbreviation: none may
/// be given, or the parent's own (seed 001 has safeguarders type it).
fn individual_abbreviation(
    form: &ApplicationForm,
    parent: &Organisation,
) -> Result<Option<String>, AdminError> {
    let own = parent.abbreviation.clone().unwrap_or_default();
    match form.abbreviation.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() && !a.eq_ignore_ascii_case(&own) => Err(AdminError::invalid(
            "abbreviation",
            format!(
                "an individual's address is under {}'s abbreviation, {own}: leave it out or give {own}",
                parent.name
            ),
        )),
        _ => Ok(Some(own)),
    }
}

/// Refuses a second pending application from the same individual.
fn individual_duplicates(service: &Service, address: &str) -> Result<(), AdminError> {
    for (id, app) in service.store.applications()? {
        if app.state == ApplicationState::Pending
            && app.individual
            && app.signatory_address.eq_ignore_ascii_case(address)
        {
            return Err(AdminError::Conflict(format!(
                "{address} has already applied: application {} from {}, waiting for a decision",
                id.0, app.organisation_name
            )));
        }
    }
    Ok(())
}

/// A requested abbreviation: one word, not already connected.
fn abbreviation(
    service: &Service,
    requested: Option<&str>,
    suffix: &str,
) -> Result<Option<String>, AdminError> {
    let Some(a) = requested.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
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
    Ok(Some(a.as_str().to_owned()))
}

/// The postal address, telephone, location and line of business.
fn details(form: &ApplicationForm) -> Result<OrgDetails, AdminError> {
    let telephone = required("telephone", &form.telephone)?;
    let digits = telephone.chars().filter(char::is_ascii_digit).count();
    if !telephone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        || !(6..=20).contains(&digits)
    {
        return Err(AdminError::invalid(
            "telephone",
            format!("{telephone:?} is not a telephone number: use digits, spaces and + - ( )"),
        ));
    }
    Ok(OrgDetails {
        address1: required("address1", &form.address1)?,
        address2: form.address2.trim().to_owned(),
        town: form.town.trim().to_owned(),
        postcode: required("postcode", &form.postcode)?,
        telephone,
        location: required("location", &form.location)?,
        business_type: required("business_type", &form.business_type)?,
    })
}

/// At least one sponsor, each on one of the secure government domains.
fn sponsors(settings: &Settings, form: &ApplicationForm) -> Result<Vec<Sponsor>, AdminError> {
    let list = settings.secure_domains.join(", ");
    let what = "a sponsor is someone you will exchange secure mail with who can confirm your \
                business need, with an address on one of the service's secure government domains";
    if form.sponsors.is_empty() {
        return Err(AdminError::invalid(
            "sponsors",
            format!("at least one sponsor is required: {what}: {list}"),
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
                    "{} is not on a secure government domain; {what}: {list}. \
                     Ask such a contact to sponsor you and give their address there",
                    s.address.trim()
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
    Ok(sponsors)
}

/// A connection kind from its words: `mailbox`, `smtp` (with a gateway),
/// or, when `may_defer`, `unknown` ("don't know / other").
fn connection(
    field: &str,
    kind: &str,
    gateway: Option<&str>,
    port: Option<u16>,
    strip_suffix: bool,
    may_defer: bool,
) -> Result<ConnectionKind, AdminError> {
    let no_gateway = || -> Result<(), AdminError> {
        if gateway.is_some_and(|g| !g.trim().is_empty()) {
            return Err(AdminError::invalid(
                "gateway",
                "a gateway is only for an smtp connection",
            ));
        }
        Ok(())
    };
    let word = kind.trim().to_ascii_lowercase();
    // An application's connection defaults to mailbox; an approval's
    // choice must be said.
    let word = if word.is_empty() && may_defer {
        "mailbox".to_owned()
    } else {
        word
    };
    match word.as_str() {
        "mailbox" => {
            no_gateway()?;
            Ok(ConnectionKind::Mailbox)
        }
        "smtp" => {
            let gateway = gateway.unwrap_or("");
            if gateway.trim().is_empty() {
                return Err(AdminError::invalid(
                    "gateway",
                    "an smtp connection needs the host name of the organisation's mail gateway",
                ));
            }
            Ok(ConnectionKind::Smtp {
                gateway: parse_domain("gateway", gateway)?.as_str().to_owned(),
                port: port.unwrap_or(25),
                strip_suffix,
            })
        }
        "unknown" | "dont-know" | "don't-know" | "don't know" | "other" | "undecided"
            if may_defer =>
        {
            no_gateway()?;
            Ok(ConnectionKind::Undecided)
        }
        other => Err(AdminError::invalid(
            field,
            if may_defer {
                format!(
                    "{other:?} is not a connection kind; use mailbox, smtp, or unknown (the operator decides)"
                )
            } else {
                format!("{other:?} is not a connection kind; choose mailbox or smtp")
            },
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
/// Administrator, who gets a one-time password. The operator's `choice`
/// of connection is required when the applicant did not know theirs, and
/// overrides it otherwise. An individual's application instead makes
/// `admin` (the individual) a member of the parent organisation.
pub(crate) fn approve(
    service: &Service,
    caller: &Caller,
    id: u64,
    admin: &UserForm,
    choice: Option<&ConnectionForm>,
) -> Result<Response, AdminError> {
    operator_only(caller, "approves applications")?;
    let app = pending(service, id)?;
    if app.individual {
        return approve_individual(service, caller, id, &app, admin, choice);
    }
    if service.settings().is_public_mail_provider(&app.domain) {
        return Err(AdminError::Conflict(format!(
            "{} is a public mail provider, which no organisation may claim: reject application {id} \
             and ask the applicant to apply as an individual under a parent organisation",
            app.domain
        )));
    }
    let connection = match choice {
        Some(c) => connection(
            "connection",
            &c.connection,
            c.gateway.as_deref(),
            c.gateway_port,
            c.strip_suffix,
            false,
        )?,
        None if app.connection == ConnectionKind::Undecided => {
            return Err(AdminError::invalid(
                "connection",
                format!(
                    "{} did not know how it will connect: choose mailbox, or smtp with its gateway \
                     (ward org approve {id} --connection smtp --gateway HOST)",
                    app.organisation_name
                ),
            ));
        }
        None => app.connection.clone(),
    };
    let suffix = &service.settings().suffix;
    let mut domains = vec![format!("{}.{suffix}", app.domain)];
    if let Some(a) = &app.abbreviation {
        domains.push(format!("{a}.{suffix}"));
    }
    let org = Organisation {
        name: app.organisation_name.clone(),
        domains,
        abbreviation: app.abbreviation.clone(),
        connection,
        parent: app.parent,
        ex_directory: app.ex_directory,
        state: OrgState::Active,
        delivery_held: false,
        details: app.details.clone(),
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
            "application={id} org={} domains={} connection={}",
            org.name,
            org.domains.join(","),
            connection_text(&org.connection)
        ),
    )?;
    let created = users::create(service, caller, &form, org_id, &org, Role::OrgAdmin)?;
    Ok(Response::Approved {
        organisation: service.org_view(org_id, &org)?,
        admin: created,
    })
}

/// Approves an individual's application: their account, with a one-time
/// password, in the parent organisation, under its abbreviation; their
/// own address receives notices, and their details fill their directory
/// entry. No organisation or domain is created.
fn approve_individual(
    service: &Service,
    caller: &Caller,
    id: u64,
    app: &Application,
    person: &UserForm,
    choice: Option<&ConnectionForm>,
) -> Result<Response, AdminError> {
    if choice.is_some() {
        return Err(AdminError::invalid(
            "connection",
            format!(
                "application {id} is an individual's: they get a hosted mailbox in their parent organisation, so no connection is chosen"
            ),
        ));
    }
    let parent_id = app.parent.ok_or_else(|| {
        AdminError::Conflict(format!(
            "application {id} is an individual's but names no parent organisation; reject it"
        ))
    })?;
    let parent = service.store.organisation(parent_id)?.ok_or_else(|| {
        AdminError::Conflict(format!(
            "the parent organisation of application {id} no longer exists; reject it"
        ))
    })?;
    if parent.abbreviation.is_none() || parent.connection != ConnectionKind::Mailbox {
        return Err(AdminError::Conflict(format!(
            "{} cannot take individual members now: that needs an abbreviation and hosted mailboxes",
            parent.name
        )));
    }
    let d = &app.details;
    let given = |mine: &Option<String>, theirs: &str| {
        Some(mine.clone().unwrap_or_else(|| theirs.to_owned()))
    };
    let mut form = person.clone();
    form.role = Some("user".to_owned());
    form.ex_directory |= app.ex_directory;
    if form
        .notice_address
        .as_deref()
        .is_none_or(|a| a.trim().is_empty())
    {
        form.notice_address = Some(app.signatory_address.clone());
    }
    let own = &person.directory;
    form.directory = DirectoryForm {
        telephone: given(&own.telephone, &d.telephone),
        address1: given(&own.address1, &d.address1),
        address2: given(&own.address2, &d.address2),
        town: given(&own.town, &d.town),
        postcode: given(&own.postcode, &d.postcode),
        business_type: given(&own.business_type, &d.business_type),
        cj_area: given(&own.cj_area, &d.location),
        ..own.clone()
    };
    let created = users::create(service, caller, &form, parent_id, &parent, Role::User)?;
    service.store.decide_application(
        ApplicationId(id),
        ApplicationState::Approved {
            organisation: parent_id,
        },
    )?;
    service.audit(
        caller,
        "org.approve",
        &format!(
            "application={id} individual={} org={} user={}",
            app.organisation_name, parent.name, created.address
        ),
    )?;
    Ok(Response::Joined {
        applicant: app.organisation_name.clone(),
        organisation: service.org_view(parent_id, &parent)?,
        account: created,
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
        .map(|(id, a)| application_view(service, id, &a))
        .collect::<Result<_, _>>()?;
    Ok(Response::Organisations {
        organisations,
        applications,
    })
}

fn application_view(
    service: &Service,
    id: ApplicationId,
    a: &Application,
) -> Result<ApplicationView, AdminError> {
    let parent = match a.parent {
        Some(p) => service.store.organisation(p)?.map(|o| o.name),
        None => None,
    };
    Ok(ApplicationView {
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
        individual: a.individual,
        parent,
        address: postal_address(&a.details),
        telephone: a.details.telephone.clone(),
        location: a.details.location.clone(),
        business_type: a.details.business_type.clone(),
    })
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

/// Holds or releases delivery to an organisation (its mail server is down):
/// mail for it is accepted and waits in the queue, and on release it is
/// delivered at once. Unlike a suspension, its users still sign in and
/// send. Its Organisation Administrators and the operator may do this.
pub(crate) fn set_delivery_held(
    service: &Service,
    caller: &Caller,
    key: &str,
    held: bool,
) -> Result<Response, AdminError> {
    let (id, org) = service.find_org(key)?;
    if !caller.actor.may_manage(id) {
        return Err(AdminError::Forbidden(
            "only the operator or the organisation's own administrators hold or release its delivery"
                .to_owned(),
        ));
    }
    if org.delivery_held == held {
        return Err(AdminError::Conflict(format!(
            "delivery to {} is already {}",
            org.name,
            if held { "held" } else { "running" }
        )));
    }
    service
        .store
        .update_organisation(id, |o| o.delivery_held = held)?;
    let (action, message) = if held {
        (
            "org.delivery-hold",
            format!(
                "delivery to {} is held; its mail waits in the queue until delivery is released",
                org.name
            ),
        )
    } else {
        (
            "org.delivery-release",
            format!(
                "delivery to {} is released; its waiting mail is delivered now",
                org.name
            ),
        )
    };
    audited_change(service, caller, action, &org, message)
}

/// Records an organisation's change in the audit log and says what it did.
fn audited_change(
    service: &Service,
    caller: &Caller,
    action: &str,
    org: &Organisation,
    message: String,
) -> Result<Response, AdminError> {
    service.audit(
        caller,
        action,
        &format!("org={} domains={}", org.name, org.domains.join(",")),
    )?;
    Ok(Response::Done { message })
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
    audited_change(service, caller, action, &org, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_without_case_punctuation_or_legal_forms() {
        for (a, b) in [
            ("Greenstone Chambers", "greenstone  chambers"),
            ("Greenstone Chambers Ltd", "The Greenstone Chambers"),
            ("Greenstone Chambers Limited", "Greenstone Chambers LTD."),
            ("Smith & Jones LLP", "Smith and Jones"),
            (
                "Children's Hearings (Scotland)",
                "Childrens Hearings - Scotland",
            ),
            ("H.M. Courts", "HM Courts"),
            ("Oakfield Solicitors PLC", "oakfield solicitors"),
            ("John Smith (Safeguarder)", "JOHN SMITH, Safeguarder"),
        ] {
            assert_eq!(name_key(a), name_key(b), "{a} and {b}");
        }
        for (a, b) in [
            ("Greenstone Chambers", "Greenstone Chamber"),
            ("Smith & Jones", "Smith Jones"),
            ("Northgate Solicitors", "Northgate Law"),
        ] {
            assert_ne!(name_key(a), name_key(b), "{a} and {b}");
        }
        assert_eq!(name_key("The Ltd"), "");
        assert_eq!(name_key("  Théâtre   Légal "), "théâtre légal");
    }

    #[test]
    fn connection_words() {
        let c = |kind: &str, gateway: Option<&str>, may_defer: bool| {
            connection("connection", kind, gateway, None, false, may_defer)
        };
        assert_eq!(c("", None, true).unwrap(), ConnectionKind::Mailbox);
        assert_eq!(c("Mailbox", None, false).unwrap(), ConnectionKind::Mailbox);
        for word in ["unknown", "don't know", "other", "dont-know"] {
            assert_eq!(c(word, None, true).unwrap(), ConnectionKind::Undecided);
            let refused = c(word, None, false).unwrap_err().to_string();
            assert!(refused.contains("choose mailbox or smtp"), "{refused}");
        }
        assert!(c("", None, false).is_err(), "an approval's choice is said");
        assert!(c("unknown", Some("mx.example.org"), true).is_err());
        assert!(c("smtp", None, true).is_err());
        assert_eq!(
            c("smtp", Some("mx.example.org"), false).unwrap(),
            ConnectionKind::Smtp {
                gateway: "mx.example.org".to_owned(),
                port: 25,
                strip_suffix: false
            }
        );
    }
}
