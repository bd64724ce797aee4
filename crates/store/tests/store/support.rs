//! Fixtures shared by the tests.

use std::collections::BTreeSet;

use store::{
    AccountStatus, ConnectionKind, Flags, NewMessage, OrgId, OrgState, Organisation, Role, Store,
    User, UserId,
};

/// An organisation with one domain.
pub(crate) fn organisation(domain: &str) -> Organisation {
    Organisation {
        name: format!("Org of {domain}"),
        domains: vec![domain.to_owned()],
        abbreviation: None,
        connection: ConnectionKind::Mailbox,
        parent: None,
        ex_directory: false,
        state: OrgState::Active,
        delivery_held: false,
        details: Default::default(),
    }
}

/// A user of `org`.
pub(crate) fn user(address: &str, org: OrgId) -> User {
    User {
        address: address.to_owned(),
        first_name: "Eric".into(),
        last_name: "Brown".into(),
        notice_address: None,
        organisation: org,
        role: Role::User,
        directory: Default::default(),
        ex_directory: false,
        status: AccountStatus::Active,
        password_hash: None,
        password_set_at: None,
        previous_passwords: Vec::new(),
        failed_attempts: 0,
        locked_at: None,
        last_login: None,
        created_at: 0,
    }
}

/// Creates (or finds) an organisation and a user in it.
pub(crate) fn ensure_user(store: &Store, address: &str) -> UserId {
    if let Some((id, _)) = store.user_by_address(address).unwrap() {
        return id;
    }
    let domain = address.split('@').nth(1).unwrap();
    let org = match store.organisation_by_domain(domain).unwrap() {
        Some((id, _)) => id,
        None => store.create_organisation(&organisation(domain)).unwrap(),
    };
    store.create_user(&user(address, org)).unwrap()
}

/// A fresh store with one user.
pub(crate) fn fresh() -> (tempfile::TempDir, Store, UserId) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let user = ensure_user(&store, "eric.brown@greenstone.cjsm.net");
    (dir, store, user)
}

/// A message with no flags.
pub(crate) fn msg(raw: &[u8]) -> NewMessage<'_> {
    NewMessage {
        raw,
        cached: None,
        internal_date: 1_700_000_000,
        flags: Flags::empty(),
        keywords: BTreeSet::new(),
    }
}

/// Asserts the store's consistency check finds nothing.
pub(crate) fn assert_consistent(store: &Store) {
    let report = store.check_consistency().unwrap();
    assert!(report.is_consistent(), "{:#?}", report.problems);
}
