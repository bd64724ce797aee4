//! Starting, talking to and stopping a real `ward` process.

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Generous bound for anything that should take milliseconds, so a broken
/// build fails instead of hanging; not a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The `ward` binary Cargo built for these tests.
pub fn ward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ward")
}

/// Runs `ward ARGS` to completion.
pub fn ward(args: &[&str]) -> Output {
    Command::new(ward_bin())
        .args(args)
        .output()
        .expect("ward runs")
}

/// A config file with every listener on 127.0.0.1 port 0 (any free port)
/// and the data folder inside `dir`; `extra` is appended verbatim, except
/// that keys under a leading `[server]` header join the built-in section.
pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let (server, extra) = match extra.strip_prefix("[server]\n") {
        Some(rest) => {
            let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
            (&rest[..end], &rest[end..])
        }
        None => ("", extra),
    };
    let text = format!(
        r#"[server]
hostname = "localhost"
data_dir = "data"
shutdown_grace_seconds = 5
{server}
[listen]
smtp = ["127.0.0.1:0"]
submission = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
imap = ["127.0.0.1:0"]
imaps = ["127.0.0.1:0"]

{extra}"#
    );
    let path = dir.join("ward.toml");
    fs::write(&path, text).unwrap();
    path
}

/// A running `ward serve`.
pub struct Ward {
    child: Option<Child>,
    /// The configuration file it was started with.
    pub config: PathBuf,
    /// The data folder.
    pub data: PathBuf,
    /// Where its standard error (the log) goes.
    pub log: PathBuf,
    /// Bound addresses by listener kind, from `ward status --json`.
    pub listeners: HashMap<String, SocketAddr>,
}

impl Ward {
    /// Starts `ward serve --config CONFIG` and waits for systemd-style
    /// readiness (`READY=1` on a `NOTIFY_SOCKET` the test owns).
    pub fn start(config: &Path, extra_args: &[&str]) -> Ward {
        Self::start_with_env(config, extra_args, &[])
    }

    /// [`Ward::start`] with extra environment variables.
    pub fn start_with_env(config: &Path, extra_args: &[&str], env: &[(&str, &Path)]) -> Ward {
        let dir = config.parent().unwrap();
        let notify_path = dir.join("notify.sock");
        let _ = fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify.set_read_timeout(Some(PATIENCE)).unwrap();
        let log = unique(dir.join("ward.log"));
        let stdout = dir.join("stdout.txt");
        let child = Command::new(ward_bin())
            .args(extra_args)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("RUST_LOG", "debug")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::from(fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(fs::File::create(&log).unwrap()))
            .spawn()
            .expect("ward serve starts");
        let mut ward = Ward {
            child: Some(child),
            config: config.to_owned(),
            data: dir.join("data"),
            log,
            listeners: HashMap::new(),
        };
        let mut buf = [0u8; 256];
        let n = notify
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no READY=1 from ward ({e}); log:\n{}", ward.log_text()));
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            message.contains("READY=1"),
            "unexpected notification {message:?}"
        );
        let status = ward.status_json();
        for l in status["listeners"].as_array().unwrap() {
            ward.listeners.insert(
                l["kind"].as_str().unwrap().to_owned(),
                l["address"].as_str().unwrap().parse().unwrap(),
            );
        }
        ward
    }

    /// `ward status --json` against this daemon.
    pub fn status_json(&self) -> serde_json::Value {
        let out = ward(&[
            "status",
            "--json",
            "--config",
            self.config.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "ward status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The address of one listener kind.
    pub fn addr(&self, kind: &str) -> SocketAddr {
        self.listeners[kind]
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `KILL`, …).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("still running");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("ward did not exit; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log written so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The self-signed certificate in the data folder.
    pub fn certificate(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(self.data.join("tls/cert.pem")).unwrap()
    }
}

impl Drop for Ward {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    let stem = path.with_extension("");
    let mut candidate = stem.with_extension("log");
    while candidate.exists() {
        n += 1;
        candidate = PathBuf::from(format!("{}-{n}.log", stem.display()));
    }
    candidate
}

/// A TLS client that trusts exactly `anchor`.
pub fn connector(anchor: CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(anchor).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Completes a TLS handshake for `localhost` over `tcp`.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    connector: &TlsConnector,
    tcp: S,
) -> TlsStream<S> {
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(PATIENCE, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake succeeds and the certificate verifies")
}

/// The certificate the server presented.
pub fn peer_certificate<S>(tls: &TlsStream<S>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// A line-oriented client over any stream.
pub struct Client<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        Self {
            io: BufReader::new(stream),
        }
    }

    /// Sends one line (CRLF added).
    pub async fn send(&mut self, line: &str) {
        let io = self.io.get_mut();
        io.write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        io.flush().await.unwrap();
    }

    /// Reads one line, without its ending; empty at end of stream.
    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(PATIENCE, self.io.read_line(&mut line))
            .await
            .expect("a reply in time")
            .unwrap();
        line.trim_end().to_owned()
    }

    /// Reads a complete SMTP reply (all its continuation lines).
    pub async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let last = line.len() < 4 || line.as_bytes()[3] != b'-';
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Reads IMAP lines up to and including the one starting with `tag`.
    pub async fn tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} ")) || line.is_empty();
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Gives the stream back, with nothing buffered left unread.
    pub fn into_inner(self) -> S {
        assert!(self.io.buffer().is_empty(), "unread bytes before TLS");
        self.io.into_inner()
    }
}

/// Connects over TCP.
pub async fn tcp(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connects")
}

/// The demo community on a fresh data folder: returns the started daemon
/// and `(address, password)` of each demo user.
pub fn demo() -> (tempfile::TempDir, Ward, Vec<(String, String)>) {
    demo_with("")
}

/// [`demo`] with extra configuration sections.
pub fn demo_with(extra: &str) -> (tempfile::TempDir, Ward, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), extra);
    let users = demo_on(&config);
    assert_eq!(users.len(), 3, "{users:?}");
    let ward = Ward::start(&config, &[]);
    (dir, ward, users)
}

/// Creates the data folder of `config` (a first start and stop) and the
/// demo community in it, with the daemon stopped; returns `(address,
/// password)` of each demo user.
pub fn demo_on(config: &Path) -> Vec<(String, String)> {
    let mut first = Ward::start(config, &[]);
    first.signal("TERM");
    first.wait();
    cli(config, &["demo"])
        .lines()
        .filter_map(|l| l.trim().strip_prefix("user"))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let address = parts.next().unwrap().to_owned();
            let password = parts.nth(1).unwrap().to_owned();
            (address, password)
        })
        .collect()
}

/// Issues a gateway certificate for `organisation` into `dir`; returns
/// the certificate and key files, named after its suffixed `domain`.
pub fn gateway_certificate(
    config: &Path,
    organisation: &str,
    domain: &str,
    dir: &Path,
) -> (PathBuf, PathBuf) {
    let issued = cli(
        config,
        &[
            "org",
            "cert",
            "issue",
            organisation,
            "--out-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert!(issued.contains("fingerprint"), "{issued}");
    (
        dir.join(format!("{domain}.pem")),
        dir.join(format!("{domain}.key")),
    )
}

pub fn swaks(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--timeout",
            "30",
        ])
        .args(args)
        .output()
        .expect("swaks is installed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

pub fn cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(ward_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The raw messages in a user's INBOX (the daemon must be stopped).
pub fn inbox(data: &Path, address: &str) -> Vec<Vec<u8>> {
    let store = store::Store::open(&data.join("store")).unwrap();
    let (user, _) = store.user_by_address(address).unwrap().unwrap();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap();
    store
        .messages(inbox.id)
        .unwrap()
        .iter()
        .map(|m| store.read_body(m.body).unwrap())
        .collect()
}

/// Runs a `ward` command as a member (`--as`, password in `WARD_PASSWORD`):
/// (exit status success, stdout and stderr together).
pub fn cli_as(config: &Path, args: &[&str], address: &str, password: &str) -> (bool, String) {
    let out = Command::new(ward_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--as")
        .arg(address)
        .env("WARD_PASSWORD", password)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Sends `count` messages over submission with smtplib as `user`, to
/// `recipient`, each with the Message-ID `<{tag}-{n}@system.test>`; panics
/// unless every one was accepted.
pub fn submit_many(
    port: u16,
    user: &str,
    password: &str,
    recipient: &str,
    tag: &str,
    count: usize,
) {
    let script = r#"
import smtplib, ssl, sys
port, user, password, rcpt, tag, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = smtplib.SMTP("127.0.0.1", port, timeout=60)
c.starttls(context=ctx); c.login(user, password)
for n in range(count):
    msg = (f"From: {user}\r\nTo: {rcpt}\r\nSubject: case {n}\r\n"
           f"Message-ID: <{tag}-{n}@system.test>\r\n\r\nPapers {n}.\r\n")
    c.sendmail(user, [rcpt], msg)
c.quit()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(port.to_string())
        .args([user, password, recipient, tag, &count.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
