//! Reading CRLF-terminated command lines with a length limit.
//!
//! Used by sessions between the bytes they hand to a protocol parser. A line
//! longer than the limit is discarded whole, up to its end, so the rest of an
//! oversized line is never read as a new command.

use tokio::io::{AsyncRead, AsyncReadExt};

/// One result of [`LineBuffer::read_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its line ending.
    Complete(Vec<u8>),
    /// The line exceeded the limit; it has been read and thrown away.
    TooLong,
    /// The peer closed the connection.
    Closed,
}

/// Buffered bytes received but not yet consumed as lines.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
    discarding: bool,
}

impl LineBuffer {
    /// A buffer for lines of at most `max` bytes, line ending included.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::with_capacity(512),
            max,
            discarding: false,
        }
    }

    /// Whether bytes beyond the last returned line are waiting.
    pub fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Throws away anything buffered: required after `STARTTLS`, so commands
    /// pipelined in clear text are never executed inside TLS.
    pub fn discard(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }

    /// Reads the next line.
    ///
    /// # Errors
    ///
    /// The stream's I/O error.
    pub async fn read_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<Line> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                if self.discarding {
                    self.discarding = false;
                    return Ok(Line::TooLong);
                }
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Complete(line));
            }
            if self.buf.len() >= self.max {
                self.buf.clear();
                self.discarding = true;
            }
            let mut chunk = [0u8; 4096];
            let want = chunk
                .len()
                .min(self.max.saturating_sub(self.buf.len()).max(1));
            let n = stream.read(&mut chunk[..want]).await?;
            if n == 0 {
                return Ok(Line::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = input;
        let mut buffer = LineBuffer::new(max);
        let mut out = Vec::new();
        loop {
            let line = buffer.read_line(&mut reader).await.unwrap();
            let done = line == Line::Closed;
            out.push(line);
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_crlf_and_lf() {
        let got = lines(b"EHLO a\r\nNOOP\nQUIT\r\n", 64).await;
        assert_eq!(
            got,
            vec![
                Line::Complete(b"EHLO a".to_vec()),
                Line::Complete(b"NOOP".to_vec()),
                Line::Complete(b"QUIT".to_vec()),
                Line::Closed
            ]
        );
    }

    #[tokio::test]
    async fn oversized_line_is_dropped_whole() {
        let mut input = vec![b'A'; 100];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let got = lines(&input, 16).await;
        assert_eq!(
            got,
            vec![
                Line::TooLong,
                Line::Complete(b"NOOP".to_vec()),
                Line::Closed
            ]
        );
    }
}
