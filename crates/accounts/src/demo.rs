//! A small demo community, created once, so a newcomer can point a mail
//! client at Ward within a minute: a mailbox-connected chambers that keeps
//! its users' addresses, and an SMTP-connected safeguarding service that
//! uses an abbreviation. The passwords are ready to use (no first-login
//! change) and are shown once.

use std::collections::HashSet;

use store::{AccountStatus, ConnectionKind, OrgState, Organisation, PasswordHash, Role};

use crate::api::{Credentials, DirectoryForm, Response, UserForm};
use crate::error::AdminError;
use crate::service::{Caller, Service};
use crate::{password, users};

struct DemoUser {
    first: &'static str,
    last: &'static str,
    existing: Option<&'static str>,
    role: Role,
    telephone: &'static str,
    description: &'static str,
}

pub(crate) fn create(service: &Service, caller: &Caller) -> Result<Response, AdminError> {
    if !caller.actor.is_operator() {
        return Err(AdminError::Forbidden(
            "only the operator creates the demo community".to_owned(),
        ));
    }
    if !service.store.organisations()?.is_empty() {
        return Ok(Response::Demo {
            created: false,
            organisations: Vec::new(),
            users: Vec::new(),
            message: "the store already holds organisations, so no demo community was created \
                      (passwords are shown only when it is made; `ward user reset ADDRESS` issues new ones)"
                .to_owned(),
        });
    }
    let suffix = service.settings().suffix.clone();
    let chambers = Organisation {
        name: "Greenstone Chambers".to_owned(),
        domains: vec![format!("greenstonechambers.co.uk.{suffix}")],
        abbreviation: None,
        connection: ConnectionKind::Mailbox,
        parent: None,
        ex_directory: false,
        state: OrgState::Active,
        delivery_held: false,
        details: Default::default(),
    };
    let safeguarders = Organisation {
        name: "Safeguarder Service".to_owned(),
        domains: vec![
            format!("safeguarders.org.uk.{suffix}"),
            format!("safeguarder.{suffix}"),
        ],
        abbreviation: Some("safeguarder".to_owned()),
        connection: ConnectionKind::Smtp {
            gateway: "localhost".to_owned(),
            port: 2526,
            strip_suffix: false,
        },
        parent: None,
        ex_directory: false,
        state: OrgState::Active,
        delivery_held: false,
        details: Default::default(),
    };
    let people = [
        (
            &chambers,
            DemoUser {
                first: "Eric",
                last: "Brown",
                existing: Some("eric.brown@greenstonechambers.co.uk"),
                role: Role::OrgAdmin,
                telephone: "020 7946 0001",
                description: "Head of Chambers",
            },
        ),
        (
            &chambers,
            DemoUser {
                first: "Anna",
                last: "Jones",
                existing: Some("anna.jones@greenstonechambers.co.uk"),
                role: Role::User,
                telephone: "020 7946 0002",
                description: "Barrister",
            },
        ),
        (
            &safeguarders,
            DemoUser {
                first: "Bruce",
                last: "Knight",
                existing: None,
                role: Role::OrgAdmin,
                telephone: "0131 496 0003",
                description: "Safeguarder",
            },
        ),
    ];
    let mut organisations = Vec::new();
    let mut credentials = Vec::new();
    let now = service.now();
    for org in [&chambers, &safeguarders] {
        let id = service.store.create_organisation(org)?;
        organisations.push(format!(
            "{} ({})",
            org.name,
            crate::service::connection_text(&org.connection)
        ));
        let mut taken = HashSet::new();
        for (_, person) in people.iter().filter(|(o, _)| std::ptr::eq(*o, org)) {
            let form = UserForm {
                organisation: org.name.clone(),
                first_name: person.first.to_owned(),
                last_name: person.last.to_owned(),
                existing_address: person.existing.map(str::to_owned),
                directory: DirectoryForm {
                    telephone: Some(person.telephone.to_owned()),
                    description: Some(person.description.to_owned()),
                    ..DirectoryForm::default()
                },
                ..UserForm::default()
            };
            let mut user = users::plan(service, caller, &form, id, org, &mut taken)?;
            let secret = password::one_time();
            user.role = person.role;
            user.status = AccountStatus::Active;
            user.password_hash = Some(PasswordHash(password::hash(&secret)));
            user.password_set_at = Some(now);
            service.store.create_user(&user)?;
            credentials.push(Credentials {
                address: user.address,
                password: secret,
            });
        }
    }
    service.audit(
        caller,
        "demo.create",
        &format!(
            "organisations={} users={}",
            organisations.len(),
            credentials.len()
        ),
    )?;
    Ok(Response::Demo {
        created: true,
        organisations,
        users: credentials,
        message: "demo community created; these passwords are shown only now".to_owned(),
    })
}
