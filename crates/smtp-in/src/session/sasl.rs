//! Decoding SASL responses for AUTH PLAIN (RFC 4616) and LOGIN. Pure
//! functions over the base64 text the client sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::SessionError;
use transport::Secret;

/// The LOGIN mechanism's prompts, base64 of `Username:` and `Password:`.
pub(super) const USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
pub(super) const PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// Decodes one base64 response; `=` is the empty response (RFC 4954).
fn decode(text: &str) -> Result<Vec<u8>, SessionError> {
    if text == "=" {
        return Ok(Vec::new());
    }
    STANDARD
        .decode(text.as_bytes())
        .map_err(|_| SessionError::AuthMalformed)
}

/// `[authzid] NUL authcid NUL passwd`. An authorisation identity other than
/// the user's own is refused: Ward has no proxy sign-in.
pub(super) fn plain(text: &str) -> Result<(String, Secret<String>), SessionError> {
    let decoded = Secret::new(decode(text)?);
    let mut parts = decoded.expose().split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SessionError::AuthMalformed);
    };
    if authcid.is_empty() || password.is_empty() || (!authzid.is_empty() && authzid != authcid) {
        return Err(SessionError::AuthMalformed);
    }
    Ok((utf8(authcid)?, Secret::new(utf8(password)?)))
}

/// One LOGIN response: the user name or the password.
pub(super) fn login_field(text: &str) -> Result<String, SessionError> {
    let decoded = decode(text)?;
    if decoded.is_empty() {
        return Err(SessionError::AuthMalformed);
    }
    utf8(&decoded)
}

fn utf8(bytes: &[u8]) -> Result<String, SessionError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SessionError::AuthMalformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms() {
        let b64 = |s: &[u8]| STANDARD.encode(s);
        let (user, pass) = plain(&b64(b"\0eric\0pw")).unwrap();
        assert_eq!((user.as_str(), pass.expose().as_str()), ("eric", "pw"));
        assert!(plain(&b64(b"eric\0eric\0pw")).is_ok());
        assert!(plain(&b64(b"admin\0eric\0pw")).is_err());
        assert!(plain(&b64(b"\0eric\0")).is_err());
        assert!(plain(&b64(b"\0eric")).is_err());
        assert!(plain(&b64(b"\0eric\0pw\0x")).is_err());
        assert!(plain("not base64!").is_err());
        assert!(plain("=").is_err());
        assert_eq!(login_field("ZXJpYw==").unwrap(), "eric");
        assert!(login_field("=").is_err());
    }
}
