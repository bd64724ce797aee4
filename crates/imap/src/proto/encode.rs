//! Response encoding: IMAP strings (atom, quoted, literal), `NIL`, flag
//! lists, INTERNALDATE and compact sequence sets.

use std::fmt::Write as _;

use store::{Flags, MessageEntry};

/// Appends `s` as an IMAP string: quoted when it is short 7-bit text without
/// CR or LF, a literal otherwise (RFC 9051 §4.3).
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() < 1024
        && s.iter()
            .all(|&b| b.is_ascii() && b != b'\r' && b != b'\n' && b != 0);
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Appends `s` as a synchronising-style literal `{n}\r\n…` (servers always
/// send plain literals).
pub(crate) fn literal(out: &mut Vec<u8>, s: &[u8]) {
    let _ = write!(Bytes(out), "{{{}}}\r\n", s.len());
    out.extend_from_slice(s);
}

/// Appends `NIL` or the string.
pub(crate) fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends `s` as an atom when it is one, as a string otherwise (mailbox
/// names in LIST and STATUS).
pub(crate) fn astring(out: &mut Vec<u8>, s: &str) {
    let atom = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){ %*\"\\]".contains(&b));
    if atom {
        out.extend_from_slice(s.as_bytes());
    } else {
        string(out, s.as_bytes());
    }
}

/// The flag list of a message, `(\Seen $Forwarded)`, with `\Recent` when
/// this session is the first to see it.
pub(crate) fn flag_list(entry: &MessageEntry, recent: bool) -> String {
    let mut parts: Vec<&str> = Flags::ALL
        .iter()
        .filter(|(f, _)| entry.flags.contains(*f))
        .map(|(_, name)| *name)
        .collect();
    if recent {
        parts.push("\\Recent");
    }
    parts.extend(entry.keywords.iter().map(String::as_str));
    format!("({})", parts.join(" "))
}

/// INTERNALDATE in IMAP's `"dd-Mon-yyyy hh:mm:ss +0000"` form (UTC).
pub(crate) fn internal_date(seconds: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} +0000\"",
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic
/// Gregorian (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A compact sequence set (`1:3,7,9:10`) of ascending numbers.
pub(crate) fn sequence_set(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}:{end}");
        }
        i += 1;
    }
    out
}

/// `fmt::Write` into a byte buffer.
pub(crate) struct Bytes<'a>(pub(crate) &'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal() {
        let mut out = Vec::new();
        string(&mut out, b"a \"b\" \\c");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\c\"");
        out.clear();
        string(&mut out, "caf\u{e9}".as_bytes());
        assert_eq!(out, "{5}\r\ncaf\u{e9}".as_bytes());
        out.clear();
        astring(&mut out, "INBOX");
        astring(&mut out, " a b");
        assert_eq!(out, b"INBOX\" a b\"");
    }

    #[test]
    fn dates_are_imap_dates() {
        assert_eq!(internal_date(0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(
            internal_date(1_700_000_000),
            "\"14-Nov-2023 22:13:20 +0000\""
        );
        for days in [-1000, 0, 19_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn sequence_sets_are_compact() {
        assert_eq!(sequence_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(sequence_set(&[]), "");
    }
}
