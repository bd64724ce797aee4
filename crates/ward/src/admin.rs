//! The admin API: HTTP/1.1 with JSON bodies on a Unix socket (mode 0600).
//!
//! The socket's file permissions are the access control: only the `ward`
//! user (and root) can connect. The `ward` command line uses it while the
//! daemon runs, because sled lets only one process open the store.
//!
//! | method | path         | answer                                    |
//! |--------|--------------|-------------------------------------------|
//! | GET    | `/v1/status` | version, uptime, host name, listeners     |
//! | POST   | `/v1/<op>`   | runs an account operation (`accounts::Request`, tagged `op`) |
//!
//! An operation runs as the operator, unless the request carries
//! `Authorization: Basic` with a member's address and password: then it
//! runs as that member, with their role's limits (the way an Organisation
//! Administrator, and later the web portal, use the same operations).
//! Errors answer `{"error": sentence, "kind": kind}` with a matching status.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::ListenerKind;

/// What the status endpoint reports.
#[derive(Debug)]
pub struct AdminState {
    /// The daemon's version.
    pub version: &'static str,
    /// The configured host name.
    pub hostname: String,
    /// The data folder.
    pub data_dir: PathBuf,
    /// When the daemon started, for uptime.
    pub started: Instant,
    /// The same, as wall-clock time.
    pub started_at: SystemTime,
    /// The bound listeners.
    pub listeners: Vec<(ListenerKind, SocketAddr)>,
    /// The account operations.
    pub service: accounts::Service,
    /// The routing snapshot, refreshed when organisations change.
    pub community: Arc<tokio::sync::watch::Sender<Arc<policy::Community>>>,
    /// The relay, woken after a queue release and told of a flush.
    pub relay: smtp_relay::RelayHandle,
}

/// The body of `GET /v1/status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    /// The daemon's version.
    pub version: String,
    /// The configured host name.
    pub hostname: String,
    /// The data folder.
    pub data_dir: String,
    /// Seconds since the Unix epoch when the daemon started.
    pub started_at: u64,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    /// The bound listeners.
    pub listeners: Vec<ListenerStatus>,
    /// The outbound queue.
    #[serde(default)]
    pub queue: accounts::queue::QueueSummary,
}

/// One listener in [`Status`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ListenerStatus {
    /// `smtp`, `submission`, `submissions`, `imap` or `imaps`.
    pub kind: String,
    /// The bound address.
    pub address: String,
    /// What it is for.
    pub description: String,
}

/// Binds the admin socket with mode 0600, replacing a stale socket file left
/// by a daemon that did not stop cleanly.
///
/// # Errors
///
/// The socket cannot be created, or another daemon is answering on it.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another Ward daemon is answering on this socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves the admin API until `shutdown`.
pub async fn serve(listener: UnixListener, state: Arc<AdminState>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "admin accept failed");
                    continue;
                }
            },
        };
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        debug!(?uid, "admin connection");
        let state = state.clone();
        let source = match uid {
            Some(uid) => format!("admin-socket uid={uid}"),
            None => "admin-socket".to_owned(),
        };
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(req, state.clone(), source.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(error = %e, "admin connection ended");
            }
        });
    }
}

/// The largest request body accepted (a CSV of thousands of users fits).
const MAX_BODY: usize = 16 * 1024 * 1024;

async fn handle(
    req: Request<Incoming>,
    state: Arc<AdminState>,
    source: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let response = match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/status") => json(StatusCode::OK, &status(&state)),
        (_, "/v1/status") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET for /v1/status"),
        (&Method::POST, op) if op.starts_with("/v1/") => {
            operation(req, &op["/v1/".len()..], state, source).await
        }
        (_, path) => error(
            StatusCode::NOT_FOUND,
            &format!("no admin endpoint at {path}"),
        ),
    };
    Ok(response)
}

/// Runs one account operation: decode, authenticate, execute on a
/// blocking thread, refresh the routing snapshot if organisations changed.
async fn operation(
    req: Request<Incoming>,
    op: &str,
    state: Arc<AdminState>,
    source: String,
) -> Response<Full<Bytes>> {
    let credentials = match basic_credentials(&req) {
        Ok(c) => c,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request is larger than {MAX_BODY} bytes or was cut off"),
            );
        }
    };
    let request: accounts::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the request is not valid: {e}"),
            );
        }
    };
    if request.name() != op {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "the request is for {} but was sent to /v1/{op}",
                request.name()
            ),
        );
    }
    let refresh = request.changes_community();
    let relay_action = match &request {
        accounts::Request::QueueFlush { destination } => Some(Some(destination.clone())),
        accounts::Request::QueueRelease { .. } => Some(None),
        _ => None,
    };
    let service = state.service.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let actor = match credentials {
            None => accounts::Actor::Operator,
            Some((address, password)) => service.login(&address, &password, &source)?.actor(),
        };
        let caller = accounts::Caller { actor, source };
        service.execute(&caller, request)
    })
    .await;
    match outcome {
        Ok(Ok(response)) => {
            match relay_action {
                Some(Some(None)) => state.relay.flush(None),
                Some(Some(Some(filter))) => {
                    // Tell the relay each destination the filter named, in
                    // the relay's own terms, so their back-off is cleared.
                    let service = state.service.clone();
                    let found = tokio::task::spawn_blocking(move || {
                        accounts::queue::flush_destinations(&service, Some(&filter))
                    })
                    .await;
                    match found {
                        Ok(Ok(destinations)) => {
                            for d in destinations {
                                state.relay.flush(Some(d));
                            }
                        }
                        _ => state.relay.flush(None),
                    }
                }
                Some(None) => state.relay.wake(),
                None => {}
            }
            if refresh {
                let service = state.service.clone();
                if let Ok(snapshot) = tokio::task::spawn_blocking(move || service.community()).await
                {
                    state.community.send_replace(Arc::new(snapshot));
                }
            }
            json(StatusCode::OK, &response)
        }
        Ok(Err(e)) => {
            let code =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if code == StatusCode::INTERNAL_SERVER_ERROR {
                warn!(error = %e, op, "admin operation failed");
            }
            json(
                code,
                &serde_json::json!({ "error": e.to_string(), "kind": e.kind() }),
            )
        }
        Err(e) => {
            warn!(error = %e, op, "admin operation panicked");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the operation failed unexpectedly; see the log",
            )
        }
    }
}

/// The member credentials of `Authorization: Basic`, if present.
fn basic_credentials(req: &Request<Incoming>) -> Result<Option<(String, String)>, &'static str> {
    use base64::Engine as _;
    let Some(value) = req.headers().get(hyper::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = "the Authorization header must be Basic with address:password";
    let text = value.to_str().map_err(|_| malformed)?;
    let encoded = text.strip_prefix("Basic ").ok_or(malformed)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed)?;
    let (address, password) = decoded.split_once(':').ok_or(malformed)?;
    Ok(Some((address.to_owned(), password.to_owned())))
}

fn status(state: &AdminState) -> Status {
    Status {
        version: state.version.to_owned(),
        hostname: state.hostname.clone(),
        data_dir: state.data_dir.display().to_string(),
        started_at: state
            .started_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        uptime_seconds: state.started.elapsed().as_secs(),
        listeners: state
            .listeners
            .iter()
            .map(|(kind, address)| ListenerStatus {
                kind: kind.key().to_owned(),
                address: address.to_string(),
                description: kind.describe().to_owned(),
            })
            .collect(),
        queue: state.service.queue_summary().unwrap_or_else(|e| {
            warn!(error = %e, "cannot read the queue for the status");
            accounts::queue::QueueSummary::default()
        }),
    }
}

fn json<T: Serialize>(code: StatusCode, body: &T) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec_pretty(body).expect("admin replies serialise");
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid")
}

fn error(code: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(code, &serde_json::json!({ "error": message }))
}

/// Why the command line could not get an answer from the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing is listening on the admin socket.
    #[error("Ward is not running (no daemon answers on {path}): {source}")]
    NotRunning {
        /// The socket that was tried.
        path: PathBuf,
        /// What connecting said.
        source: io::Error,
    },
    /// The connection failed mid-request.
    #[error("the admin API connection failed: {0}")]
    Http(#[from] hyper::Error),
    /// The daemon answered with an error.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The daemon's explanation.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("the daemon's answer could not be read: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Sends `GET path` to the daemon and decodes the JSON answer.
///
/// # Errors
///
/// See [`ClientError`].
pub async fn get<T: for<'de> Deserialize<'de>>(
    socket: &Path,
    path: &str,
) -> Result<T, ClientError> {
    let request = Request::get(path)
        .header("host", "ward")
        .body(Full::<Bytes>::default())
        .expect("static request parts are valid");
    send(socket, request).await
}

/// Runs an account operation on the daemon, as the operator or, with
/// `member` (address, password), as that member.
///
/// # Errors
///
/// See [`ClientError`].
pub async fn call(
    socket: &Path,
    request: &accounts::Request,
    member: Option<(&str, &str)>,
) -> Result<accounts::Response, ClientError> {
    use base64::Engine as _;
    let mut builder = Request::post(format!("/v1/{}", request.name()))
        .header("host", "ward")
        .header("content-type", "application/json");
    if let Some((address, password)) = member {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{address}:{password}"));
        builder = builder.header("authorization", format!("Basic {token}"));
    }
    let body = serde_json::to_vec(request)?;
    let request = builder
        .body(Full::new(Bytes::from(body)))
        .expect("request parts are valid");
    send(socket, request).await
}

async fn send<T: for<'de> Deserialize<'de>>(
    socket: &Path,
    request: Request<Full<Bytes>>,
) -> Result<T, ClientError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::NotRunning {
            path: socket.to_owned(),
            source,
        })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(ClientError::Refused { status, message });
    }
    Ok(serde_json::from_slice(&body)?)
}
