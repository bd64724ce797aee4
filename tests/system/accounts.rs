//! Organisations and accounts through the real `ward` command line: against
//! a running daemon (over the admin socket) and against a stopped one (the
//! command line opens the store itself). Time moves through the
//! `WARD_TEST_CLOCK_OFFSET_FILE` hook, never by sleeping.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::{Ward, ward_bin, write_config};

/// Whether the daemon runs while the commands are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Running,
    Stopped,
}

/// A data folder with a store, a daemon (or not), and a clock offset file.
struct Env {
    _dir: tempfile::TempDir,
    config: PathBuf,
    clock: PathBuf,
    /// Kept so the daemon lives as long as the test (dropping it stops it).
    _daemon: Option<Ward>,
}

/// What a command printed and how it ended.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self.stdout
    }

    /// Asserts a refusal (exit 1) whose message contains every `parts`.
    #[track_caller]
    fn refused(self, parts: &[&str]) {
        assert_eq!(self.code, 1, "expected a refusal: {self:#?}");
        for p in parts {
            assert!(self.stderr.contains(p), "{p:?} missing from {self:#?}");
        }
    }
}

impl Env {
    fn new(mode: Mode) -> Env {
        Env::with_config(mode, "")
    }

    fn with_config(mode: Mode, extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), extra);
        let clock = dir.path().join("clock-offset");
        fs::write(&clock, "0").unwrap();
        // Starting once creates the data folder and the store.
        let mut daemon =
            Ward::start_with_env(&config, &[], &[("WARD_TEST_CLOCK_OFFSET_FILE", &clock)]);
        if mode == Mode::Stopped {
            daemon.signal("TERM");
            assert!(daemon.wait().success());
        }
        Env {
            _dir: dir,
            config,
            clock,
            _daemon: (mode == Mode::Running).then_some(daemon),
        }
    }

    fn dir(&self) -> &Path {
        self.config.parent().unwrap()
    }

    /// Moves the clock the account rules see by `days` (and `minutes`).
    fn advance(&self, days: i64, minutes: i64) {
        let now: i64 = fs::read_to_string(&self.clock)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        fs::write(
            &self.clock,
            (now + days * 86_400 + minutes * 60).to_string(),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str], member: Option<(&str, &str)>, stdin: &str) -> Out {
        let mut cmd = Command::new(ward_bin());
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .env("WARD_TEST_CLOCK_OFFSET_FILE", &self.clock)
            .env_remove("WARD_AS")
            .env_remove("WARD_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((address, password)) = member {
            cmd.arg("--as").arg(address).env("WARD_PASSWORD", password);
        }
        let mut child = cmd.spawn().expect("ward runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// As the operator.
    fn ward(&self, args: &[&str]) -> Out {
        self.run(args, None, "")
    }

    /// As a member.
    fn member(&self, who: (&str, &str), args: &[&str]) -> Out {
        self.run(args, Some(who), "")
    }

    /// `ward passwd ADDRESS`, answering the prompts on standard input.
    fn passwd(&self, address: &str, current: &str, new: &str) -> Out {
        self.run(&["passwd", address], None, &format!("{current}\n{new}\n"))
    }

    /// Applies for `domain` with flags, postal details and a good sponsor;
    /// a flag in `more` replaces the default one.
    fn apply(&self, domain: &str, name: &str, more: &[&str]) -> Out {
        let mut args = vec!["org", "apply", "--domain", domain, "--name", name];
        let defaults = [
            "--reason",
            "We exchange case papers with the courts",
            "--users",
            "25",
            "--sponsor",
            "Jo Bloggs|Crown Prosecution Service|jo.bloggs@cps.gov.uk|Senior Lawyer",
            "--signatory-name",
            "Sam Partner",
            "--signatory-position",
            "Managing Partner",
            "--signatory-address",
            "sam@example.org.uk",
            "--accept-terms",
            "1.0",
        ];
        for pair in defaults.chunks(2).chain(DETAILS.chunks(2)) {
            if !more.contains(&pair[0]) {
                args.extend_from_slice(pair);
            }
        }
        args.extend_from_slice(more);
        self.ward(&args)
    }

    /// Applies, approves with an administrator, and gives the administrator
    /// a real password. Returns the administrator's address.
    fn connect(&self, domain: &str, name: &str, more: &[&str], admin: (&str, &str)) -> String {
        let out = self.apply(domain, name, more).ok();
        let id = number_after(&out, "Application ");
        let mut args = vec![
            "org",
            "approve",
            &id,
            "--first-name",
            admin.0,
            "--last-name",
            admin.1,
        ];
        let existing = format!(
            "{}.{}@{domain}",
            admin.0.to_lowercase(),
            admin.1.to_lowercase()
        );
        if !more.contains(&"--abbreviation") {
            args.extend_from_slice(&["--existing-address", &existing]);
        }
        let out = self.ward(&args).ok();
        let address = value_after(&out, "Organisation Administrator:");
        let otp = value_after(&out, "One-time password:");
        self.passwd(&address, &otp, GOOD).ok();
        address
    }

    /// Adds a user as `by` (operator when `None`); returns address and OTP.
    fn add_user(
        &self,
        by: Option<(&str, &str)>,
        org: &str,
        first: &str,
        last: &str,
        existing: Option<&str>,
    ) -> Out {
        let mut args = vec![
            "user",
            "add",
            "--org",
            org,
            "--first-name",
            first,
            "--last-name",
            last,
        ];
        if let Some(e) = existing {
            args.extend_from_slice(&["--existing-address", e]);
        }
        self.run(&args, by, "")
    }
}

/// A password every rule accepts.
const GOOD: &str = "violet tractor umbrella";
const GOOD2: &str = "copper lantern orchard";

fn value_after(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("{label:?} not in {text}"));
    line.split(label)
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn number_after(text: &str, label: &str) -> String {
    value_after(text, label)
}

/// `ADDRESS  one-time password: OTP` lines of `user add`/`reset`.
fn credentials(out: &str) -> (String, String) {
    let line = out
        .lines()
        .find(|l| l.contains("one-time password:"))
        .unwrap_or_else(|| panic!("no credentials in {out}"));
    let address = line.split_whitespace().next().unwrap().to_owned();
    (address, value_after(line, "one-time password:"))
}

/// The postal address, telephone, location and line of business every
/// application gives (seed 001 step 10).
const DETAILS: &[&str] = &[
    "--address1",
    "1 High Street",
    "--town",
    "Leeds",
    "--postcode",
    "LS1 1AA",
    "--telephone",
    "0113 496 0000",
    "--location",
    "West Yorkshire",
    "--business-type",
    "Solicitors",
];

fn both(test: impl Fn(Mode)) {
    test(Mode::Running);
    test(Mode::Stopped);
}

#[test]
fn applications_are_checked_approved_and_rejected() {
    both(|mode| {
        let env = Env::new(mode);
        // A sponsor off the secure domains is refused, naming the accepted ones.
        let mut bad = vec![
            "org",
            "apply",
            "--domain",
            "oakfield.org.uk",
            "--name",
            "Oakfield Solicitors",
            "--reason",
            "case papers",
            "--users",
            "5",
            "--sponsor",
            "Jo Bloggs|Acme|jo@gmail.com|Friend",
            "--signatory-name",
            "Sam",
            "--signatory-position",
            "Partner",
            "--signatory-address",
            "sam@oakfield.org.uk",
            "--accept-terms",
            "1.0",
        ];
        bad.extend_from_slice(DETAILS);
        env.ward(&bad).refused(&[
            "jo@gmail.com is not on a secure government domain",
            "pnn.police.uk",
            "nhs.net",
            "Ask such a contact to sponsor you",
        ]);
        bad.retain(|a| *a != "--sponsor" && *a != "Jo Bloggs|Acme|jo@gmail.com|Friend");
        env.ward(&bad).refused(&["at least one sponsor"]);
        env.apply("oakfield.org.uk", "Oakfield", &["--accept-terms", "0.9"])
            .refused(&["terms and conditions, version 1.0"]);
        env.apply("oakfield.org.uk", "Oakfield", &["--connection", "smtp"])
            .refused(&["gateway"]);
        env.apply("oakfield.org.uk.cjsm.net", "Oakfield", &[])
            .refused(&["without .cjsm.net"]);

        let out = env
            .apply("oakfield.org.uk", "Oakfield Solicitors", &[])
            .ok();
        assert!(
            out.contains("Application 1 for oakfield.org.uk recorded"),
            "{out}"
        );
        env.apply("oakfield.org.uk", "Oakfield Again", &[])
            .refused(&[
                "oakfield.org.uk has already applied: application 1 from Oakfield Solicitors",
            ]);

        // The same application as a TOML file, for an SMTP organisation.
        let file = env.dir().join("application.toml");
        fs::write(
            &file,
            r#"
domain = "safeguarders.org.uk"
name = "Safeguarder Service"
connection = "smtp"
gateway = "mail.safeguarders.org.uk"
abbreviation = "safeguarder"
ex_directory = true
reason = "Reports to the children's hearings"
expected_users = 40
address1 = "2 Court Street"
town = "Edinburgh"
postcode = "EH1 1AA"
telephone = "0131 496 0000"
location = "Scotland"
business_type = "Other - Scotland"
[[sponsors]]
name = "Bruce Knight"
organisation = "Scottish Courts"
address = "bruce.knight@justice.gov.uk"
position = "Clerk"
[signatory]
name = "Pat Chief"
position = "Chief Executive"
address = "pat@safeguarders.org.uk"
accepts_terms = "1.0"
"#,
        )
        .unwrap();
        let out = env
            .ward(&["org", "apply", "--file", file.to_str().unwrap()])
            .ok();
        assert!(
            out.contains("Application 2 for safeguarders.org.uk"),
            "{out}"
        );

        let out = env
            .ward(&[
                "org",
                "approve",
                "1",
                "--first-name",
                "Sam",
                "--last-name",
                "Smith",
                "--existing-address",
                "sam.smith@oakfield.org.uk",
            ])
            .ok();
        assert!(
            out.contains("connected as oakfield.org.uk.cjsm.net"),
            "{out}"
        );
        assert_eq!(
            value_after(&out, "Organisation Administrator:"),
            "sam.smith@oakfield.org.uk.cjsm.net"
        );
        assert_eq!(value_after(&out, "One-time password:").len(), 19);
        env.ward(&[
            "org",
            "approve",
            "1",
            "--first-name",
            "A",
            "--last-name",
            "B",
        ])
        .refused(&["application 1 was already approved"]);
        env.apply("oakfield.org.uk", "Oakfield", &[])
            .refused(&["oakfield.org.uk is already connected, as Oakfield Solicitors"]);

        env.ward(&["org", "reject", "2", "--reason", "no sponsor reply"])
            .ok();
        let list = env.ward(&["org", "list"]).ok();
        assert!(
            list.contains("Oakfield Solicitors") && list.contains("rejected: no sponsor reply"),
            "{list}"
        );
        let admins = env.ward(&["org", "admins", "oakfield.org.uk"]).ok();
        assert!(
            admins.contains("sam.smith@oakfield.org.uk.cjsm.net")
                && admins.contains("New User Locked"),
            "{admins}"
        );

        // Suspension: mail waits; the members cannot log in meanwhile.
        let out = env.ward(&["org", "suspend", "oakfield.org.uk"]).ok();
        assert!(out.contains("waits in the queue"), "{out}");
        env.ward(&["org", "suspend", "Oakfield Solicitors"])
            .refused(&["already suspended"]);
        env.ward(&["org", "resume", "oakfield.org.uk"]).ok();

        let audit = env.ward(&["audit", "--org", "oakfield.org.uk"]).ok();
        for action in [
            "org.apply",
            "org.approve",
            "user.add",
            "org.suspend",
            "org.resume",
        ] {
            assert!(audit.contains(action), "{action} not audited: {audit}");
        }
        assert!(!audit.contains("org=Safeguarder"), "{audit}");
        assert!(env.ward(&["audit", "verify"]).ok().contains("intact"));
    });
}

#[test]
fn first_login_must_change_the_one_time_password() {
    both(|mode| {
        let env = Env::new(mode);
        let admin = env.connect(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &[],
            ("Sam", "Smith"),
        );
        let out = env
            .add_user(
                None,
                "oakfield.org.uk",
                "Kim",
                "Lee",
                Some("kim.lee@oakfield.org.uk"),
            )
            .ok();
        let (kim, otp) = credentials(&out);
        assert_eq!(kim, "kim.lee@oakfield.org.uk.cjsm.net");
        env.add_user(
            None,
            "oakfield.org.uk",
            "Kim",
            "Lee",
            Some("kim.lee@elsewhere.org.uk"),
        )
        .refused(&["is not at Oakfield Solicitors's domain"]);
        env.add_user(
            None,
            "oakfield.org.uk",
            "Kim",
            "Lee",
            Some("kim.lee@oakfield.org.uk"),
        )
        .refused(&["kim.lee@oakfield.org.uk.cjsm.net is already in use"]);

        // Nothing works until the one-time password is changed.
        env.member((&kim, &otp), &["directory", "search", "smith"])
            .refused(&["one-time password must be changed first"]);
        env.passwd(&kim, "wrong password", GOOD)
            .refused(&["address or password is wrong"]);
        env.passwd(&kim, &otp, "short").refused(&["at least 12"]);
        env.passwd(&kim, &otp, "Password1234!")
            .refused(&["too common"]);
        env.passwd(&kim, &otp, "KimLeeRules2026")
            .refused(&["your address or your name"]);
        env.passwd(&kim, &otp, GOOD).ok();
        env.passwd(&kim, GOOD, GOOD)
            .refused(&["same as the current one"]);
        let found = env
            .member((&kim, GOOD), &["directory", "search", "smith"])
            .ok();
        assert!(found.contains(&admin), "{found}");
        env.member((&kim, &otp), &["directory", "search", "smith"])
            .refused(&["address or password is wrong"]);

        // A reset issues a new one-time password and the cycle starts again.
        let (_, otp2) = credentials(&env.member((&admin, GOOD), &["user", "reset", &kim]).ok());
        env.member((&kim, GOOD), &["directory", "search", "smith"])
            .refused(&["address or password is wrong"]);
        env.member((&kim, &otp2), &["directory", "search", "smith"])
            .refused(&["must be changed first"]);
        // Issue 24: not back to a recent password, even after a reset.
        env.passwd(&kim, &otp2, GOOD)
            .refused(&["one of your 5 previous passwords"]);
        env.passwd(&kim, &otp2, GOOD2).ok();
        env.passwd(&kim, GOOD2, GOOD)
            .refused(&["one of your 5 previous passwords"]);
        env.member((&kim, GOOD2), &["directory", "search", "smith"])
            .ok();
        let audit = env.ward(&["audit"]).ok();
        assert!(
            audit.contains("user.passwd")
                && audit.contains("user.reset")
                && audit.contains("login.failed"),
            "{audit}"
        );
    });
}

#[test]
fn an_organisation_administrator_stays_inside_their_organisation() {
    let env = Env::new(Mode::Running);
    let a_admin = env.connect(
        "oakfield.org.uk",
        "Oakfield Solicitors",
        &[],
        ("Sam", "Smith"),
    );
    let b_admin = env.connect(
        "safeguarders.org.uk",
        "Safeguarder Service",
        &["--abbreviation", "safeguarder", "--ex-directory"],
        ("Bruce", "Knight"),
    );
    assert_eq!(b_admin, "bruce.knight@safeguarder.cjsm.net");
    let a = (a_admin.as_str(), GOOD);
    let b = (b_admin.as_str(), GOOD);

    // B's administrator adds users in B, with abbreviation addresses.
    let (b_user, b_otp) = credentials(
        &env.add_user(Some(b), "safeguarder", "Jimmy", "Jones", None)
            .ok(),
    );
    assert_eq!(b_user, "jimmy.jones@safeguarder.cjsm.net");
    let (b_user2, _) = credentials(
        &env.add_user(Some(b), "safeguarder", "Jimmy", "Jones", None)
            .ok(),
    );
    assert_eq!(b_user2, "jimmy.jones2@safeguarder.cjsm.net");

    // A's administrator cannot see, change or reset B's users.
    env.add_user(Some(a), "safeguarder", "Eve", "Intruder", None)
        .refused(&["no organisation is connected as safeguarder"]);
    env.member(a, &["user", "list", "--org", "safeguarder"])
        .refused(&["no organisation is connected as safeguarder"]);
    for action in ["show", "reset", "suspend", "delete", "unlock"] {
        env.member(a, &["user", action, &b_user])
            .refused(&[&format!("no user has the address {b_user}")]);
    }
    env.member(a, &["user", "update", &b_user, "--telephone", "999"])
        .refused(&["no user has the address"]);
    env.member(a, &["org", "show", "safeguarder"])
        .refused(&["no organisation is connected as"]);
    let listed = env.member(a, &["user", "list"]).ok();
    assert!(
        listed.contains(&a_admin) && !listed.contains("safeguarder"),
        "{listed}"
    );
    // B is ex-directory: hidden from A, visible to B and the operator.
    let seen_by_a = env.member(a, &["directory", "search", "jones"]).ok();
    assert!(!seen_by_a.contains("safeguarder"), "{seen_by_a}");
    assert!(
        env.member(b, &["directory", "search", "jones"])
            .ok()
            .contains(&b_user)
    );
    assert!(
        env.ward(&["directory", "search", "jones"])
            .ok()
            .contains(&b_user)
    );
    // And B's user was not touched: the one-time password still works.
    env.passwd(&b_user, &b_otp, GOOD).ok();

    // A plain user manages only their own password and directory entry.
    let (a_user, a_otp) = credentials(
        &env.add_user(
            Some(a),
            "oakfield.org.uk",
            "Kim",
            "Lee",
            Some("kim.lee@oakfield.org.uk"),
        )
        .ok(),
    );
    env.passwd(&a_user, &a_otp, GOOD).ok();
    let user = (a_user.as_str(), GOOD);
    env.add_user(
        Some(user),
        "oakfield.org.uk",
        "Sly",
        "Fox",
        Some("sly@oakfield.org.uk"),
    )
    .refused(&["permission denied"]);
    env.member(user, &["user", "suspend", &a_admin])
        .refused(&["permission denied"]);
    env.member(user, &["user", "list"])
        .refused(&["permission denied"]);
    env.member(
        user,
        &[
            "org",
            "approve",
            "1",
            "--first-name",
            "X",
            "--last-name",
            "Y",
        ],
    )
    .refused(&["only the operator"]);
    env.member(user, &["audit"]).refused(&["only the operator"]);
    let mine = env
        .member(
            user,
            &["user", "update", &a_user, "--telephone", "020 7946 0999"],
        )
        .ok();
    assert!(mine.contains("020 7946 0999"), "{mine}");
    // A's administrator manages A's users.
    env.member(a, &["user", "suspend", &a_user]).ok();
    env.member(user, &["directory", "search", "smith"])
        .refused(&["suspended"]);
    env.member(a, &["user", "reactivate", &a_user]).ok();
    env.member(user, &["directory", "search", "smith"]).ok();
}

#[test]
fn csv_import_is_all_or_nothing() {
    both(|mode| {
        let env = Env::new(mode);
        let admin = env.connect(
            "safeguarders.org.uk",
            "Safeguarder Service",
            &["--abbreviation", "safeguarder"],
            ("Bruce", "Knight"),
        );
        let bad = env.dir().join("bad.csv");
        fs::write(
            &bad,
            "first_name,last_name,telephone\nAnn,Able,0100\nBob,,0101\nCal,Cole,0102\n,Dee,0103\n",
        )
        .unwrap();
        env.member(
            (&admin, GOOD),
            &[
                "user",
                "import",
                bad.to_str().unwrap(),
                "--org",
                "safeguarder",
            ],
        )
        .refused(&[
            "no users were added",
            "line 3: last_name: is required",
            "line 5: first_name: is required",
        ]);
        let users = env.ward(&["user", "list", "--org", "safeguarder"]).ok();
        assert_eq!(users.lines().count(), 1, "nothing half-done: {users}");

        // Hundreds at once, clashing names numbered, passwords to a file.
        let mut csv = String::from("first_name,last_name,description\n");
        for i in 0..200 {
            csv.push_str(&format!("Person,Number{},Safeguarder {i}\n", i % 150));
        }
        let good = env.dir().join("good.csv");
        fs::write(&good, csv).unwrap();
        let passwords = env.dir().join("passwords.csv");
        let out = env
            .member(
                (&admin, GOOD),
                &[
                    "user",
                    "import",
                    good.to_str().unwrap(),
                    "--org",
                    "safeguarder",
                    "--output",
                    passwords.to_str().unwrap(),
                ],
            )
            .ok();
        assert!(out.contains("200 users added"), "{out}");
        let written = fs::read_to_string(&passwords).unwrap();
        assert_eq!(written.lines().count(), 201);
        assert!(written.contains("person.number7@safeguarder.cjsm.net,"));
        assert!(
            written.contains("person.number7-2@safeguarder.cjsm.net,")
                || written.contains("person.number72@safeguarder.cjsm.net,")
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&passwords).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (address, otp) = written.lines().nth(10).unwrap().split_once(',').unwrap();
        env.passwd(address, otp, GOOD).ok();
        assert_eq!(
            env.ward(&["user", "list", "--org", "safeguarder"])
                .ok()
                .lines()
                .count(),
            201
        );
    });
}

#[test]
fn failed_logins_lock_passwords_expire_and_idle_accounts_lock() {
    both(|mode| {
        let env = Env::with_config(
            mode,
            "[accounts]\nmax_failed_logins = 3\nfailed_login_lock_minutes = 30\npassword_max_age_days = 90\ninactivity_lock_days = 30\n",
        );
        let admin = env.connect(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &[],
            ("Sam", "Smith"),
        );
        let (kim, otp) = credentials(
            &env.add_user(
                None,
                "oakfield.org.uk",
                "Kim",
                "Lee",
                Some("kim@oakfield.org.uk"),
            )
            .ok(),
        );
        env.passwd(&kim, &otp, GOOD).ok();
        let search = ["directory", "search", "smith"];

        for _ in 0..3 {
            env.member((&kim, "not my password"), &search)
                .refused(&["address or password is wrong"]);
        }
        env.member((&kim, GOOD), &search).refused(&["locked"]);
        assert!(env.ward(&["user", "show", &kim]).ok().contains("Locked"));
        env.advance(0, 31);
        env.member((&kim, GOOD), &search).ok();

        // Locked again; the administrator unlocks at once.
        for _ in 0..3 {
            env.member((&kim, "not my password"), &search)
                .refused(&["wrong"]);
        }
        env.member((&admin, GOOD), &["user", "unlock", &kim]).ok();
        env.member((&kim, GOOD), &search).ok();
        env.member((&admin, GOOD), &["user", "unlock", &kim])
            .refused(&["is not locked"]);

        // Ninety days on (logging in monthly), the password has expired;
        // changing it lets them in.
        for _ in 0..3 {
            env.advance(29, 0);
            env.member((&admin, GOOD), &search).ok();
            env.member((&kim, GOOD), &search).ok();
        }
        env.advance(3, 0);
        env.member((&kim, GOOD), &search)
            .refused(&["password has expired"]);
        env.passwd(&kim, GOOD, GOOD2).ok();
        env.member((&kim, GOOD2), &search).ok();

        // Thirty idle days lock the account until the administrator unlocks it.
        env.advance(29, 0);
        env.passwd(&admin, GOOD, GOOD2).ok();
        env.advance(1, 0);
        env.member((&kim, GOOD2), &search).refused(&["locked"]);
        env.member((&admin, GOOD2), &["user", "unlock", &kim]).ok();
        env.member((&kim, GOOD2), &search).ok();
        let audit = env.ward(&["audit"]).ok();
        assert!(
            audit.contains("reason=inactivity") && audit.contains("locked=yes"),
            "{audit}"
        );
    });
}

#[test]
fn deleted_and_suspended_accounts() {
    both(|mode| {
        let env = Env::new(mode);
        let admin = env.connect(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &[],
            ("Sam", "Smith"),
        );
        let a = (admin.as_str(), GOOD);
        let (kim, otp) = credentials(
            &env.add_user(
                Some(a),
                "oakfield.org.uk",
                "Kim",
                "Lee",
                Some("kim@oakfield.org.uk"),
            )
            .ok(),
        );
        env.passwd(&kim, &otp, GOOD).ok();
        env.member(a, &["user", "suspend", &kim]).ok();
        env.member((&kim, GOOD), &["directory", "search", "smith"])
            .refused(&["suspended"]);
        env.member(a, &["user", "reactivate", &kim]).ok();
        let out = env.member(a, &["user", "delete", &kim]).ok();
        assert!(out.contains("removed after 90 days"), "{out}");
        env.member((&kim, GOOD), &["directory", "search", "smith"])
            .refused(&["wrong"]);
        env.member(a, &["user", "reactivate", &kim])
            .refused(&["has been deleted"]);
        env.member(a, &["user", "reset", &kim])
            .refused(&["has been deleted"]);
        // The address is not reused within the retention period.
        env.add_user(
            Some(a),
            "oakfield.org.uk",
            "Kim",
            "Lee",
            Some("kim@oakfield.org.uk"),
        )
        .refused(&["already in use"]);
        let listed = env.ward(&["directory", "search", "lee"]).ok();
        assert!(!listed.contains(&kim), "{listed}");
        // The organisation suspended: its members cannot log in.
        env.ward(&["org", "suspend", "oakfield.org.uk"]).ok();
        env.member(a, &["user", "list"])
            .refused(&["organisation's connection is suspended"]);
        env.ward(&["org", "resume", "oakfield.org.uk"]).ok();
        env.member(a, &["user", "list"]).ok();
    });
}

#[test]
fn directory_exports_as_csv_and_vcard() {
    let env = Env::new(Mode::Running);
    let admin = env.connect(
        "oakfield.org.uk",
        "Oakfield Solicitors",
        &[],
        ("Sam", "Smith"),
    );
    let a = (admin.as_str(), GOOD);
    let (kim, _) = credentials(
        &env.add_user(
            Some(a),
            "oakfield.org.uk",
            "Kim",
            "O'Lee, Jr",
            Some("kim@oakfield.org.uk"),
        )
        .ok(),
    );
    env.member(
        a,
        &[
            "user",
            "update",
            &kim,
            "--telephone",
            "+44 20 7946 0000",
            "--description",
            "Clerk; criminal team",
            "--address1",
            "1 Court Lane",
            "--town",
            "London",
            "--postcode",
            "EC4A 1AA",
            "--cj-area",
            "London",
        ],
    )
    .ok();

    let csv = env.ward(&["directory", "export", "--format", "csv"]).ok();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "Firstname,Lastname,UserType,Organisation,Secure Email,Address1,Address2,Town/City,Postcode,Telephone,Mobile,Description,Business Type,CJ Area,Account Status"
    );
    // Kim's own address and CJ Area stand; the organisation's line of
    // business fills her empty Business Type.
    assert!(csv.contains("Kim,\"O'Lee, Jr\",Webmail User,Oakfield Solicitors,kim@oakfield.org.uk.cjsm.net,1 Court Lane,,London,EC4A 1AA,+44 20 7946 0000,,Clerk; criminal team,Solicitors,London,New User Locked"), "{csv}");
    // Sam gave no address: the organisation's, from its application, fills
    // the columns.
    assert!(csv.contains("Sam,Smith,Organisation Admin,Oakfield Solicitors,sam.smith@oakfield.org.uk.cjsm.net,1 High Street,,Leeds,LS1 1AA,,,,Solicitors,West Yorkshire,Active"), "{csv}");

    let vcf = env.dir().join("directory.vcf");
    env.ward(&[
        "directory",
        "export",
        "--format",
        "vcard",
        "--output",
        vcf.to_str().unwrap(),
    ])
    .ok();
    let script = r#"
import sys, vobject
cards = list(vobject.readComponents(open(sys.argv[1], encoding="utf-8").read()))
for c in cards:
    print(c.fn.value, "|", c.email.value, "|", c.org.value[0], "|", getattr(c, "title", None) and c.title.value)
"#;
    let out = Command::new("python3")
        .args(["-c", script, vcf.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vobject could not parse the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("Kim O'Lee, Jr | kim@oakfield.org.uk.cjsm.net | Oakfield Solicitors | Clerk; criminal team"), "{printed}");
    assert!(
        printed.contains("Sam Smith | sam.smith@oakfield.org.uk.cjsm.net"),
        "{printed}"
    );
}

#[test]
fn invitations_go_only_to_reachable_secure_addresses() {
    both(|mode| {
        let env = Env::new(mode);
        let admin = env.connect(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &[],
            ("Sam", "Smith"),
        );
        let a = (admin.as_str(), GOOD);
        env.member(a, &["invite", "friend@gmail.com"]).refused(&[
            "cannot be reached through the secure service",
            "pnn.police.uk",
        ]);
        env.member(a, &["invite", "sam.smith@oakfield.org.uk.cjsm.net"])
            .refused(&["already has"]);
        let out = env
            .member(a, &["invite", "pc.plod@pnn.police.uk", "--name", "PC Plod"])
            .ok();
        assert!(
            out.contains("invitation to pc.plod@pnn.police.uk queued"),
            "{out}"
        );
        let audit = env.ward(&["audit"]).ok();
        assert!(
            audit.contains("invite") && audit.contains("to=pc.plod@pnn.police.uk"),
            "{audit}"
        );
    });
}

#[test]
fn the_demo_community_is_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut first = Ward::start(&config, &[]);
    first.signal("TERM");
    first.wait();
    let out = Command::new(ward_bin())
        .args(["demo", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("demo community created"),
        "{text}"
    );
    assert!(
        text.contains("eric.brown@greenstonechambers.co.uk.cjsm.net  password: "),
        "{text}"
    );
    assert!(text.contains("bruce.knight@safeguarder.cjsm.net"), "{text}");
    let again = Command::new(ward_bin())
        .args(["demo", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("no demo community was created"));
}

/// Seed 001 step 9: "Don't know / other" is a connection; the operator
/// chooses at approval. Steps 3 and 10: the organisation's postal address,
/// telephone, location and line of business are required and kept.
#[test]
fn the_operator_decides_an_unknown_connection_and_details_are_kept() {
    both(|mode| {
        let env = Env::new(mode);
        env.apply(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &["--telephone", ""],
        )
        .refused(&["telephone: is required"]);
        env.apply(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &["--postcode", " "],
        )
        .refused(&["postcode: is required"]);
        env.apply(
            "oakfield.org.uk",
            "Oakfield Solicitors",
            &["--connection", "carrier pigeon"],
        )
        .refused(&["use mailbox, smtp, or unknown"]);
        let out = env
            .apply(
                "oakfield.org.uk",
                "Oakfield Solicitors",
                &["--connection", "unknown", "--address2", "Floor 2"],
            )
            .ok();
        let id = number_after(&out, "Application ");
        let list = env.ward(&["org", "list"]).ok();
        assert!(
            list.contains("connection don't know / other")
                && list.contains("1 High Street, Floor 2, Leeds, LS1 1AA; 0113 496 0000; West Yorkshire, Solicitors"),
            "{list}"
        );
        let approve = |more: &[&str]| {
            let mut args = vec![
                "org",
                "approve",
                &id,
                "--first-name",
                "Sam",
                "--last-name",
                "Smith",
                "--existing-address",
                "sam.smith@oakfield.org.uk",
            ];
            args.extend_from_slice(more);
            env.ward(&args)
        };
        approve(&[]).refused(&[
            "Oakfield Solicitors did not know how it will connect",
            "--connection smtp --gateway HOST",
        ]);
        approve(&["--connection", "smtp"]).refused(&["needs the host name"]);
        approve(&["--connection", "smtp", "--gateway", "mail.oakfield.org.uk"]).ok();
        let show = env.ward(&["org", "show", "oakfield.org.uk"]).ok();
        for line in [
            "connection    smtp via mail.oakfield.org.uk:25",
            "address       1 High Street, Floor 2, Leeds, LS1 1AA",
            "telephone     0113 496 0000",
            "business      Solicitors, West Yorkshire",
        ] {
            assert!(show.contains(line), "{line:?} missing from {show}");
        }
        let audit = env.ward(&["audit", "--org", "oakfield.org.uk"]).ok();
        assert!(
            audit.contains("connection=smtp via mail.oakfield.org.uk:25"),
            "{audit}"
        );
    });
}

/// Seed 001: a safeguarder applies from their own Gmail address, under the
/// parent organisation, and gets `forename.surname@safeguarder.<suffix>`;
/// no one connects gmail.com itself.
#[test]
fn an_individual_at_a_public_mail_provider_joins_under_a_parent() {
    both(|mode| {
        let env = Env::new(mode);
        let parent = "Scotland - Justice System / Safeguarders";
        let bruce = env.connect(
            "scra.gov.uk",
            parent,
            &["--abbreviation", "safeguarder"],
            ("Bruce", "Knight"),
        );
        let safeguarder = |first: &str, more: &[&str]| {
            let name = format!("{first} Smith (Safeguarder)");
            let own = format!("{}.smith@gmail.com", first.to_lowercase());
            let signatory = format!("{first} Smith");
            // Step 9: "Don't know/other", unless the test says otherwise.
            let connection = if more.contains(&"--connection") {
                &[][..]
            } else {
                &["--connection", "unknown"][..]
            };
            let mut args = vec![
                "--parent",
                parent,
                "--abbreviation",
                "Safeguarder",
                "--ex-directory",
                "--users",
                "1",
                "--signatory-name",
                &signatory,
                "--signatory-position",
                "Safeguarder",
                "--signatory-address",
                &own,
                "--location",
                "Scotland",
                "--business-type",
                "Other - Scotland",
            ];
            args.extend_from_slice(connection);
            args.extend_from_slice(more);
            env.apply("gmail.com", &name, &args)
        };
        env.apply("gmail.com", "John Smith (Safeguarder)", &[])
            .refused(&[
                "gmail.com is a public mail provider, so this is an individual's application",
                "give the parent organisation",
            ]);
        env.apply("yahoo.co.uk", "Smith Consulting", &[])
            .refused(&["yahoo.co.uk is a public mail provider"]);
        safeguarder(
            "John",
            &["--connection", "smtp", "--gateway", "smtp.gmail.com"],
        )
        .refused(&["an individual gets a hosted mailbox"]);

        let john = number_after(&safeguarder("John", &[]).ok(), "Application ");
        let jane = number_after(&safeguarder("Jane", &[]).ok(), "Application ");
        safeguarder("John", &[]).refused(&[&format!(
            "john.smith@gmail.com has already applied: application {john}"
        )]);
        let list = env.ward(&["org", "list"]).ok();
        assert!(
            list.contains(&format!("individual, joining {parent}")),
            "{list}"
        );

        let out = env
            .ward(&[
                "org",
                "approve",
                &john,
                "--first-name",
                "John",
                "--last-name",
                "Smith",
            ])
            .ok();
        assert!(
            out.contains(&format!(
                "John Smith (Safeguarder) approved as an individual member of {parent}."
            )),
            "{out}"
        );
        let address = value_after(&out, "Secure address:");
        assert_eq!(address, "john.smith@safeguarder.cjsm.net");
        env.passwd(&address, &value_after(&out, "One-time password:"), GOOD)
            .ok();
        let out = env
            .ward(&[
                "org",
                "approve",
                &jane,
                "--first-name",
                "Jane",
                "--last-name",
                "Smith",
            ])
            .ok();
        assert_eq!(
            value_after(&out, "Secure address:"),
            "jane.smith@safeguarder.cjsm.net"
        );

        // Nobody holds gmail.com; the parent's administrator manages John
        // (seed 001: resignations go to the parent's contact).
        env.ward(&["org", "show", "gmail.com"])
            .refused(&["gmail.com"]);
        let list = env.ward(&["org", "list"]).ok();
        assert!(!list.contains("gmail.com.cjsm.net"), "{list}");
        let shown = env.member((&bruce, GOOD), &["user", "show", &address]).ok();
        assert!(
            shown.contains(parent) && shown.contains("0113 496 0000"),
            "{shown}"
        );
        env.member((&bruce, GOOD), &["user", "suspend", &address])
            .ok();
    });
}

/// Seed 000: "we will also check whether your organisation is already
/// connected, or if someone else has already made a duplicate application".
#[test]
fn duplicate_applications_are_found_by_organisation_name() {
    both(|mode| {
        let env = Env::new(mode);
        env.connect(
            "greenstonechambers.co.uk",
            "Greenstone Chambers",
            &[],
            ("Eric", "Brown"),
        );
        env.apply("greenstone.law", "The Greenstone Chambers Ltd.", &[])
            .refused(&[
                "is already connected, as Greenstone Chambers (greenstonechambers.co.uk.cjsm.net)",
                "ask its Organisation Administrator for an account",
            ]);
        let out = env
            .apply("northgatelaw.co.uk", "Northgate Solicitors", &[])
            .ok();
        let id = number_after(&out, "Application ");
        env.apply("northgate.law", "NORTHGATE SOLICITORS LLP", &[])
            .refused(&[&format!(
                "has already applied: application {id} from Northgate Solicitors (northgatelaw.co.uk)"
            )]);
        env.apply("northgate.law", "Northgate Law", &[]).ok();
    });
}

/// Seed 001 step 7: sponsors must be on the secure domains, which are
/// configuration (`[community] secure_domains`), as are the public mail
/// providers.
#[test]
fn sponsor_domains_and_public_providers_are_configured() {
    let env = Env::with_config(
        Mode::Stopped,
        "[community]\nsecure_domains = [\"justice.example\"]\npublic_mail_providers = [\"freemail.*\"]\n",
    );
    env.apply("oakfield.org.uk", "Oakfield Solicitors", &[])
        .refused(&[
            "jo.bloggs@cps.gov.uk is not on a secure government domain",
            "justice.example",
            "Ask such a contact to sponsor you",
        ]);
    let sponsor = [
        "--sponsor",
        "Jo Bloggs|Court|jo@court.justice.example|Clerk",
    ];
    env.apply("freemail.co.uk", "Jo Public", &sponsor)
        .refused(&["freemail.co.uk is a public mail provider"]);
    env.apply("gmail.com", "Google Mail", &sponsor).ok();
}
