//! The audit trail through the real daemon: a message submitted with
//! smtplib, a refused recipient, IMAP sign-ins with imaplib, what an
//! Organisation Administrator may read, the JSON-lines export, and the
//! signed checkpoints that show the store was not rewritten.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::harness::{PATIENCE, Ward, cli, cli_as, demo_with, ward, ward_bin, write_config};

/// Submits one message with smtplib (STARTTLS, AUTH) and tries a recipient
/// outside the community in a second transaction of the same session.
const SMTP_SCRIPT: &str = r#"
import smtplib, ssl, sys
port, user, password, to = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.ehlo("client.example")
    s.starttls(context=ctx)
    s.ehlo("client.example")
    s.login(user, password)
    s.sendmail(user, [to], "From: %s\r\nTo: %s\r\nMessage-ID: <audit-test-1@client.example>\r\nSubject: audited\r\n\r\nHello.\r\n" % (user, to))
    print("sent")
    try:
        s.sendmail(user, ["someone@gmail.com"], "From: %s\r\nSubject: out\r\n\r\nNo.\r\n" % user)
    except smtplib.SMTPRecipientsRefused as e:
        print("refused", e.recipients["someone@gmail.com"][0])
"#;

/// One IMAP LOGIN over implicit TLS: prints OK or NO.
const IMAP_SCRIPT: &str = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
try:
    print(m.login(sys.argv[2], sys.argv[3])[0])
    m.logout()
except imaplib.IMAP4.error as e:
    print("NO", e)
"#;

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn imap_login(ward: &Ward, user: &str, password: &str) -> String {
    python(
        IMAP_SCRIPT,
        &[&ward.addr("imaps").port().to_string(), user, password],
    )
}

/// `ward audit` until `ready` holds for its output (records written at the
/// end of a session land a moment after the client has gone).
fn audit_until(config: &Path, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = cli(config, &["audit"]);
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(ward_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("WARD_AS")
        .env_remove("WARD_PASSWORD")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn messages_refusals_and_sign_ins_are_audited_and_org_admins_read_their_own() {
    let (dir, mut ward, users) = demo_with("");
    let config = dir.path().join("ward.toml");
    let (eric, eric_pw) = &users[0];
    let (anna, anna_pw) = &users[1];
    let (bruce, bruce_pw) = &users[2];

    let sent = python(
        SMTP_SCRIPT,
        &[
            &ward.addr("submission").port().to_string(),
            anna,
            anna_pw,
            eric,
        ],
    );
    assert!(sent.contains("sent"), "{sent}");
    assert!(sent.contains("refused 550"), "{sent}");
    assert!(imap_login(&ward, anna, "not the password").starts_with("NO"));
    assert!(imap_login(&ward, anna, anna_pw).starts_with("OK"));
    assert!(imap_login(&ward, bruce, bruce_pw).starts_with("OK"));

    let all = audit_until(&config, |t| t.contains("smtp.refused"));
    let line = |action: &str, needle: &str| -> String {
        all.lines()
            .find(|l| l.contains(&format!(" {action} ")) && l.contains(needle))
            .unwrap_or_else(|| panic!("no {action} with {needle} in:\n{all}"))
            .to_owned()
    };
    // The acknowledged message, with every particular.
    let accepted = line("smtp.accept", "audit-test-1@client.example");
    for part in [
        format!("sender=<{anna}>"),
        format!("recipients={eric}"),
        "message-id=<audit-test-1@client.example>".to_owned(),
        "size=".to_owned(),
        "classification=OFFICIAL".to_owned(),
        "tls=TLSv1.3".to_owned(),
        "cipher=TLS13_".to_owned(),
        "[submission 127.0.0.1]".to_owned(),
    ] {
        assert!(accepted.contains(&part), "{part} in {accepted}");
    }
    // The refused recipient, with the rule.
    let refused = line("smtp.refused", "someone@gmail.com");
    assert!(
        refused.contains("NotOnAllowList") && refused.contains("550 5.7.1"),
        "{refused}"
    );
    // Sign-ins: protocol and address, failed and successful.
    let failed = line("login.failed", "reason=bad-password");
    assert!(failed.contains("[imap 127.0.0.1]"), "{failed}");
    assert!(line("login", "[imap 127.0.0.1]").contains(&format!("user={anna}")));
    assert!(line("login", "[smtp 127.0.0.1]").contains(&format!("user={anna}")));
    // Operator actions are there too.
    line("demo.create", "organisations=2");

    // Eric administers Greenstone Chambers: he reads its records (Anna's
    // sign-ins, the message between them), not the Safeguarder Service's.
    let (ok, chambers) = cli_as(&config, &["audit"], eric, eric_pw);
    assert!(ok, "{chambers}");
    assert!(
        chambers.contains("audit-test-1@client.example"),
        "{chambers}"
    );
    assert!(chambers.contains(&format!("user={anna}")), "{chambers}");
    assert!(!chambers.contains(bruce.as_str()), "{chambers}");
    assert!(!chambers.contains("demo.create"), "{chambers}");
    let (ok, safeguarders) = cli_as(&config, &["audit"], bruce, bruce_pw);
    assert!(ok, "{safeguarders}");
    assert!(safeguarders.contains(&format!("user={bruce}")));
    assert!(!safeguarders.contains(anna.as_str()), "{safeguarders}");
    // A member who administers nothing reads nothing.
    let (ok, member) = cli_as(&config, &["audit"], anna, anna_pw);
    assert!(
        !ok && member.contains("Organisation Administrators"),
        "{member}"
    );

    // The export: JSON lines, one per record, each chained to the last.
    let export = cli(&config, &["audit", "export"]);
    let mut previous: Option<String> = None;
    let mut seqs = HashSet::new();
    for l in export.lines() {
        let record: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
        let hash = record["hash"].as_str().unwrap().to_owned();
        assert_eq!(hash.len(), 64);
        if let Some(prev) = &previous {
            assert_eq!(record["prev_hash"].as_str().unwrap(), prev, "{l}");
        }
        for key in [
            "seq",
            "at",
            "at_millis",
            "actor",
            "action",
            "source",
            "detail",
        ] {
            assert!(!record[key].is_null(), "{key} in {l}");
        }
        assert!(seqs.insert(record["seq"].as_u64().unwrap()));
        previous = Some(hash);
    }
    assert!(export.contains("smtp.accept") && export.contains("login.failed"));
    let file = dir.path().join("export.jsonl");
    let written = cli(
        &config,
        &["audit", "export", "--output", file.to_str().unwrap()],
    );
    assert!(written.contains("audit records written"), "{written}");
    assert_eq!(fs::read_to_string(&file).unwrap(), export);
    // An administrator's export holds only their organisation's records.
    let (ok, own) = cli_as(&config, &["audit", "export"], eric, eric_pw);
    assert!(ok, "{own}");
    assert!(own.lines().count() < export.lines().count());
    assert!(!own.contains("demo.create"));

    ward.signal("TERM");
    assert!(ward.wait().success());
}

#[test]
fn checkpoints_are_signed_outside_the_store_and_a_rewritten_store_is_detected() {
    let (dir, mut ward, users) = demo_with("[audit]\ncheckpoint_interval = \"1s\"\n");
    let config = dir.path().join("ward.toml");
    let data = dir.path().join("data");
    let checkpoints = data.join("audit-checkpoints.jsonl");
    let (anna, anna_pw) = &users[1];
    assert!(imap_login(&ward, anna, anna_pw).starts_with("OK"));

    // Periodically while running: a checkpoint reaches the file and the log.
    let deadline = Instant::now() + PATIENCE;
    while !ward.log_text().contains("audit checkpoint") {
        assert!(Instant::now() < deadline, "no periodic checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    // And one at shutdown, of the final head.
    ward.signal("TERM");
    assert!(ward.wait().success());
    let lines = fs::read_to_string(&checkpoints).unwrap();
    let last: serde_json::Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(last["format"], "ward-audit-checkpoint-v1");
    assert_eq!(last["signature"].as_str().unwrap().len(), 128);
    let key = fs::read_to_string(data.join("audit-key/ed25519.pub")).unwrap();
    assert_eq!(last["public_key"].as_str().unwrap(), key.trim());
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(data.join("audit-key/ed25519.pk8"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The untouched store holds every checkpoint (the daemon is stopped:
    // the command line opens the store itself).
    let path = checkpoints.to_str().unwrap();
    let verified = run(&config, &["audit", "verify", "--checkpoint", path]);
    assert!(verified.status.success(), "{}", text(&verified));
    let said = text(&verified);
    assert!(said.contains("signature good, held by the store"), "{said}");
    assert!(said.contains("chain verified"), "{said}");

    // A checkpoint edited by hand no longer verifies.
    let edited = dir.path().join("edited.jsonl");
    let mut forged = last.clone();
    forged["seq"] = serde_json::json!(last["seq"].as_u64().unwrap() - 1);
    fs::write(&edited, format!("{forged}\n")).unwrap();
    let refused = run(
        &config,
        &["audit", "verify", "--checkpoint", edited.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("signature does not match"),
        "{}",
        text(&refused)
    );

    // The whole store rewritten: a fresh store, with a fresh, internally
    // perfect chain at least as long as the old one. Its own verification
    // passes; the checkpoints kept outside it do not.
    let kept = dir.path().join("kept-checkpoints.jsonl");
    fs::copy(&checkpoints, &kept).unwrap();
    let old_seq = last["seq"].as_u64().unwrap();
    fs::remove_dir_all(data.join("store")).unwrap();
    let mut fresh = Ward::start(&config, &[]);
    fresh.signal("TERM");
    fresh.wait();
    let demo = run(&config, &["demo"]);
    assert!(demo.status.success(), "{}", text(&demo));
    // Records enough to reach past the old head: each failed sign-in is one.
    while cli(&config, &["audit"]).lines().count() as u64 <= old_seq {
        let out = Command::new(ward_bin())
            .args(["org", "list", "--config", config.to_str().unwrap()])
            .args(["--as", "nobody@greenstonechambers.co.uk.cjsm.net"])
            .env("WARD_PASSWORD", "a guess")
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
    let own = run(&config, &["audit", "verify"]);
    assert!(own.status.success(), "{}", text(&own));
    let detected = run(
        &config,
        &["audit", "verify", "--checkpoint", kept.to_str().unwrap()],
    );
    assert_eq!(detected.status.code(), Some(1), "{}", text(&detected));
    let said = text(&detected);
    assert!(said.contains("does NOT match the checkpoints"), "{said}");
    assert!(
        said.contains("another hash; the log was rewritten"),
        "{said}"
    );
}

#[test]
fn the_audit_section_is_checked_with_every_problem_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[audit]\ncheckpoint_interval = \"0s\"\nretention = \"7w\"\ncheckpoint_file = \"data/store/x\"\n",
    );
    let out = ward(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out);
    for key in [
        "audit.checkpoint_interval",
        "audit.retention",
        "audit.checkpoint_file",
    ] {
        assert!(said.contains(key), "{key}: {said}");
    }
}
