//! `DATA` body framing (RFC 5321 §4.1.1.4, §4.5.2): the body ends at
//! `CRLF . CRLF` and nowhere else, and a line's leading dot is removed
//! (dot-unstuffing).
//!
//! Only a CRLF starts a line. A bare LF or a bare CR is ordinary data here,
//! so `<LF>.<LF>`, `<CR>.<CR>` and `<CRLF>.<LF>` never end the message: this
//! closes the SMTP smuggling attack, where a server that ends a message at a
//! bare line end and one that does not disagree about where the next command
//! starts. Messages containing bare CR or LF are then refused as a whole
//! after the real terminator (see [`super::body`]), so Ward never stores or
//! relays them.

use super::body::Body;

/// Where in the line structure the receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// At the start of a line (after CRLF, or at the start of the body).
    LineStart,
    /// Inside a line.
    Middle,
    /// After a CR inside a line; not yet emitted.
    Cr,
    /// After a dot at the start of a line; not yet emitted.
    Dot,
    /// After `.` CR at the start of a line: one LF ends the body.
    DotCr,
}

/// Receives one `DATA` body.
#[derive(Debug, Clone)]
pub(crate) struct DotReceiver {
    position: Position,
}

impl DotReceiver {
    pub(crate) fn new() -> Self {
        Self {
            position: Position::LineStart,
        }
    }

    /// Consumes body bytes from `input` into `body`. Returns how many bytes
    /// were consumed and whether the terminator was among them; bytes after
    /// the terminator are left alone (they are the next command).
    pub(crate) fn receive(&mut self, input: &[u8], body: &mut Body) -> (usize, bool) {
        let mut out = Vec::with_capacity(input.len());
        for (i, &b) in input.iter().enumerate() {
            if self.step(b, &mut out) {
                body.push(&out);
                return (i + 1, true);
            }
        }
        body.push(&out);
        (input.len(), false)
    }

    /// One byte; true when it ends the body.
    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        use Position::*;
        self.position = match (self.position, b) {
            (LineStart, b'.') => Dot,
            (LineStart | Middle, b'\r') => Cr,
            (LineStart | Middle, _) => {
                out.push(b);
                Middle
            }
            (Cr, b'\n') => {
                out.extend_from_slice(b"\r\n");
                LineStart
            }
            (Cr, b'\r') => {
                out.push(b'\r');
                Cr
            }
            (Cr, _) => {
                out.extend_from_slice(&[b'\r', b]);
                Middle
            }
            // Dot-unstuffing: the leading dot of a line is dropped.
            (Dot, b'\r') => DotCr,
            (Dot, _) => {
                out.push(b);
                Middle
            }
            (DotCr, b'\n') => return true,
            // `.` CR then something else: the dot was stuffing, the CR is
            // bare data, and `b` follows it.
            (DotCr, _) => {
                self.position = Cr;
                return self.step(b, out);
            }
        };
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `input` through a receiver, whole and split at every boundary,
    /// and returns (body, bytes consumed, finished).
    fn receive(input: &[u8]) -> (Vec<u8>, usize, bool) {
        let run = |pieces: &[&[u8]]| {
            let mut rx = DotReceiver::new();
            let mut body = Body::new(u64::MAX);
            let mut consumed = 0;
            for piece in pieces {
                let (n, done) = rx.receive(piece, &mut body);
                consumed += n;
                if done {
                    return (body.into_parts().0, consumed, true);
                }
            }
            (body.into_parts().0, consumed, false)
        };
        let whole = run(&[input]);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(&[a, b]), whole, "split at {i} of {input:?}");
        }
        whole
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (
                b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
                b"Subject: x\r\n\r\nhi\r\n",
                true,
            ),
            (b".\r\n", b"", true),
            (b"a\r\n..b\r\n.\r\n", b"a\r\n.b\r\n", true),
            (b"a\r\n.b\r\n.\r\n", b"a\r\nb\r\n", true),
            (b"a\r\n...\r\n.\r\n", b"a\r\n..\r\n", true),
            // Smuggling attempts: none of these ends the body.
            (
                b"a\n.\nMAIL FROM:<x@y>\n",
                b"a\n.\nMAIL FROM:<x@y>\n",
                false,
            ),
            (b"a\r.\rMAIL", b"a\r.\rMAIL", false),
            (b"a\r\n.\nMAIL", b"a\r\n\nMAIL", false),
            (b"a\n.\r\nMAIL", b"a\n.\r\nMAIL", false),
            (b"a\r\n.\rX", b"a\r\n\rX", false),
            (b"a\r\r\n.\r\n", b"a\r\r\n", true),
        ];
        for (input, body, done) in cases {
            let (got, consumed, finished) = receive(input);
            assert_eq!((got.as_slice(), finished), (*body, *done), "{input:?}");
            if *done {
                assert!(input[..consumed].ends_with(b"\r\n.\r\n") || consumed == 3);
            }
        }
    }
}
