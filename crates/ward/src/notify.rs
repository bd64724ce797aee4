//! The systemd readiness protocol (`sd_notify`), in the few lines it needs.
//!
//! With `Type=notify`, systemd passes a datagram socket in `NOTIFY_SOCKET`
//! and waits for `READY=1` before it considers the service started. Ward
//! sends it only after every listener is bound. Outside systemd the variable
//! is absent and these calls do nothing.

use std::os::unix::net::UnixDatagram;

/// Tells systemd the service is ready.
pub fn ready() {
    send("READY=1\nSTATUS=accepting connections");
}

/// Tells systemd the service is reloading its certificates.
pub fn reloading() {
    send("RELOADING=1");
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    send("STOPPING=1\nSTATUS=finishing open sessions");
}

fn send(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let result = UnixDatagram::unbound().and_then(|socket| {
        let bytes = path.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            // Linux abstract socket namespace.
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)
        } else {
            socket.send_to(state.as_bytes(), &path)
        }
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}
