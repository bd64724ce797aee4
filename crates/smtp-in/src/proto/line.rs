//! Command-line framing. A command line ends in CRLF and is at most
//! `max_line` octets including the CRLF (RFC 5321 §4.5.3.1.4 says 512;
//! Ward allows more for ESMTP parameters). A longer line is discarded whole,
//! up to its LF, and reported once, so its tail is never read as a command.
//! A line ended by a bare LF, or holding a CR or a NUL, is refused: Ward
//! reads commands only in their canonical form.

/// Why a line is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    /// Longer than the limit; already discarded.
    TooLong,
    /// Contains a NUL octet.
    Nul,
    /// Ends in a bare LF, or contains a CR that is not part of the CRLF.
    BareLineEnd,
}

/// Splits the input into command lines.
#[derive(Debug, Clone)]
pub(crate) struct LineFramer {
    max_line: usize,
    /// Inside an oversized line: drop everything up to its LF.
    discarding: bool,
}

impl LineFramer {
    /// A framer for lines of at most `max_line` octets including CRLF.
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            max_line: max_line.max(3),
            discarding: false,
        }
    }

    /// Forgets a partly discarded line (after STARTTLS).
    pub(crate) fn reset(&mut self) {
        self.discarding = false;
    }

    /// Takes the next complete line, without its CRLF, from the front of
    /// `input`. `None` means more input is needed.
    pub(crate) fn next_line(&mut self, input: &mut Vec<u8>) -> Option<Result<Vec<u8>, LineError>> {
        let Some(lf) = input.iter().position(|&b| b == b'\n') else {
            if self.discarding || input.len() >= self.max_line {
                // No LF within the limit: the line is too long whatever
                // follows. Drop what we have and keep dropping to its end.
                self.discarding = true;
                input.clear();
            }
            return None;
        };
        let mut line: Vec<u8> = input.drain(..=lf).collect();
        if std::mem::take(&mut self.discarding) || line.len() > self.max_line {
            return Some(Err(LineError::TooLong));
        }
        if line.contains(&0) {
            return Some(Err(LineError::Nul));
        }
        line.pop();
        if line.pop() != Some(b'\r') || line.contains(&b'\r') {
            return Some(Err(LineError::BareLineEnd));
        }
        Some(Ok(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(max: usize, pieces: &[&[u8]]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut framer = LineFramer::new(max);
        let mut input = Vec::new();
        let mut out = Vec::new();
        for piece in pieces {
            input.extend_from_slice(piece);
            while let Some(line) = framer.next_line(&mut input) {
                out.push(line);
            }
        }
        out
    }

    /// Feeds `input` whole and split at every byte boundary; all must agree.
    fn frame_all_splits(max: usize, input: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let whole = frame(max, &[input]);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(frame(max, &[a, b]), whole, "split at {i}");
        }
        whole
    }

    #[test]
    fn table() {
        use LineError::*;
        type Case<'a> = (&'a [u8], Vec<Result<&'a [u8], LineError>>);
        let cases: &[Case<'_>] = &[
            (b"NOOP\r\n", vec![Ok(b"NOOP")]),
            (b"NOOP\r\nQUIT\r\n", vec![Ok(b"NOOP"), Ok(b"QUIT")]),
            (b"NOOP", vec![]),
            (b"NOOP\n", vec![Err(BareLineEnd)]),
            (b"NO\rOP\r\n", vec![Err(BareLineEnd)]),
            (b"NO\0OP\r\nQUIT\r\n", vec![Err(Nul), Ok(b"QUIT")]),
            (b"0123456789\r\nQUIT\r\n", vec![Err(TooLong), Ok(b"QUIT")]),
            (b"01234567\r\n", vec![Ok(b"01234567")]),
            (b"012345678\r\n", vec![Err(TooLong)]),
            (
                b"0123456789012345678901234\r\nQUIT\r\n",
                vec![Err(TooLong), Ok(b"QUIT")],
            ),
        ];
        for (input, expected) in cases {
            let expected: Vec<_> = expected.iter().map(|r| r.map(<[u8]>::to_vec)).collect();
            assert_eq!(frame_all_splits(10, input), expected, "{input:?}");
        }
    }
}
