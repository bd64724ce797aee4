//! Building `forename.surname` local parts for abbreviation domains such as
//! `safeguarder.cjsm.net`. The rule: lower case; accented Latin letters lose
//! their accents (`Siân` → `sian`, `Dŵr` → `dwr`); apostrophes vanish
//! (`O'Brien` → `obrien`); runs of spaces become one hyphen (`Mary Ann` →
//! `mary-ann`); hyphens stay; any other character is dropped. When the result
//! is taken, `2`, `3`, … is appended (`jimmy.jones2`).

use crate::address::{LocalPart, MAX_LOCAL_PART, ParseOptions};

/// Why no local part can be built from a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The forename has no usable letters.
    #[error("the forename {0:?} has no letters that can be used in an address")]
    EmptyForename(String),
    /// The surname has no usable letters.
    #[error("the surname {0:?} has no letters that can be used in an address")]
    EmptySurname(String),
    /// The result is longer than 64 octets.
    #[error("the name gives an address part of {len} octets; at most 64 are allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Every numbered variant up to the bound is taken.
    #[error("every address for {0:?} up to number 9999 is taken")]
    Exhausted(String),
}

/// Builds the first free `forename.surname` local part; `is_taken` reports
/// whether a candidate is already used in the domain.
///
/// # Errors
///
/// [`NameError`] when a name has no usable letters, the result is too long,
/// or all numbered variants are taken.
pub fn abbreviation_local_part(
    forename: &str,
    surname: &str,
    mut is_taken: impl FnMut(&LocalPart) -> bool,
) -> Result<LocalPart, NameError> {
    let first = clean(forename);
    if first.is_empty() {
        return Err(NameError::EmptyForename(forename.to_owned()));
    }
    let last = clean(surname);
    if last.is_empty() {
        return Err(NameError::EmptySurname(surname.to_owned()));
    }
    let base = format!("{first}.{last}");
    for n in 1..=9999u32 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        if candidate.len() > MAX_LOCAL_PART {
            return Err(NameError::TooLong {
                len: candidate.len(),
            });
        }
        let local = LocalPart::parse(&candidate, ParseOptions::default())
            .expect("cleaned names are dot-atoms");
        if !is_taken(&local) {
            return Ok(local);
        }
    }
    Err(NameError::Exhausted(base))
}

/// Lower-cases and reduces one name to `[a-z0-9-]`, hyphens only inside.
fn clean(name: &str) -> String {
    let mut out = String::new();
    let mut pending_hyphen = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{02bc}') {
            continue;
        }
        if c.is_whitespace() || c == '-' {
            pending_hyphen = !out.is_empty();
            continue;
        }
        let folded = fold(c);
        if folded.is_empty() {
            continue;
        }
        if pending_hyphen {
            out.push('-');
            pending_hyphen = false;
        }
        out.push_str(folded);
    }
    out
}

/// ASCII for a lower-case letter or digit, dropping accents; "" otherwise.
fn fold(c: char) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("æ", "ae"),
        ("çćĉċč", "c"),
        ("ďđð", "d"),
        ("èéêëēĕėęě", "e"),
        ("ĝğġģ", "g"),
        ("ĥħ", "h"),
        ("ìíîïĩīĭįı", "i"),
        ("ĵ", "j"),
        ("ķ", "k"),
        ("ĺļľŀł", "l"),
        ("ñńņňŉ", "n"),
        ("òóôõöøōŏő", "o"),
        ("œ", "oe"),
        ("ŕŗř", "r"),
        ("śŝşš", "s"),
        ("ß", "ss"),
        ("ţťŧ", "t"),
        ("þ", "th"),
        ("ùúûüũūŭůűų", "u"),
        ("ŵẁẃẅ", "w"),
        ("ýÿŷỳ", "y"),
        ("źżž", "z"),
    ];
    const ASCII: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    if c.is_ascii_alphanumeric() {
        let i = ASCII.find(c).expect("lower-case ASCII alphanumeric");
        return &ASCII[i..=i];
    }
    TABLE
        .iter()
        .find(|(from, _)| from.contains(c))
        .map_or("", |(_, to)| to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_forename_dot_surname() {
        let cases = [
            ("Jimmy", "Jones", "jimmy.jones"),
            ("Mary Ann", "O'Brien", "mary-ann.obrien"),
            ("Siân", "Ap Dafydd", "sian.ap-dafydd"),
            ("Gwenllïan", "Dŵr", "gwenllian.dwr"),
            ("  Anne-Marie ", "Smith\u{2019}s", "anne-marie.smiths"),
            ("José", "Núñez  García", "jose.nunez-garcia"),
            ("Eric", "Brown (Mr.)", "eric.brown-mr"),
        ];
        for (forename, surname, expected) in cases {
            let local = abbreviation_local_part(forename, surname, |_| false).unwrap();
            assert_eq!(local.as_str(), expected, "{forename} {surname}");
        }
    }

    #[test]
    fn adds_a_number_on_a_clash() {
        let taken = ["jimmy.jones", "jimmy.jones2"];
        let local =
            abbreviation_local_part("Jimmy", "Jones", |l| taken.contains(&l.as_str())).unwrap();
        assert_eq!(local.as_str(), "jimmy.jones3");
    }

    #[test]
    fn refuses_unusable_names() {
        assert_eq!(
            abbreviation_local_part("'", "Jones", |_| false),
            Err(NameError::EmptyForename("'".into()))
        );
        assert_eq!(
            abbreviation_local_part("Jo", "山田", |_| false),
            Err(NameError::EmptySurname("山田".into()))
        );
        assert_eq!(
            abbreviation_local_part(&"a".repeat(40), &"b".repeat(40), |_| false),
            Err(NameError::TooLong { len: 81 })
        );
        assert_eq!(
            abbreviation_local_part("a", "b", |_| true),
            Err(NameError::Exhausted("a.b".into()))
        );
    }
}
