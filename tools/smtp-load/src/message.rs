//! The test message: a few headers (a unique `Message-ID` each time) and a
//! plain-text body of printable lines, sized so that headers plus body come
//! to the requested number of octets on the wire (before the final dot).
//!
//! No body line starts with a dot, so no dot-stuffing is needed, and every
//! line is far below the 998-octet limit of RFC 5322.

/// Length of a full body line, CRLF included.
const LINE: usize = 78;

/// The parts of a message shared by every transaction.
pub(crate) struct Template {
    from: String,
    to: String,
    /// The body, ready for the wire (ends in CRLF).
    body: Vec<u8>,
}

impl Template {
    /// A message from `from` to `to` of about `size` octets in all (at
    /// least its headers and one body line).
    pub(crate) fn new(from: &str, to: &[String], size: usize) -> Template {
        let mut template = Template {
            from: from.to_owned(),
            to: to.join(", "),
            body: Vec::new(),
        };
        let headers = template.headers(0, 0).len();
        let want = size.saturating_sub(headers).max(2);
        let mut body = Vec::with_capacity(want);
        let mut n = 0usize;
        while body.len() < want {
            let left = want - body.len();
            let len = left.min(LINE);
            if len <= 2 {
                body.extend_from_slice(&b"\r\n"[..len.max(2)]);
                break;
            }
            // A line of letters, varied so compression does not flatter it.
            for i in 0..len - 2 {
                body.push(b'a' + ((n * 7 + i * 13) % 26) as u8);
            }
            body.extend_from_slice(b"\r\n");
            n += 1;
        }
        template.body = body;
        template
    }

    /// The header block (ending with the empty line) for message `index`
    /// of session `session`.
    pub(crate) fn headers(&self, session: usize, index: u64) -> Vec<u8> {
        format!(
            "From: <{from}>\r\nTo: {to}\r\nSubject: smtp-load message {session:04}-{index:08}\r\n\
             Message-ID: <smtp-load.{session:04}.{index:08}@load.invalid>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
            from = self.from,
            to = self
                .to
                .split(", ")
                .map(|a| format!("<{a}>"))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .into_bytes()
    }

    /// The body, shared by every message.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_met_and_body_is_safe() {
        for size in [0, 100, 400, 5 * 1024, 100_000] {
            let t = Template::new("a@b.example", &["c@d.example".to_owned()], size);
            let total = t.headers(0, 0).len() + t.body().len();
            assert!(total >= size, "{size}: {total}");
            assert!(
                total <= size.max(t.headers(0, 0).len() + 2) + 2,
                "{size}: {total}"
            );
            assert!(t.body().ends_with(b"\r\n"));
            for line in t.body().split(|&b| b == b'\n') {
                assert!(!line.starts_with(b"."));
                assert!(line.len() < 998);
            }
        }
    }
}
