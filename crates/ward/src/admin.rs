//! The admin API: HTTP/1.1 with JSON bodies on a Unix socket (mode 0600).
//!
//! The socket's file permissions are the access control: only the `ward`
//! user (and root) can connect. The `ward` command line uses it while the
//! daemon runs, because sled lets only one process open the store. Later
//! operations (organisations, users, queue) add routes here.
//!
//! | method | path         | answer                                    |
//! |--------|--------------|-------------------------------------------|
//! | GET    | `/v1/status` | version, uptime, host name, listeners     |

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
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(error = %e, "admin connection ended");
            }
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<AdminState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/v1/status") => json(StatusCode::OK, &status(&state)),
        (_, "/v1/status") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET for /v1/status"),
        (_, path) => error(
            StatusCode::NOT_FOUND,
            &format!("no admin endpoint at {path}"),
        ),
    };
    Ok(response)
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
    #[error("the daemon refused the request ({status}): {message}")]
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
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::NotRunning {
            path: socket.to_owned(),
            source,
        })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "ward")
        .body(Full::<Bytes>::default())
        .expect("static request parts are valid");
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
