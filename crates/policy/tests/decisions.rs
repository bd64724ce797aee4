//! Table-driven tests for every policy decision and every refusal, each
//! asserting the reply code, enhanced status code and text.

use policy::{
    AccountState, AccountStatus, Address, AddressError, AuthenticatedUser, Community, Connection,
    Domain, ExternalDomain, Gateway, GuardedCommand, IpNetwork, LabelSource, Limits, Listener,
    Marking, Organisation, ParseOptions, PolicyError, Reply, Route, SenderOrigin,
    SessionCredentials, SessionState, SuffixRewrite, check_account, check_command,
};

fn a(s: &str) -> Address {
    Address::try_from(s).unwrap()
}

fn d(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

/// A community with a hosted organisation, an SMTP organisation that strips
/// the suffix, one with an abbreviation, a suspended one, and an external
/// domain proven by source network and certificate name.
fn community() -> Community {
    let mut c = Community::default();
    c.organisations.push(Organisation::mailbox(
        "Greenstone Chambers",
        d("greenstonechambers.co.uk"),
    ));
    c.organisations.push(Organisation::smtp(
        "Northshire Council",
        d("northshire.gov.uk"),
        Gateway {
            host: d("mx.northshire.gov.uk"),
            port: 25,
            rewrite: SuffixRewrite::StripSuffix,
        },
    ));
    c.organisations.push(Organisation {
        abbreviation: Some(d("safeguarder")),
        ..Organisation::mailbox("Safeguarders Panel", d("safeguarders.example"))
    });
    c.organisations.push(Organisation {
        suspended: true,
        ..Organisation::smtp(
            "Down Solicitors",
            d("down.example"),
            Gateway {
                host: d("mx.down.example"),
                port: 25,
                rewrite: SuffixRewrite::KeepSuffix,
            },
        )
    });
    let cps = c
        .external_secure_domains
        .iter_mut()
        .find(|e| e.domain.as_str() == "cps.gov.uk")
        .unwrap();
    cps.source_networks
        .push(IpNetwork::parse("198.51.100.0/24").unwrap());
    cps.certificate_names.push(d("relay.cps.gov.uk"));
    c
}

fn user(address: &str) -> SessionCredentials {
    SessionCredentials {
        authenticated: Some(AuthenticatedUser::new(a(address))),
        ..SessionCredentials::default()
    }
}

fn gateway(org: &str) -> SessionCredentials {
    SessionCredentials {
        gateway_organisation: Some(org.into()),
        source_ip: Some("203.0.113.9".parse().unwrap()),
        ..SessionCredentials::default()
    }
}

fn peer(cert_names: &[&str], ip: &str) -> SessionCredentials {
    SessionCredentials {
        client_certificate_names: cert_names.iter().map(|n| d(n)).collect(),
        source_ip: Some(ip.parse().unwrap()),
        ..SessionCredentials::default()
    }
}

fn assert_reply(error: &PolicyError, code: u16, enhanced: &str, text: &str) {
    let reply = Reply::from(error);
    assert_eq!(reply.code, code, "{error:?}: {reply}");
    assert_eq!(reply.enhanced.to_string(), enhanced, "{error:?}: {reply}");
    assert!(
        reply.text.contains(text),
        "{error:?}: {:?} lacks {text:?}",
        reply.text
    );
    assert!(!reply.text.contains(['\r', '\n']));
}

/// Name, reverse-path, session, expected decision.
type SenderCase = (
    &'static str,
    Option<&'static str>,
    SessionCredentials,
    Result<SenderOrigin, PolicyError>,
);

#[test]
fn senders_are_believed_only_with_proof() {
    let c = community();
    let eric = "eric.brown@greenstonechambers.co.uk.cjsm.net";
    let mut granted = user(eric);
    granted
        .authenticated
        .as_mut()
        .unwrap()
        .may_send_as
        .push(a("clerks@greenstonechambers.co.uk.cjsm.net"));
    let ok = |s: SenderOrigin| Ok::<_, PolicyError>(s);
    let cases: Vec<SenderCase> = vec![
        (
            "own address",
            Some(eric),
            user(eric),
            ok(SenderOrigin::User {
                sender: Some(a(eric)),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            "own address, other case",
            Some("Eric.Brown@GreenstoneChambers.co.uk.cjsm.net"),
            user(eric),
            ok(SenderOrigin::User {
                sender: Some(a("Eric.Brown@greenstonechambers.co.uk.cjsm.net")),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            "granted address",
            Some("clerks@greenstonechambers.co.uk.cjsm.net"),
            granted.clone(),
            ok(SenderOrigin::User {
                sender: Some(a("clerks@greenstonechambers.co.uk.cjsm.net")),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            // Issue 25: `<>` is for servers' reports, not signed-in users.
            "user bounce",
            None,
            user(eric),
            Err(PolicyError::NullSenderNotPermitted { user: a(eric) }),
        ),
        (
            "abbreviation user",
            Some("jimmy.jones@safeguarder.cjsm.net"),
            user("jimmy.jones@safeguarder.cjsm.net"),
            ok(SenderOrigin::User {
                sender: Some(a("jimmy.jones@safeguarder.cjsm.net")),
                organisation: "Safeguarders Panel".into(),
            }),
        ),
        (
            "gateway for its own org",
            Some("clerk@northshire.gov.uk.cjsm.net"),
            gateway("Northshire Council"),
            ok(SenderOrigin::OrganisationGateway {
                organisation: "Northshire Council".into(),
            }),
        ),
        (
            "gateway bounce",
            None,
            gateway("Northshire Council"),
            ok(SenderOrigin::OrganisationGateway {
                organisation: "Northshire Council".into(),
            }),
        ),
        (
            "external by certificate within domain",
            Some("pc.smith@kent.pnn.police.uk"),
            peer(&["mail.kent.pnn.police.uk"], "192.0.2.1"),
            ok(SenderOrigin::ExternalSecure {
                domain: d("pnn.police.uk"),
            }),
        ),
        (
            "external by configured certificate",
            Some("lawyer@cps.gov.uk"),
            peer(&["relay.cps.gov.uk"], "192.0.2.1"),
            ok(SenderOrigin::ExternalSecure {
                domain: d("cps.gov.uk"),
            }),
        ),
        (
            "external by source network",
            Some("lawyer@cps.gov.uk"),
            peer(&[], "198.51.100.20"),
            ok(SenderOrigin::ExternalSecure {
                domain: d("cps.gov.uk"),
            }),
        ),
        (
            "external bounce, proven",
            None,
            peer(&[], "198.51.100.20"),
            ok(SenderOrigin::ExternalSecure {
                domain: d("cps.gov.uk"),
            }),
        ),
        (
            "someone else's address",
            Some("judge@greenstonechambers.co.uk.cjsm.net"),
            user(eric),
            Err(PolicyError::SenderNotPermitted {
                user: a(eric),
                sender: a("judge@greenstonechambers.co.uk.cjsm.net"),
            }),
        ),
        (
            "user sending as gmail",
            Some("eric@gmail.com"),
            user(eric),
            Err(PolicyError::SenderNotPermitted {
                user: a(eric),
                sender: a("eric@gmail.com"),
            }),
        ),
        (
            "unauthenticated hosted address",
            Some(eric),
            peer(&[], "192.0.2.1"),
            Err(PolicyError::SenderSpoofed {
                sender: a(eric),
                domain: "greenstonechambers.co.uk.cjsm.net".into(),
            }),
        ),
        (
            "gateway claiming another org",
            Some(eric),
            gateway("Northshire Council"),
            Err(PolicyError::SenderSpoofed {
                sender: a(eric),
                domain: "greenstonechambers.co.uk.cjsm.net".into(),
            }),
        ),
        (
            "gateway claiming external domain",
            Some("pc@kent.pnn.police.uk"),
            gateway("Northshire Council"),
            Err(PolicyError::SenderNotConnected {
                sender: a("pc@kent.pnn.police.uk"),
            }),
        ),
        (
            "external domain without proof",
            Some("pc.smith@kent.pnn.police.uk"),
            peer(&[], "192.0.2.1"),
            Err(PolicyError::SenderSpoofed {
                sender: a("pc.smith@kent.pnn.police.uk"),
                domain: "pnn.police.uk".into(),
            }),
        ),
        (
            "certificate for another domain",
            Some("lawyer@cps.gov.uk"),
            peer(&["mail.kent.pnn.police.uk"], "192.0.2.1"),
            Err(PolicyError::SenderSpoofed {
                sender: a("lawyer@cps.gov.uk"),
                domain: "cps.gov.uk".into(),
            }),
        ),
        (
            "unconfigured certificate name",
            Some("lawyer@cps.gov.uk"),
            peer(&["other.cps.gov.uk"], "192.0.2.1"),
            Err(PolicyError::SenderSpoofed {
                sender: a("lawyer@cps.gov.uk"),
                domain: "cps.gov.uk".into(),
            }),
        ),
        (
            "ordinary sender",
            Some("someone@gmail.com"),
            peer(&["mx.gmail.com"], "192.0.2.1"),
            Err(PolicyError::SenderNotConnected {
                sender: a("someone@gmail.com"),
            }),
        ),
        (
            "unproven bounce",
            None,
            peer(&[], "192.0.2.1"),
            Err(PolicyError::UnprovenBounce),
        ),
        (
            "unknown community domain",
            Some("x@nowhere.cjsm.net"),
            user("x@nowhere.cjsm.net"),
            Err(PolicyError::UnknownCommunityDomain {
                recipient: a("x@nowhere.cjsm.net"),
            }),
        ),
        (
            "suspended organisation's gateway",
            Some("x@down.example.cjsm.net"),
            gateway("Down Solicitors"),
            Err(PolicyError::OrganisationSuspended {
                organisation: "Down Solicitors".into(),
            }),
        ),
    ];
    for (name, sender, session, expected) in cases {
        let sender = sender.map(a);
        assert_eq!(
            c.check_sender(sender.as_ref(), &session),
            expected,
            "{name}"
        );
    }
}

#[test]
fn recipients_are_routed_or_refused() {
    let c = community();
    let from_user = SenderOrigin::User {
        sender: None,
        organisation: "Greenstone Chambers".into(),
    };
    let from_external = SenderOrigin::ExternalSecure {
        domain: d("cps.gov.uk"),
    };
    let northshire_gateway = match &c
        .organisation_named("Northshire Council")
        .unwrap()
        .connection
    {
        Connection::Smtp(g) => g.clone(),
        Connection::Mailbox => unreachable!(),
    };
    let cases: Vec<(&str, &SenderOrigin, &str, Result<Route, PolicyError>)> = vec![
        (
            "hosted mailbox",
            &from_user,
            "judge@greenstonechambers.co.uk.cjsm.net",
            Ok(Route::Local {
                mailbox: a("judge@greenstonechambers.co.uk.cjsm.net"),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            "domain is case-insensitive",
            &from_user,
            "judge@GREENSTONECHAMBERS.co.uk.CJSM.net",
            Ok(Route::Local {
                mailbox: a("judge@greenstonechambers.co.uk.cjsm.net"),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            "abbreviation domain",
            &from_user,
            "jimmy.jones@safeguarder.cjsm.net",
            Ok(Route::Local {
                mailbox: a("jimmy.jones@safeguarder.cjsm.net"),
                organisation: "Safeguarders Panel".into(),
            }),
        ),
        (
            "gateway, suffix stripped",
            &from_user,
            "clerk@northshire.gov.uk.cjsm.net",
            Ok(Route::OrganisationGateway {
                organisation: "Northshire Council".into(),
                gateway: northshire_gateway.clone(),
                recipient: a("clerk@northshire.gov.uk"),
            }),
        ),
        (
            "external secure subdomain",
            &from_user,
            "pc.smith@kent.pnn.police.uk",
            Ok(Route::ExternalSecure {
                domain: d("pnn.police.uk"),
                recipient: a("pc.smith@kent.pnn.police.uk"),
            }),
        ),
        (
            "external secure domain",
            &from_user,
            "dr.jones@nhs.net",
            Ok(Route::ExternalSecure {
                domain: d("nhs.net"),
                recipient: a("dr.jones@nhs.net"),
            }),
        ),
        (
            "external to community",
            &from_external,
            "judge@greenstonechambers.co.uk.cjsm.net",
            Ok(Route::Local {
                mailbox: a("judge@greenstonechambers.co.uk.cjsm.net"),
                organisation: "Greenstone Chambers".into(),
            }),
        ),
        (
            "ordinary address",
            &from_user,
            "someone@gmail.com",
            Err(PolicyError::NotOnAllowList {
                recipient: a("someone@gmail.com"),
                suggestion: None,
            }),
        ),
        (
            "look-alike domain",
            &from_user,
            "dr@fakenhs.net",
            Err(PolicyError::NotOnAllowList {
                recipient: a("dr@fakenhs.net"),
                suggestion: None,
            }),
        ),
        (
            "unsuffixed organisation domain",
            &from_user,
            "judge@greenstonechambers.co.uk",
            Err(PolicyError::NotOnAllowList {
                recipient: a("judge@greenstonechambers.co.uk"),
                suggestion: Some(a("judge@greenstonechambers.co.uk.cjsm.net")),
            }),
        ),
        (
            "unknown community domain",
            &from_user,
            "x@nowhere.cjsm.net",
            Err(PolicyError::UnknownCommunityDomain {
                recipient: a("x@nowhere.cjsm.net"),
            }),
        ),
        (
            "bare suffix",
            &from_user,
            "postmaster@cjsm.net",
            Err(PolicyError::NotOnAllowList {
                recipient: a("postmaster@cjsm.net"),
                suggestion: None,
            }),
        ),
        (
            // Issue 24: a suspended organisation's mail waits in the queue.
            "suspended organisation",
            &from_user,
            "x@down.example.cjsm.net",
            Ok(Route::Held {
                organisation: "Down Solicitors".into(),
                recipient: a("x@down.example.cjsm.net"),
                hosted: false,
            }),
        ),
        (
            "external relaying to external",
            &from_external,
            "pc.smith@kent.pnn.police.uk",
            Err(PolicyError::RelayDenied {
                recipient: a("pc.smith@kent.pnn.police.uk"),
            }),
        ),
    ];
    for (name, origin, recipient, expected) in cases {
        assert_eq!(c.route_recipient(origin, &a(recipient)), expected, "{name}");
    }
}

#[test]
fn external_domains_can_be_added_with_subdomains() {
    let mut c = community();
    c.external_secure_domains
        .push(ExternalDomain::new(d("scra.gov.uk")));
    let origin = SenderOrigin::OrganisationGateway {
        organisation: "Northshire Council".into(),
    };
    assert_eq!(
        c.route_recipient(&origin, &a("bruce.knight@mail.scra.gov.uk")),
        Ok(Route::ExternalSecure {
            domain: d("scra.gov.uk"),
            recipient: a("bruce.knight@mail.scra.gov.uk")
        })
    );
}

#[test]
fn transport_rules() {
    use GuardedCommand::*;
    use Listener::*;
    let plain = SessionState {
        tls: false,
        authenticated: false,
    };
    let tls = SessionState {
        tls: true,
        authenticated: false,
    };
    let signed_in = SessionState {
        tls: true,
        authenticated: true,
    };
    let cases = [
        (Relay, Mail, plain, Err(PolicyError::TlsRequired)),
        (Relay, Rcpt, plain, Err(PolicyError::TlsRequired)),
        (Relay, Auth, plain, Err(PolicyError::TlsRequired)),
        (Submission, Auth, plain, Err(PolicyError::TlsRequired)),
        (Submission, Mail, plain, Err(PolicyError::TlsRequired)),
        (Relay, Mail, tls, Ok(())),
        (Relay, Rcpt, tls, Ok(())),
        (Submission, Auth, tls, Ok(())),
        (
            Submission,
            Mail,
            tls,
            Err(PolicyError::AuthenticationRequired),
        ),
        (
            Submission,
            Rcpt,
            tls,
            Err(PolicyError::AuthenticationRequired),
        ),
        (Submission, Mail, signed_in, Ok(())),
        (Submission, Rcpt, signed_in, Ok(())),
    ];
    for (listener, command, state, expected) in cases {
        assert_eq!(
            check_command(listener, command, state),
            expected,
            "{listener:?} {command:?} {state:?}"
        );
    }
}

#[test]
fn account_states() {
    let u = a("eric.brown@greenstonechambers.co.uk.cjsm.net");
    let account = |status, must_change_password| AccountState {
        address: u.clone(),
        status,
        must_change_password,
    };
    let cases = [
        (account(AccountStatus::Active, false), Ok(())),
        (
            account(AccountStatus::Active, true),
            Err(PolicyError::PasswordChangeRequired { user: u.clone() }),
        ),
        (
            account(AccountStatus::Locked, false),
            Err(PolicyError::AccountLocked { user: u.clone() }),
        ),
        (
            account(AccountStatus::NewUserLocked, true),
            Err(PolicyError::AccountNotActivated { user: u.clone() }),
        ),
        (
            account(AccountStatus::Suspended, false),
            Err(PolicyError::AccountSuspended { user: u.clone() }),
        ),
        (
            account(AccountStatus::Deleted, false),
            Err(PolicyError::AccountDeleted { user: u.clone() }),
        ),
    ];
    for (state, expected) in cases {
        assert_eq!(check_account(&state), expected, "{state:?}");
    }
}

#[test]
fn limits() {
    let limits = Limits::new(1000, 2);
    assert_eq!(limits.check_message_size(1000), Ok(()));
    assert_eq!(
        limits.check_message_size(1001),
        Err(PolicyError::MessageTooBig {
            size: 1001,
            limit: 1000
        })
    );
    assert_eq!(limits.check_another_recipient(1), Ok(()));
    assert_eq!(
        limits.check_another_recipient(2),
        Err(PolicyError::TooManyRecipients { limit: 2 })
    );
    let defaults = Limits::default();
    assert_eq!(
        (defaults.max_message_size, defaults.max_recipients),
        (25 * 1024 * 1024, 100)
    );
}

#[test]
fn every_refusal_has_its_reply() {
    let u = a("eric.brown@greenstonechambers.co.uk.cjsm.net");
    let gmail = a("someone@gmail.com");
    let cases: Vec<(PolicyError, u16, &str, &str)> = vec![
        (
            PolicyError::invalid_address(b"a..b@x.example", AddressError::EmptyLocalPartAtom),
            553,
            "5.1.3",
            "The address a..b@x.example is not valid: the part before the @ has a leading, trailing or doubled dot.",
        ),
        (
            PolicyError::invalid_address("siân@x.example".as_bytes(), AddressError::NeedsSmtpUtf8),
            553,
            "5.6.7",
            "contains non-ASCII characters, which need the SMTPUTF8 extension",
        ),
        (
            PolicyError::NotOnAllowList {
                recipient: gmail.clone(),
                suggestion: None,
            },
            550,
            "5.7.1",
            "The recipient someone@gmail.com is outside the secure community; this service delivers only to connected organisations and secure government domains.",
        ),
        (
            PolicyError::NotOnAllowList {
                recipient: a("j@org.example"),
                suggestion: Some(a("j@org.example.cjsm.net")),
            },
            550,
            "5.7.1",
            "Did you mean j@org.example.cjsm.net?",
        ),
        (
            PolicyError::UnknownCommunityDomain {
                recipient: a("x@nowhere.cjsm.net"),
            },
            550,
            "5.1.2",
            "No organisation in the secure community uses the domain of x@nowhere.cjsm.net",
        ),
        (
            PolicyError::NoSuchMailbox {
                recipient: u.clone(),
            },
            550,
            "5.1.1",
            "There is no mailbox eric.brown@",
        ),
        (
            PolicyError::SenderNotConnected {
                sender: gmail.clone(),
            },
            550,
            "5.7.1",
            "The sender someone@gmail.com is not part of the secure community",
        ),
        (
            PolicyError::SenderSpoofed {
                sender: a("pc@kent.pnn.police.uk"),
                domain: "pnn.police.uk".into(),
            },
            550,
            "5.7.1",
            "has not proved that it may send mail for pnn.police.uk, so mail from pc@kent.pnn.police.uk is refused as spoofing",
        ),
        (
            PolicyError::UnprovenBounce,
            550,
            "5.7.1",
            "Delivery reports are accepted only from",
        ),
        (
            PolicyError::OrganisationSuspended {
                organisation: "Down Solicitors".into(),
            },
            451,
            "4.3.2",
            "The organisation Down Solicitors is suspended from the secure community for now; the mail is deferred",
        ),
        (
            PolicyError::RelayDenied {
                recipient: a("pc@kent.pnn.police.uk"),
            },
            550,
            "5.7.1",
            "Relaying to pc@kent.pnn.police.uk is denied",
        ),
        (
            PolicyError::TlsRequired,
            530,
            "5.7.0",
            "Must issue a STARTTLS command first",
        ),
        (
            PolicyError::AuthenticationRequired,
            530,
            "5.7.0",
            "Authentication required",
        ),
        (
            PolicyError::AuthenticationFailed,
            535,
            "5.7.8",
            "Authentication credentials invalid",
        ),
        (
            PolicyError::SenderNotPermitted {
                user: u.clone(),
                sender: gmail.clone(),
            },
            553,
            "5.7.1",
            "may not send as someone@gmail.com; send from your own address",
        ),
        (
            PolicyError::AccountLocked { user: u.clone() },
            525,
            "5.7.13",
            "is locked; ask your organisation administrator to unlock it",
        ),
        (
            PolicyError::AccountNotActivated { user: u.clone() },
            525,
            "5.7.13",
            "for a new one-time password",
        ),
        (
            PolicyError::AccountSuspended { user: u.clone() },
            525,
            "5.7.13",
            "is suspended; ask your organisation administrator to reactivate it",
        ),
        (
            PolicyError::AccountDeleted { user: u.clone() },
            525,
            "5.7.13",
            "has been deleted",
        ),
        (
            PolicyError::PasswordChangeRequired { user: u.clone() },
            432,
            "4.7.12",
            "must set a new password before sending mail",
        ),
        (
            PolicyError::Classified {
                marking: Marking::Secret,
                found_in: LabelSource::Subject,
            },
            550,
            "5.7.1",
            "The message is marked SECRET in its subject; this service does not carry SECRET or TOP SECRET mail.",
        ),
        (
            PolicyError::Classified {
                marking: Marking::TopSecret,
                found_in: LabelSource::SioLabel,
            },
            550,
            "5.7.1",
            "marked TOP SECRET in its SIO-Label header",
        ),
        (
            PolicyError::MessageTooBig {
                size: 30_000_000,
                limit: 26_214_400,
            },
            552,
            "5.3.4",
            "at most 26214400 octets",
        ),
        (
            PolicyError::TooManyRecipients { limit: 100 },
            452,
            "4.5.3",
            "Too many recipients: at most 100 per message",
        ),
    ];
    for (error, code, enhanced, text) in &cases {
        assert_reply(error, *code, enhanced, text);
        assert_eq!(error.reply(), Reply::from(error));
    }
    assert_eq!(
        PolicyError::TlsRequired.reply().to_string(),
        "530 5.7.0 Must issue a STARTTLS command first"
    );
}

#[test]
fn invalid_address_replies_carry_no_control_characters() {
    let error = PolicyError::invalid_address(b"a\r\n250 OK\x00@x", AddressError::MissingAt);
    let reply = error.reply();
    assert_eq!(
        reply.to_string(),
        "553 5.1.3 The address a250 OK@x is not valid: the address has no @ sign."
    );
    let _ = Address::parse(b"x", ParseOptions::default());
}

// Issue 25: a gateway's certificate proves its organisation's headers too.
#[test]
fn header_senders_need_the_same_proof_as_the_envelope() {
    let c = community();
    let northshire = SenderOrigin::OrganisationGateway {
        organisation: "Northshire Council".into(),
    };
    let justice = SenderOrigin::ExternalSecure {
        domain: d("justice.gov.uk"),
    };
    let cases: Vec<(&str, &SenderOrigin, &str, bool)> = vec![
        (
            "own, suffixed",
            &northshire,
            "carol@northshire.gov.uk.cjsm.net",
            true,
        ),
        (
            "own, unsuffixed",
            &northshire,
            "carol@northshire.gov.uk",
            true,
        ),
        (
            "another organisation",
            &northshire,
            "anna.jones@greenstonechambers.co.uk.cjsm.net",
            false,
        ),
        (
            "a government address",
            &northshire,
            "ceo@justice.gov.uk",
            false,
        ),
        ("outside", &northshire, "someone@gmail.com", false),
        ("own domain", &justice, "clerk@justice.gov.uk", true),
        (
            "own subdomain",
            &justice,
            "clerk@courts.justice.gov.uk",
            true,
        ),
        ("another secure domain", &justice, "ceo@cps.gov.uk", false),
        (
            "a community address",
            &justice,
            "carol@northshire.gov.uk.cjsm.net",
            false,
        ),
    ];
    for (name, origin, address, permitted) in cases {
        let result = c.check_header_sender(origin, "From", &a(address));
        assert_eq!(result.is_ok(), permitted, "{name}: {result:?}");
    }
    let refused = c
        .check_header_sender(&northshire, "Sender", &a("ceo@justice.gov.uk"))
        .unwrap_err();
    assert_reply(
        &refused,
        550,
        "5.7.1",
        "The Sender: header names ceo@justice.gov.uk, which the mail server of Northshire Council may not send as",
    );
    assert_reply(
        &PolicyError::NullSenderNotPermitted {
            user: a("eric.brown@greenstonechambers.co.uk.cjsm.net"),
        },
        550,
        "5.7.1",
        "the empty reverse-path <> is for mail servers' delivery reports",
    );
    assert_reply(
        &PolicyError::DisplayNameSpoofed {
            display: "eric.brown@greenstonechambers.co.uk.cjsm.net".into(),
            address: a("anna.jones@greenstonechambers.co.uk.cjsm.net"),
        },
        550,
        "5.7.1",
        "use a name, not another address, as the display name",
    );
}
