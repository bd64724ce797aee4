//! Reply encoding (RFC 5321 §4.2). Refusals arrive as `policy::Reply`
//! (code, enhanced code, text), built only by
//! [`crate::error`]'s mapping; the positive replies are the closed set in
//! [`Positive`], each written here once. Multi-line replies use `code-`
//! continuation lines.

use policy::Reply;

/// Every positive or intermediate reply the session sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Positive {
    /// `220` greeting.
    Greeting { hostname: String },
    /// `250` to EHLO with the capability list.
    Ehlo {
        hostname: String,
        client: String,
        capabilities: Vec<String>,
    },
    /// `250` to HELO.
    Helo { hostname: String, client: String },
    /// `250` to MAIL.
    SenderOk,
    /// `250` to RCPT.
    RecipientOk,
    /// `354` to DATA.
    StartData,
    /// `250` after the message is durable.
    Accepted { queue_id: String },
    /// `250` to a non-final BDAT chunk.
    ChunkReceived { size: u64 },
    /// `250` to RSET.
    Reset,
    /// `250` to NOOP.
    Noop,
    /// `221` to QUIT.
    Bye,
    /// `252` to VRFY: reveals nothing about mailboxes.
    CannotVerify,
    /// `214` to HELP.
    Help,
    /// `220` to STARTTLS.
    ReadyToStartTls,
    /// `334` SASL challenge (base64, possibly empty).
    AuthChallenge(&'static str),
    /// `235` after AUTH.
    AuthSucceeded,
}

impl Positive {
    /// The reply's bytes, CRLF included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let line = |code: u16, status: &str, text: &str| {
            format!("{code} {status} {text}\r\n").into_bytes()
        };
        match self {
            Positive::Greeting { hostname } => {
                format!("220 {hostname} ESMTP Ward\r\n").into_bytes()
            }
            Positive::Ehlo {
                hostname,
                client,
                capabilities,
            } => {
                let mut lines = vec![format!("{hostname} greets {client}")];
                lines.extend(capabilities.iter().cloned());
                multiline(250, &lines)
            }
            Positive::Helo { hostname, client } => {
                format!("250 {hostname} greets {client}\r\n").into_bytes()
            }
            Positive::SenderOk => line(250, "2.1.0", "Sender OK"),
            Positive::RecipientOk => line(250, "2.1.5", "Recipient OK"),
            Positive::StartData => b"354 Start mail input; end with <CRLF>.<CRLF>\r\n".to_vec(),
            Positive::Accepted { queue_id } => line(
                250,
                "2.0.0",
                &format!("Message accepted for delivery as {queue_id}"),
            ),
            Positive::ChunkReceived { size } => {
                line(250, "2.0.0", &format!("{size} octets received"))
            }
            Positive::Reset => line(250, "2.0.0", "Reset OK"),
            Positive::Noop => line(250, "2.0.0", "OK"),
            Positive::Bye => line(221, "2.0.0", "Bye"),
            Positive::CannotVerify => line(
                252,
                "2.5.0",
                "Cannot verify the address; send the message and delivery will be attempted",
            ),
            Positive::Help => line(
                214,
                "2.0.0",
                "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
            ),
            Positive::ReadyToStartTls => line(220, "2.0.0", "Ready to start TLS"),
            Positive::AuthChallenge(challenge) => format!("334 {challenge}\r\n").into_bytes(),
            Positive::AuthSucceeded => line(235, "2.7.0", "Authentication successful"),
        }
    }
}

/// A refusal's bytes, CRLF included.
pub(crate) fn encode_refusal(reply: &Reply) -> Vec<u8> {
    format!("{reply}\r\n").into_bytes()
}

fn multiline(code: u16, lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, text) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.extend_from_slice(format!("{code}{sep}{text}\r\n").as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_is_multiline_with_a_final_space() {
        let ehlo = Positive::Ehlo {
            hostname: "mx.example".into(),
            client: "c.example".into(),
            capabilities: vec!["PIPELINING".into(), "SIZE 10".into()],
        };
        assert_eq!(
            ehlo.encode(),
            b"250-mx.example greets c.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
        assert_eq!(
            encode_refusal(&Reply::new(
                530,
                (5, 7, 0),
                "Must issue a STARTTLS command first"
            )),
            b"530 5.7.0 Must issue a STARTTLS command first\r\n"
        );
    }
}
