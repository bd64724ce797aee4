//! Repeated logins with the same correct password are answered from the
//! cache of recent verifications; a password change, a reset or a
//! suspension takes effect at once all the same.

use std::sync::Arc;

use accounts::{AccountRefusal, AdminError, Caller, Request, Response, Service, Settings};

fn demo() -> (tempfile::TempDir, Service, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store::Store::open(&dir.path().join("store")).unwrap());
    let service = Service::new(store, Settings::default(), Arc::new(accounts::SystemClock));
    let Response::Demo { users, .. } = service
        .execute(&Caller::operator("test"), Request::Demo)
        .unwrap()
    else {
        panic!("demo response")
    };
    let first = users.into_iter().next().unwrap();
    (dir, service, first.address, first.password)
}

#[test]
fn repeated_logins_use_the_cache_and_changes_take_effect_at_once() {
    let (_dir, service, address, password) = demo();
    service.login(&address, &password, "test").unwrap();
    assert_eq!(
        service.cached_logins(),
        0,
        "the first login is checked in full"
    );
    for _ in 0..3 {
        service.login(&address, &password, "test").unwrap();
    }
    assert_eq!(service.cached_logins(), 3);

    // A wrong password is never answered from the cache.
    let wrong = service.login(&address, "not the password", "test");
    assert!(
        matches!(wrong, Err(AdminError::BadCredentials)),
        "{wrong:?}"
    );

    // Suspension refuses the next login though the password is cached.
    let operator = Caller::operator("test");
    service
        .execute(
            &operator,
            Request::UserSuspend {
                address: address.clone(),
            },
        )
        .unwrap();
    let refused = service.login(&address, &password, "test");
    assert!(
        matches!(
            refused,
            Err(AdminError::AccountRefused(AccountRefusal::Suspended))
        ),
        "{refused:?}"
    );
    service
        .execute(
            &operator,
            Request::UserReactivate {
                address: address.clone(),
            },
        )
        .unwrap();
    service.login(&address, &password, "test").unwrap();

    // After a password change the old password is refused at once.
    let new = "a brand new passphrase 42";
    service
        .execute(
            &operator,
            Request::Passwd {
                address: address.clone(),
                current: password.clone(),
                new: new.to_owned(),
            },
        )
        .unwrap();
    let old = service.login(&address, &password, "test");
    assert!(matches!(old, Err(AdminError::BadCredentials)), "{old:?}");
    service.login(&address, new, "test").unwrap();
}
