//! The marking grammar over [`Tokens`]: which token runs are a marking, in
//! a header value and in a subject line. The grammar itself is written out
//! in the module doc of `classification`.

use std::borrow::Cow;

use super::Marking;
use super::tokens::Tokens;

/// A classification phrase, as letters with the word breaks left out.
struct Phrase {
    letters: &'static [u8],
    marking: Marking,
    /// Counts at the head of a subject in any case and with any separator
    /// after it.
    any_case_at_head: bool,
    /// So unlike any English text that it counts when run into the next
    /// word (`TOPSECRETPLANS`), and anywhere in a subject when written in
    /// upper case.
    unmistakable: bool,
}

const PHRASES: [Phrase; 5] = [
    Phrase {
        letters: b"TOPSECRET",
        marking: Marking::TopSecret,
        any_case_at_head: true,
        unmistakable: true,
    },
    Phrase {
        letters: b"SECRET",
        marking: Marking::Secret,
        any_case_at_head: false,
        unmistakable: false,
    },
    Phrase {
        letters: b"OFFICIALSENSITIVE",
        marking: Marking::OfficialSensitive,
        any_case_at_head: true,
        unmistakable: true,
    },
    Phrase {
        letters: b"RESTRICTED",
        marking: Marking::OfficialSensitive,
        any_case_at_head: true,
        unmistakable: false,
    },
    Phrase {
        letters: b"OFFICIAL",
        marking: Marking::Official,
        any_case_at_head: false,
        unmistakable: false,
    },
];

/// Words that may stand before a phrase: `UK SECRET`, `NATO SECRET`,
/// `COSMIC TOP SECRET`, `EU RESTRICTED`. At most two are read.
const QUALIFIERS: [&[u8]; 5] = [b"UK", b"NATO", b"COSMIC", b"EU", b"UE"];

/// Caveats and descriptors that may follow a phrase. A strong one makes a
/// mixed-case `Secret` a marking on its own (`Secret UK eyes only`).
const CAVEATS: [(&[u8], bool); 22] = [
    (b"UKEYESONLY", true),
    (b"EYESONLY", true),
    (b"UKEO", true),
    (b"NOFORN", true),
    (b"ORCON", true),
    (b"ATOMAL", true),
    (b"STRAP", true),
    (b"CODEWORD", true),
    (b"RELTO", true),
    (b"UK", false),
    (b"EYES", false),
    (b"ONLY", false),
    (b"PERSONAL", false),
    (b"COMMERCIAL", false),
    (b"LOCSEN", false),
    (b"SENSITIVE", false),
    (b"NATO", false),
    (b"EU", false),
    (b"1", false),
    (b"2", false),
    (b"3", false),
    (b"REL", false),
];

/// How many caveats after a phrase are read.
const MAX_CAVEATS: usize = 8;

/// Reply, forward and mail-system prefixes stripped from a subject when a
/// colon follows them: English, German (`AW`, `WG`), Scandinavian (`SV`,
/// `VS`, `VB`), French (`TR`), Spanish (`RV`), Dutch (`ANTW`, `DOORST`),
/// Polish (`ODP`, `PD`), Portuguese (`RES`, `ENC`), Finnish (`VL`), Turkish
/// (`YNT`, `ILT`), Italian (`R`, `I`), and common gateway tags.
const PREFIXES: [&[u8]; 31] = [
    b"RE",
    b"FW",
    b"FWD",
    b"AW",
    b"WG",
    b"SV",
    b"VS",
    b"VB",
    b"TR",
    b"RV",
    b"ANTW",
    b"DOORST",
    b"ODP",
    b"PD",
    b"RES",
    b"ENC",
    b"VL",
    b"YNT",
    b"ILT",
    b"R",
    b"I",
    b"EXTERNAL",
    b"EXT",
    b"CAUTION",
    b"WARNING",
    b"URGENT",
    b"IMPORTANT",
    b"SPAM",
    b"FYI",
    b"ENCRYPT",
    b"SECURE",
];

/// A marking read at one token.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    /// The marking.
    pub(super) marking: Marking,
    /// The token after the marking and its caveats.
    next: usize,
    /// Qualifiers and phrase are written in upper case.
    upper: bool,
    /// See [`Phrase::any_case_at_head`].
    any_case_at_head: bool,
    /// See [`Phrase::unmistakable`].
    unmistakable: bool,
    /// The phrase, or its caveats, are followed by punctuation that sets a
    /// marking off ([`super::tokens::Separator::sets_off`]) or by the end.
    set_off: bool,
    /// A strong caveat follows.
    strong_caveat: bool,
}

/// The highest marking that starts at token `i`, if any. Constant work per
/// call: phrases, qualifiers and caveats are few and short.
pub(super) fn marking_at(tokens: &Tokens, i: usize) -> Option<Found> {
    let start = tokens.start(i);
    let mut best: Option<Found> = None;
    let mut pos = Some(start);
    for _ in 0..=2 {
        let Some(at) = pos else { break };
        for phrase in &PHRASES {
            if let Some(found) = tokens
                .match_word(at, phrase.letters)
                .and_then(|end| finish(tokens, start, end, phrase))
                && best.is_none_or(|b| found.marking > b.marking)
            {
                best = Some(found);
            }
        }
        pos = QUALIFIERS.iter().find_map(|q| tokens.match_word(at, q));
    }
    best
}

/// Reads the caveats after a phrase that ends at letter `end`, and decides
/// whether the phrase ends where a word may end.
fn finish(tokens: &Tokens, start: usize, end: usize, phrase: &Phrase) -> Option<Found> {
    let set_off_at = |pos: usize| {
        let next = tokens.token_from(pos);
        next == tokens.len() || tokens.separator_before(next).sets_off()
    };
    let at_boundary = tokens.is_boundary(end);
    let mut set_off = at_boundary && set_off_at(end);
    let mut strong_caveat = false;
    let mut chain_end = None;
    let mut pos = end;
    let mut strong = false;
    for _ in 0..MAX_CAVEATS {
        let Some((after, is_strong)) = CAVEATS
            .iter()
            .filter_map(|&(word, is_strong)| Some((tokens.match_word(pos, word)?, is_strong)))
            .max_by_key(|&(after, _)| after)
        else {
            break;
        };
        pos = after;
        strong |= is_strong;
        if tokens.is_boundary(pos) {
            chain_end = Some(pos);
            strong_caveat |= strong;
            set_off |= set_off_at(pos);
        }
    }
    let last = match chain_end {
        Some(last) => last,
        None if at_boundary || phrase.unmistakable => end,
        None => return None,
    };
    Some(Found {
        marking: phrase.marking,
        next: tokens.token_from(last),
        upper: tokens.upper(start, end),
        any_case_at_head: phrase.any_case_at_head,
        unmistakable: phrase.unmistakable,
        set_off,
        strong_caveat,
    })
}

/// The highest marking anywhere in a header value, in any shape.
pub(super) fn header_marking(text: &str) -> Option<Marking> {
    displayed(text)
        .filter_map(|text| header_marking_of(&text))
        .max()
}

fn header_marking_of(text: &str) -> Option<Marking> {
    let tokens = Tokens::new(text);
    (0..tokens.len())
        .filter_map(|i| marking_at(&tokens, i))
        .map(|found| found.marking)
        .max()
}

/// The highest marking a subject line carries (see the module doc of
/// `classification` for the rules).
pub(super) fn subject_marking(text: &str) -> Option<Marking> {
    displayed(text)
        .filter_map(|text| subject_marking_of(&text))
        .max()
}

/// The ways `text` may be displayed. Bidirectional controls and
/// right-to-left letters can show `\u{202E}TERCES POT` as `TOP SECRET`, or
/// put words in another order, so such text is also read reversed, letter
/// by letter and word by word.
fn displayed(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let reversed = text.chars().any(turns_text).then(|| {
        let letters: String = text.chars().rev().collect();
        // Runs of letters and digits, and runs of anything else, reversed.
        let mut runs: Vec<&str> = Vec::new();
        let mut start = 0;
        let mut in_word = None;
        for (at, c) in text.char_indices() {
            let word = c.is_alphanumeric();
            if in_word.is_some_and(|w| w != word) {
                runs.push(&text[start..at]);
                start = at;
            }
            in_word = Some(word);
        }
        runs.push(&text[start..]);
        let words: String = runs.into_iter().rev().collect();
        [Cow::Owned(letters), Cow::Owned(words)]
    });
    std::iter::once(Cow::Borrowed(text)).chain(reversed.into_iter().flatten())
}

/// Bidirectional controls and right-to-left letters (Hebrew, Arabic,
/// Syriac, Thaana, N'Ko and their presentation forms and supplements).
fn turns_text(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{0590}'..='\u{08FF}'
            | '\u{FB1D}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFC}'
            | '\u{10800}'..='\u{10FFF}'
            | '\u{1E800}'..='\u{1EFFF}'
    )
}

fn subject_marking_of(text: &str) -> Option<Marking> {
    let tokens = Tokens::new(text);
    let n = tokens.len();
    let mut best = None;
    // The head: prefixes, tags and markings, in any order.
    let mut i = 0;
    while i < n {
        if tokens.separator_before(i).opens {
            let close = (i + 1..n)
                .find(|&j| tokens.separator_before(j).closes)
                .unwrap_or(n);
            let mut head = i;
            while head < close
                && let Some(next) = prefix_at(&tokens, head)
            {
                head = next;
            }
            if head < close
                && let Some(found) = marking_at(&tokens, head)
            {
                best = best.max(Some(found.marking));
            }
            i = close;
            continue;
        }
        if let Some(next) = prefix_at(&tokens, i) {
            i = next;
            continue;
        }
        match marking_at(&tokens, i) {
            Some(found)
                if found.any_case_at_head
                    || found.upper
                    || found.set_off
                    || found.strong_caveat =>
            {
                best = best.max(Some(found.marking));
                i = found.next.max(i + 1);
            }
            _ => break,
        }
    }
    // The rest: upper-case markings that stand out.
    for i in 0..n {
        if let Some(found) = marking_at(&tokens, i)
            && found.upper
            && (found.unmistakable
                || found.set_off
                || found.strong_caveat
                || tokens.separator_before(i).sets_off())
        {
            best = best.max(Some(found.marking));
        }
    }
    best
}

/// The token after a reply, forward or gateway prefix at token `i`:
/// `Re:`, `AW:`, `Re[2]:`, `Re^3:`, `EXTERNAL:`.
fn prefix_at(tokens: &Tokens, i: usize) -> Option<usize> {
    if !PREFIXES.contains(&tokens.token(i)) {
        return None;
    }
    if tokens.separator_before(i + 1).colon {
        return Some(i + 1);
    }
    let count = tokens.token(i + 1);
    (!count.is_empty()
        && count.len() <= 3
        && count.iter().all(|&c| c.is_ascii_digit() || c == b'O')
        && tokens.separator_before(i + 2).colon)
        .then_some(i + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        use Marking::*;
        let cases: [(&str, Option<Marking>); 35] = [
            ("TOP SECRET//UK EYES ONLY", Some(TopSecret)),
            ("Fwd: TOP SECRET//UK EYES ONLY", Some(TopSecret)),
            ("TOP-SECRET stuff", Some(TopSecret)),
            ("top secret recipe", Some(TopSecret)),
            ("TOPSECRETPLANS", Some(TopSecret)),
            ("SECRET UK EYES ONLY", Some(Secret)),
            ("Secret UK eyes only", Some(Secret)),
            ("SECRETUKEYESONLY plans", Some(Secret)),
            ("SECRET plans", Some(Secret)),
            ("secret: plans", Some(Secret)),
            ("secret", Some(Secret)),
            ("Secret Santa party", None),
            ("Secret Santa: bring gifts", None),
            ("Secretary's report", None),
            ("SECRETARY REPORT", None),
            ("Secrets of the trade", None),
            ("Re: AW: SV: Fwd: FW: TR: SECRET", Some(Secret)),
            ("RE[2]: Re^3: secret//x", Some(Secret)),
            ("[EXTERNAL] [secret] plans", Some(Secret)),
            ("[EXTERNAL] Re: (Top Secret) plans", Some(TopSecret)),
            ("EXTERNAL: top secret", Some(TopSecret)),
            ("Minutes - SECRET", Some(Secret)),
            ("Re: the TOP SECRET file", Some(TopSecret)),
            ("Re: our top secret recipe", None),
            ("OFFICIAL: Secret Santa", Some(Official)),
            ("OFFICIAL-SENSITIVE: TOP SECRET annex", Some(TopSecret)),
            ("OFFICIAL-SENSITIVE PERSONAL", Some(OfficialSensitive)),
            ("officialsensitive notes", Some(OfficialSensitive)),
            ("NATO SECRET", Some(Secret)),
            ("COSMIC TOP SECRET", Some(TopSecret)),
            ("Official visit tomorrow", None),
            ("Meeting at 10:30", None),
            ("\u{202E}TERCES POT", Some(TopSecret)),
            ("Re: SECRET\u{200F} \u{200F}TOP", Some(TopSecret)),
            ("שלום Secret Santa", None),
        ];
        for (subject, expected) in cases {
            assert_eq!(subject_marking(subject), expected, "{subject:?}");
        }
    }

    #[test]
    fn headers() {
        use Marking::*;
        for (value, expected) in [
            ("OFFICIAL-SENSITIVE PERSONAL", Some(OfficialSensitive)),
            ("uk secret", Some(Secret)),
            ("Company-Confidential", None),
            ("Personal", None),
            ("SECRETARIAT", None),
            ("OFFICIAL; TOP-SECRET", Some(TopSecret)),
        ] {
            assert_eq!(header_marking(value), expected, "{value:?}");
        }
    }
}
