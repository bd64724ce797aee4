//! The audit log as the accounts service writes and shows it: every
//! sign-in, successful or not, is on the record; an Organisation
//! Administrator reads their own organisation's records and no others.

use std::sync::Arc;

use accounts::{AdminError, Caller, Request, Response, Service, Settings};

fn demo() -> (tempfile::TempDir, Service, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store::Store::open(&dir.path().join("store")).unwrap());
    let service = Service::new(store, Settings::default(), Arc::new(accounts::SystemClock));
    let Response::Demo { users, .. } = service
        .execute(&Caller::operator("test"), Request::Demo)
        .unwrap()
    else {
        panic!("demo response")
    };
    let users = users.into_iter().map(|c| (c.address, c.password)).collect();
    (dir, service, users)
}

fn as_member(service: &Service, address: &str, password: &str) -> Caller {
    Caller {
        actor: service.login(address, password, "test").unwrap().actor(),
        source: "test".to_owned(),
    }
}

fn records(service: &Service, caller: &Caller) -> Vec<accounts::AuditLine> {
    let request = Request::AuditList {
        since: None,
        organisation: None,
        limit: None,
    };
    match service.execute(caller, request).unwrap() {
        Response::Audit { records } => records,
        other => panic!("{other:?}"),
    }
}

#[test]
fn sign_ins_are_recorded_and_org_admins_read_only_their_own() {
    let (_dir, service, users) = demo();
    // Eric administers Greenstone Chambers, Anna is a member there, Bruce
    // administers the Safeguarder Service.
    let (eric, anna, bruce) = (&users[0], &users[1], &users[2]);
    service.login(&anna.0, &anna.1, "imap 192.0.2.7").unwrap();
    let wrong = service.login(&anna.0, "not it", "smtp 192.0.2.8");
    assert!(matches!(wrong, Err(AdminError::BadCredentials)));
    let unknown = service.login(
        "nobody@greenstonechambers.co.uk.cjsm.net",
        "x",
        "imap 192.0.2.9",
    );
    assert!(matches!(unknown, Err(AdminError::BadCredentials)));

    let all = records(&service, &Caller::operator("test"));
    let find = |action: &str, source: &str| {
        all.iter()
            .find(|r| r.action == action && r.source == source)
            .unwrap_or_else(|| panic!("no {action} from {source}: {all:#?}"))
    };
    assert_eq!(find("login", "imap 192.0.2.7").actor, anna.0);
    assert!(
        find("login.failed", "smtp 192.0.2.8")
            .detail
            .contains("reason=bad-password")
    );
    assert!(
        find("login.failed", "imap 192.0.2.9")
            .detail
            .contains("reason=unknown-user")
    );
    assert!(
        all.iter()
            .all(|r| r.hash.len() == 64 && r.prev_hash.len() == 64)
    );

    let chambers = records(&service, &as_member(&service, &eric.0, &eric.1));
    assert!(chambers.iter().any(|r| r.source == "imap 192.0.2.7"));
    assert!(
        chambers.iter().any(|r| r.source == "imap 192.0.2.9"),
        "guesses at its domain"
    );
    assert!(
        chambers.iter().all(|r| !r.detail.contains("safeguarder")),
        "{chambers:#?}"
    );
    let safeguarders = records(&service, &as_member(&service, &bruce.0, &bruce.1));
    assert!(!safeguarders.is_empty());
    assert!(safeguarders.iter().all(|r| r.source != "imap 192.0.2.7"));

    // A member who administers nothing reads nothing; an administrator
    // cannot ask for another organisation.
    let member = as_member(&service, &anna.0, &anna.1);
    let refused = service.execute(
        &member,
        Request::AuditList {
            since: None,
            organisation: None,
            limit: None,
        },
    );
    assert!(
        matches!(refused, Err(AdminError::Forbidden(_))),
        "{refused:?}"
    );
    let refused = service.execute(
        &as_member(&service, &eric.0, &eric.1),
        Request::AuditList {
            since: None,
            organisation: Some("Safeguarder Service".to_owned()),
            limit: None,
        },
    );
    assert!(
        matches!(refused, Err(AdminError::Forbidden(_))),
        "{refused:?}"
    );
}

#[test]
fn export_pages_through_the_log_and_checkpoints_are_checked() {
    let (_dir, service, users) = demo();
    for _ in 0..5 {
        let _ = service.login(&users[1].0, "wrong", "imap 192.0.2.1");
    }
    let operator = Caller::operator("test");
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let Response::Audit { records } = service
            .execute(
                &operator,
                Request::AuditExport {
                    after,
                    since: None,
                    max: Some(2),
                },
            )
            .unwrap()
        else {
            panic!()
        };
        let Some(last) = records.last() else { break };
        after = last.seq;
        seen.extend(records.into_iter().map(|r| (r.seq, r.hash)));
    }
    assert_eq!(seen.len() as u64, seen.last().unwrap().0);
    let (seq, hash) = seen[2].clone();
    let check = |hash: String| {
        service
            .execute(
                &operator,
                Request::AuditCheck {
                    checkpoints: vec![accounts::AuditPoint { seq, hash }],
                },
            )
            .unwrap()
    };
    let Response::AuditChecked {
        intact,
        checkpoints,
        ..
    } = check(hash)
    else {
        panic!()
    };
    assert!(intact);
    assert_eq!(checkpoints[0].outcome, "contained");
    let Response::AuditChecked { checkpoints, .. } = check("00".repeat(32)) else {
        panic!()
    };
    assert_eq!(checkpoints[0].outcome, "differs");
}
