//! Collects a message body (from `DATA` after unstuffing, or from `BDAT`
//! chunks) and enforces the message rules while it arrives: the size limit
//! (RFC 1870; counted on every octet, the bytes beyond the limit are read
//! but not kept, then refused with `552 5.3.4`) and canonical line ends.
//!
//! **Bare CR and bare LF policy: refuse.** A message containing a CR not
//! followed by LF, an LF not preceded by CR, or a NUL is refused after its
//! end with `554 5.6.0`, whether it came by `DATA` or `BDAT`. Ward
//! does not normalise: refusing means no downstream server ever sees a line
//! end it could interpret differently (SMTP smuggling), and the sender learns
//! their software is at fault.

use crate::error::ContentError;

/// A message body being received.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    data: Vec<u8>,
    size: u64,
    limit: u64,
    last_was_cr: bool,
    problem: Option<ContentError>,
    abandoned: bool,
}

impl Body {
    /// An empty body that keeps at most `limit` octets.
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            data: Vec::new(),
            size: 0,
            limit,
            last_was_cr: false,
            problem: None,
            abandoned: false,
        }
    }

    /// Stops keeping the data (the driver could not get memory for it): the
    /// rest is counted and discarded, and the message is refused at its end.
    pub(crate) fn abandon(&mut self) {
        self.abandoned = true;
        self.data = Vec::new();
    }

    /// Whether [`Body::abandon`] was called.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned
    }

    /// Appends received octets.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.problem.is_none() {
            for &b in bytes {
                let problem = match b {
                    0 => Some(ContentError::Nul),
                    b'\n' if !self.last_was_cr => Some(ContentError::BareLineFeed),
                    b'\n' => None,
                    _ if self.last_was_cr => Some(ContentError::BareCarriageReturn),
                    _ => None,
                };
                if problem.is_some() {
                    self.problem = problem;
                    break;
                }
                self.last_was_cr = b == b'\r';
            }
        }
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size <= self.limit && !self.abandoned {
            self.data.extend_from_slice(bytes);
        } else {
            // Over the limit: keep counting, stop keeping.
            self.data = Vec::new();
        }
    }

    /// The data, the size received and the first content problem found.
    pub(crate) fn into_parts(self) -> (Vec<u8>, u64, Option<ContentError>) {
        let problem = match self.problem {
            None if self.last_was_cr => Some(ContentError::BareCarriageReturn),
            problem => problem,
        };
        (self.data, self.size, problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bare_line_ends_and_nul_across_pushes() {
        let cases: &[(&[&[u8]], Option<ContentError>)] = &[
            (&[b"a\r\nb\r\n"], None),
            (&[b"a\r", b"\nb\r\n"], None),
            (&[b"a\nb"], Some(ContentError::BareLineFeed)),
            (&[b"\n"], Some(ContentError::BareLineFeed)),
            (&[b"a\rb"], Some(ContentError::BareCarriageReturn)),
            (&[b"a\r"], Some(ContentError::BareCarriageReturn)),
            (&[b"a\r", b"b"], Some(ContentError::BareCarriageReturn)),
            (&[b"a\r\r\n"], Some(ContentError::BareCarriageReturn)),
            (&[b"a\0\r\n"], Some(ContentError::Nul)),
        ];
        for (pieces, expected) in cases {
            let mut body = Body::new(100);
            for p in *pieces {
                body.push(p);
            }
            assert_eq!(body.into_parts().2, *expected, "{pieces:?}");
        }
    }

    #[test]
    fn counts_past_the_limit_without_keeping() {
        let mut body = Body::new(4);
        body.push(b"abc");
        body.push(b"de");
        body.push(b"f");
        let (data, size, _) = body.into_parts();
        assert_eq!((data.len(), size), (0, 6));
    }
}
