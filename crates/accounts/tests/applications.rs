//! Applications as seeds 000 and 001 describe them: a connection the
//! applicant does not know yet, the organisation's postal details, an
//! individual at a public mail provider under a parent organisation,
//! duplicates found by name, and sponsors on the configured secure domains.

use std::sync::Arc;

use accounts::{
    AdminError, ApplicationForm, Caller, ConnectionForm, DirectoryForm, ExportFormat, Request,
    Response, Service, Settings, SignatoryForm, SponsorForm, UserForm,
};

fn service(settings: Settings) -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store::Store::open(&dir.path().join("store")).unwrap());
    let service = Service::new(store, settings, Arc::new(accounts::SystemClock));
    (dir, service)
}

fn run(service: &Service, request: Request) -> Result<Response, AdminError> {
    service.execute(&Caller::operator("test"), request)
}

/// A complete application for `domain`.
fn form(domain: &str, name: &str) -> ApplicationForm {
    ApplicationForm {
        domain: domain.to_owned(),
        name: name.to_owned(),
        connection: "mailbox".to_owned(),
        reason: "We exchange case papers with the courts".to_owned(),
        expected_users: 5,
        sponsors: vec![SponsorForm {
            name: "Jo Bloggs".to_owned(),
            organisation: "Crown Prosecution Service".to_owned(),
            address: "jo.bloggs@cps.gov.uk".to_owned(),
            position: "Senior Lawyer".to_owned(),
        }],
        signatory: SignatoryForm {
            name: "Sam Partner".to_owned(),
            position: "Managing Partner".to_owned(),
            address: format!("sam@{domain}"),
            accepts_terms: "1.0".to_owned(),
        },
        address1: "1 High Street".to_owned(),
        address2: String::new(),
        town: "Leeds".to_owned(),
        postcode: "LS1 1AA".to_owned(),
        telephone: "0113 496 0000".to_owned(),
        location: "West Yorkshire".to_owned(),
        business_type: "Solicitors".to_owned(),
        ..ApplicationForm::default()
    }
}

fn apply(service: &Service, form: ApplicationForm) -> Result<u64, AdminError> {
    match run(service, Request::OrgApply(form))? {
        Response::Applied { application, .. } => Ok(application),
        other => panic!("{other:?}"),
    }
}

fn person(first: &str, last: &str, existing: Option<&str>) -> UserForm {
    UserForm {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        existing_address: existing.map(str::to_owned),
        ..UserForm::default()
    }
}

fn approve(
    service: &Service,
    application: u64,
    admin: UserForm,
    connection: Option<ConnectionForm>,
) -> Result<Response, AdminError> {
    run(
        service,
        Request::OrgApprove {
            application,
            admin,
            connection,
        },
    )
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, AdminError>, parts: &[&str]) {
    let message = result.expect_err("refused").to_string();
    for p in parts {
        assert!(message.contains(p), "{p:?} missing from {message:?}");
    }
}

/// Connects a mailbox organisation with abbreviation `safeguarder`, the
/// parent individuals join under.
fn connect_parent(service: &Service) {
    let id = apply(
        service,
        ApplicationForm {
            abbreviation: Some("safeguarder".to_owned()),
            ..form("scra.gov.uk", "Scotland - Justice System / Safeguarders")
        },
    )
    .unwrap();
    approve(service, id, person("Bruce", "Knight", None), None).unwrap();
}

/// seed 001 step 3 and 10: John Smith applies from his Gmail address.
fn safeguarder(first: &str) -> ApplicationForm {
    let mut f = form("gmail.com", &format!("{first} Smith (Safeguarder)"));
    f.parent = Some("Scotland - Justice System / Safeguarders".to_owned());
    f.connection = "unknown".to_owned();
    f.abbreviation = Some("Safeguarder".to_owned());
    f.ex_directory = true;
    f.location = "Scotland".to_owned();
    f.business_type = "Other - Scotland".to_owned();
    f.expected_users = 1;
    f.signatory.name = format!("{first} Smith");
    f.signatory.position = "Safeguarder".to_owned();
    f.signatory.address = format!("{}.smith@gmail.com", first.to_lowercase());
    f
}

#[test]
fn dont_know_is_a_connection_and_the_operator_chooses_at_approval() {
    let (_dir, service) = service(Settings::default());
    let id = apply(
        &service,
        ApplicationForm {
            connection: "unknown".to_owned(),
            ..form("oakfield.org.uk", "Oakfield Solicitors")
        },
    )
    .unwrap();
    let Response::Organisations { applications, .. } = run(&service, Request::OrgList).unwrap()
    else {
        panic!()
    };
    assert!(
        applications[0].connection.contains("don't know"),
        "{applications:?}"
    );
    let admin = || person("Sam", "Smith", Some("sam.smith@oakfield.org.uk"));
    refused(
        approve(&service, id, admin(), None),
        &["did not know how it will connect", "--connection smtp"],
    );
    refused(
        approve(
            &service,
            id,
            admin(),
            Some(ConnectionForm {
                connection: "unknown".to_owned(),
                ..ConnectionForm::default()
            }),
        ),
        &["choose mailbox or smtp"],
    );
    refused(
        approve(
            &service,
            id,
            admin(),
            Some(ConnectionForm {
                connection: "smtp".to_owned(),
                ..ConnectionForm::default()
            }),
        ),
        &["gateway"],
    );
    let Response::Approved { organisation, .. } = approve(
        &service,
        id,
        admin(),
        Some(ConnectionForm {
            connection: "smtp".to_owned(),
            gateway: Some("mail.oakfield.org.uk".to_owned()),
            ..ConnectionForm::default()
        }),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(organisation.connection, "smtp via mail.oakfield.org.uk:25");
}

#[test]
fn the_postal_details_are_required_kept_and_fill_the_directory() {
    let (_dir, service) = service(Settings::default());
    for (field, blank) in [
        (
            "address1",
            ApplicationForm {
                address1: " ".to_owned(),
                ..form("a.org.uk", "A")
            },
        ),
        (
            "postcode",
            ApplicationForm {
                postcode: String::new(),
                ..form("a.org.uk", "A")
            },
        ),
        (
            "telephone",
            ApplicationForm {
                telephone: String::new(),
                ..form("a.org.uk", "A")
            },
        ),
        (
            "location",
            ApplicationForm {
                location: String::new(),
                ..form("a.org.uk", "A")
            },
        ),
        (
            "business_type",
            ApplicationForm {
                business_type: String::new(),
                ..form("a.org.uk", "A")
            },
        ),
    ] {
        refused(apply(&service, blank), &[field, "is required"]);
    }
    refused(
        apply(
            &service,
            ApplicationForm {
                telephone: "call me".to_owned(),
                ..form("a.org.uk", "A")
            },
        ),
        &["telephone", "not a telephone number"],
    );
    let id = apply(
        &service,
        ApplicationForm {
            address2: "Floor 2".to_owned(),
            ..form("oakfield.org.uk", "Oakfield Solicitors")
        },
    )
    .unwrap();
    let Response::Approved { organisation, .. } = approve(
        &service,
        id,
        person("Sam", "Smith", Some("sam.smith@oakfield.org.uk")),
        None,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        organisation.address,
        "1 High Street, Floor 2, Leeds, LS1 1AA"
    );
    assert_eq!(organisation.telephone, "0113 496 0000");
    assert_eq!(organisation.location, "West Yorkshire");
    assert_eq!(organisation.business_type, "Solicitors");
    // A user with an address of their own keeps it.
    run(
        &service,
        Request::UserAdd(UserForm {
            organisation: "oakfield.org.uk".to_owned(),
            directory: DirectoryForm {
                address1: Some("9 Court Lane".to_owned()),
                town: Some("York".to_owned()),
                ..DirectoryForm::default()
            },
            ..person("Lee", "Chan", Some("lee.chan@oakfield.org.uk"))
        }),
    )
    .unwrap();
    let Response::Export { content } = run(
        &service,
        Request::DirectoryExport {
            format: ExportFormat::Csv,
        },
    )
    .unwrap() else {
        panic!()
    };
    let sam = content.lines().find(|l| l.starts_with("Sam,")).unwrap();
    assert!(
        sam.contains("1 High Street,Floor 2,Leeds,LS1 1AA,")
            && sam.ends_with(",Solicitors,West Yorkshire,New User Locked"),
        "{sam}"
    );
    let lee = content.lines().find(|l| l.starts_with("Lee,")).unwrap();
    assert!(lee.contains("9 Court Lane,,York,,"), "{lee}");
}

#[test]
fn an_individual_at_a_public_provider_joins_under_a_parent() {
    let (_dir, service) = service(Settings::default());
    // Without a parent: told what to do; gmail.com itself is never claimed.
    refused(
        apply(&service, form("gmail.com", "John Smith")),
        &["gmail.com is a public mail provider", "parent organisation"],
    );
    refused(
        apply(&service, form("hotmail.co.uk", "John Smith")),
        &["public mail provider"],
    );
    // The parent must take individuals: an abbreviation and mailboxes.
    let plain = apply(&service, form("oakfield.org.uk", "Oakfield Solicitors")).unwrap();
    approve(
        &service,
        plain,
        person("Sam", "Smith", Some("sam.smith@oakfield.org.uk")),
        None,
    )
    .unwrap();
    refused(
        apply(
            &service,
            ApplicationForm {
                parent: Some("Oakfield Solicitors".to_owned()),
                ..safeguarder("John")
            },
        ),
        &["Oakfield Solicitors cannot take individual members"],
    );
    connect_parent(&service);
    refused(
        apply(
            &service,
            ApplicationForm {
                abbreviation: Some("johnsmith".to_owned()),
                ..safeguarder("John")
            },
        ),
        &["under Scotland - Justice System / Safeguarders's abbreviation, safeguarder"],
    );
    refused(
        apply(
            &service,
            ApplicationForm {
                connection: "smtp".to_owned(),
                gateway: Some("smtp.gmail.com".to_owned()),
                ..safeguarder("John")
            },
        ),
        &["an individual gets a hosted mailbox"],
    );

    let john = apply(&service, safeguarder("John")).unwrap();
    // Another individual at the same provider is no duplicate...
    let jane = apply(&service, safeguarder("Jane")).unwrap();
    // ...but the same person twice is.
    refused(
        apply(
            &service,
            ApplicationForm {
                name: "J. Smith (Safeguarder)".to_owned(),
                ..safeguarder("John")
            },
        ),
        &["john.smith@gmail.com has already applied: application"],
    );
    let Response::Organisations { applications, .. } = run(&service, Request::OrgList).unwrap()
    else {
        panic!()
    };
    let view = applications.iter().find(|a| a.id == john).unwrap();
    assert!(view.individual, "{view:?}");
    assert_eq!(
        view.parent.as_deref(),
        Some("Scotland - Justice System / Safeguarders")
    );
    assert_eq!(view.connection, "mailbox");

    refused(
        approve(
            &service,
            john,
            person("John", "Smith", None),
            Some(ConnectionForm {
                connection: "mailbox".to_owned(),
                ..ConnectionForm::default()
            }),
        ),
        &["individual's", "no connection is chosen"],
    );
    let Response::Joined {
        applicant,
        organisation,
        account,
    } = approve(&service, john, person("John", "Smith", None), None).unwrap()
    else {
        panic!()
    };
    assert_eq!(applicant, "John Smith (Safeguarder)");
    assert_eq!(
        organisation.name,
        "Scotland - Justice System / Safeguarders"
    );
    assert_eq!(account.address, "john.smith@safeguarder.cjsm.net");
    let Response::Joined { account, .. } =
        approve(&service, jane, person("Jane", "Smith", None), None).unwrap()
    else {
        panic!()
    };
    assert_eq!(account.address, "jane.smith@safeguarder.cjsm.net");

    // No organisation has gmail.com; John's notices go to his own address,
    // his details are his directory entry, and he is ex-directory.
    let store = service.store();
    assert!(
        store
            .organisation_by_domain("gmail.com.cjsm.net")
            .unwrap()
            .is_none()
    );
    assert_eq!(store.organisations().unwrap().len(), 2);
    let (_, user) = store
        .user_by_address("john.smith@safeguarder.cjsm.net")
        .unwrap()
        .unwrap();
    assert_eq!(user.notice_address.as_deref(), Some("john.smith@gmail.com"));
    assert_eq!(user.role, store::Role::User);
    assert!(user.ex_directory);
    assert_eq!(user.directory.cj_area, "Scotland");
    assert_eq!(user.directory.business_type, "Other - Scotland");
    assert_eq!(user.directory.telephone, "0113 496 0000");
}

#[test]
fn the_public_provider_list_is_configurable() {
    let (_dir, service) = service(Settings {
        public_mail_providers: vec!["freemail.*".to_owned()],
        ..Settings::default()
    });
    refused(
        apply(&service, form("freemail.co.uk", "John Smith")),
        &["freemail.co.uk is a public mail provider"],
    );
    // Off the list, gmail.com is an ordinary domain.
    apply(&service, form("gmail.com", "Google Mail")).unwrap();
}

#[test]
fn duplicates_are_found_by_name_as_well_as_domain() {
    let (_dir, service) = service(Settings::default());
    let id = apply(
        &service,
        form("greenstonechambers.co.uk", "Greenstone Chambers"),
    )
    .unwrap();
    refused(
        apply(
            &service,
            form("greenstone.law", "The Greenstone Chambers Ltd."),
        ),
        &[&format!(
            "The Greenstone Chambers Ltd. has already applied: application {id} from Greenstone Chambers (greenstonechambers.co.uk)"
        )],
    );
    approve(
        &service,
        id,
        person("Eric", "Brown", Some("eric.brown@greenstonechambers.co.uk")),
        None,
    )
    .unwrap();
    refused(
        apply(&service, form("greenstone.law", "greenstone  chambers LLP")),
        &[
            "is already connected, as Greenstone Chambers (greenstonechambers.co.uk.cjsm.net)",
            "ask its Organisation Administrator",
        ],
    );
    apply(&service, form("greenstone.law", "Greenstone Law")).unwrap();
}

#[test]
fn sponsors_must_be_on_the_configured_secure_domains() {
    let (_dir, service) = service(Settings {
        secure_domains: vec!["justice.example".to_owned()],
        ..Settings::default()
    });
    refused(
        apply(&service, form("oakfield.org.uk", "Oakfield Solicitors")),
        &[
            "jo.bloggs@cps.gov.uk is not on a secure government domain",
            "justice.example",
            "Ask such a contact to sponsor you",
        ],
    );
    refused(
        apply(
            &service,
            ApplicationForm {
                sponsors: Vec::new(),
                ..form("oakfield.org.uk", "Oakfield Solicitors")
            },
        ),
        &["at least one sponsor", "justice.example"],
    );
    let mut ok = form("oakfield.org.uk", "Oakfield Solicitors");
    ok.sponsors[0].address = "clerk@court.justice.example".to_owned();
    apply(&service, ok).unwrap();
}
