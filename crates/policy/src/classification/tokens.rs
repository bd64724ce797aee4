//! Text to tokens: the lexical half of the marking grammar.
//!
//! [`Tokens::new`] turns a subject or header value into runs of upper-case
//! ASCII letters and digits, remembering for each run whether it was
//! written in lower case and which separator characters came before it.
//! On the way every character is normalised, so that what a reader sees as
//! `TOP SECRET` tokenizes as `TOP` `SECRET`:
//!
//! 1. invisible characters are dropped: zero-width space, joiners,
//!    word joiner, byte-order mark, soft hyphen, bidirectional controls,
//!    variation selectors, tag characters and Hangul fillers;
//! 2. compatibility decomposition (NFKD), one character at a time:
//!    fullwidth `ＴＯＰ`, mathematical `𝐓𝐎𝐏`, circled `Ⓣ`, ligatures and
//!    accented letters fall apart into plain letters and combining marks;
//! 3. combining marks are dropped (`Ŝ` reads as `S`), which is also why
//!    their canonical order, the one step of NFKD skipped, does not matter;
//! 4. confusable letters are folded to the Latin letter they look like
//!    (Cyrillic `С`, Greek `Τ`, Armenian `Օ`, Cherokee, Lisu, small
//!    capitals, regional-indicator and negative circled letters, the digit
//!    `0` as `O`), keeping their case; before the decomposition too, since
//!    it turns some look-alikes (Greek lunate sigma `Ϲ`) into others;
//! 5. other letters whose upper case is ASCII (`ı`, `ß`) are upper-cased.
//!
//! Anything else that is not an ASCII letter or digit separates tokens.
//! Matching a word against the tokens ignores where tokens break
//! ([`Tokens::match_word`]), so `TOPSECRET`, `TOP SECRET` and `T.O.P
//! SECRET` are the same letters; the grammar decides where a break is
//! needed.
//!
//! Everything here is a single pass over the text: linear in its length.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// What the characters between two tokens (or before the first, or after
/// the last) contained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Separator {
    /// A colon or semicolon: `SECRET:`.
    pub(super) colon: bool,
    /// A slash, backslash or bar: `SECRET//UK EYES ONLY`.
    pub(super) slash: bool,
    /// A hyphen, dash, underscore or similar rule: `TOP-SECRET`.
    pub(super) dash: bool,
    /// The last bracket in it opens a group: `[`, `(`, `{`, `<`, `【`.
    pub(super) opens: bool,
    /// It closes a group somewhere.
    pub(super) closes: bool,
}

impl Separator {
    /// Punctuation that sets a marking off from the text around it, as
    /// opposed to spaces, commas, full stops and quotes.
    pub(super) fn sets_off(self) -> bool {
        self.colon || self.slash || self.dash || self.opens || self.closes
    }

    fn note(&mut self, c: char) {
        match c {
            ':' | ';' | '\u{2236}' | '\u{A789}' => self.colon = true,
            '/' | '\\' | '|' | '\u{2044}' | '\u{2215}' | '\u{29F8}' | '\u{2223}' => {
                self.slash = true;
            }
            '-'
            | '_'
            | '~'
            | '='
            | '*'
            | '#'
            | '+'
            | '\u{058A}'
            | '\u{2010}'..='\u{2015}'
            | '\u{2043}'
            | '\u{2212}'
            | '\u{2E3A}'
            | '\u{2E3B}'
            | '\u{30FC}' => {
                self.dash = true;
            }
            c if is_opening(c) => self.opens = true,
            c if is_closing(c) => {
                self.closes = true;
                self.opens = false;
            }
            _ => {}
        }
    }
}

fn is_opening(c: char) -> bool {
    matches!(
        c,
        '[' | '('
            | '{'
            | '<'
            | '\u{2329}'
            | '\u{27E6}'
            | '\u{27E8}'
            | '\u{27EA}'
            | '\u{27EC}'
            | '\u{27EE}'
            | '\u{3008}'
            | '\u{300A}'
            | '\u{300C}'
            | '\u{300E}'
            | '\u{3010}'
            | '\u{3014}'
            | '\u{3016}'
            | '\u{3018}'
            | '\u{301A}'
    )
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        ']' | ')'
            | '}'
            | '>'
            | '\u{232A}'
            | '\u{27E7}'
            | '\u{27E9}'
            | '\u{27EB}'
            | '\u{27ED}'
            | '\u{27EF}'
            | '\u{3009}'
            | '\u{300B}'
            | '\u{300D}'
            | '\u{300F}'
            | '\u{3011}'
            | '\u{3015}'
            | '\u{3017}'
            | '\u{3019}'
            | '\u{301B}'
    )
}

/// A text as tokens: their letters end to end, where each starts, and the
/// separators around them.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    /// Upper-case ASCII letters and digits of every token, concatenated.
    letters: Vec<u8>,
    /// For each letter: it was written in lower case.
    lower: Vec<bool>,
    /// Where each token starts in `letters`, ascending.
    starts: Vec<usize>,
    /// `separators[i]` came before token `i`; the last one follows the
    /// last token (so there is always one more separator than tokens).
    separators: Vec<Separator>,
}

impl Tokens {
    /// Normalises and tokenizes `text`.
    pub(super) fn new(text: &str) -> Tokens {
        let mut builder = Builder::default();
        for c in text.chars() {
            if c.is_ascii() {
                builder.char(fold_confusable(c));
            } else if !is_invisible(c) && !is_combining_mark(c) {
                // Each character on its own: marks are dropped, so their
                // canonical order (and buffering them) does not matter.
                decompose_compatible(fold_confusable(c), |d| {
                    if !is_invisible(d) && !is_combining_mark(d) {
                        builder.char(fold_confusable(d));
                    }
                });
            }
        }
        builder.tokens.separators.push(builder.separator);
        builder.tokens
    }

    /// How many tokens there are.
    pub(super) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Where token `i` starts among the letters (the end for `i == len`).
    pub(super) fn start(&self, i: usize) -> usize {
        self.starts.get(i).copied().unwrap_or(self.letters.len())
    }

    /// The letters of token `i`.
    pub(super) fn token(&self, i: usize) -> &[u8] {
        self.letters
            .get(self.start(i)..self.start(i + 1))
            .unwrap_or_default()
    }

    /// The separator before token `i` (after the last token for `i == len`).
    pub(super) fn separator_before(&self, i: usize) -> Separator {
        self.separators.get(i).copied().unwrap_or_default()
    }

    /// The index of the first token that starts at or after letter `pos`:
    /// the token at `pos` when a token starts there, else the one after.
    pub(super) fn token_from(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s < pos)
    }

    /// Whether a token starts at letter `pos`, or `pos` is the end.
    pub(super) fn is_boundary(&self, pos: usize) -> bool {
        pos >= self.letters.len() || self.starts.binary_search(&pos).is_ok()
    }

    /// The end of `word` when the letters from `pos` spell it, whatever
    /// token breaks fall inside it.
    pub(super) fn match_word(&self, pos: usize, word: &[u8]) -> Option<usize> {
        let end = pos.checked_add(word.len())?;
        (self.letters.get(pos..end)? == word).then_some(end)
    }

    /// Whether every letter in `from..to` was written in upper case.
    pub(super) fn upper(&self, from: usize, to: usize) -> bool {
        self.lower
            .get(from..to)
            .is_some_and(|lower| !lower.contains(&true))
    }
}

/// [`Tokens`] under construction.
#[derive(Default)]
struct Builder {
    tokens: Tokens,
    /// The separator since the last token.
    separator: Separator,
    in_token: bool,
}

impl Builder {
    /// Takes one normalised, folded character.
    fn char(&mut self, c: char) {
        if c.is_ascii_alphanumeric() {
            self.letter(c, c.is_ascii_lowercase());
            return;
        }
        if c.is_alphabetic() {
            let upper = c.to_uppercase();
            if upper.clone().all(|u| u.is_ascii_alphanumeric()) {
                for u in upper {
                    self.letter(u, c.is_lowercase());
                }
                return;
            }
        }
        self.in_token = false;
        self.separator.note(c);
    }

    /// `c` is an ASCII letter or digit.
    fn letter(&mut self, c: char, lower: bool) {
        let tokens = &mut self.tokens;
        if !self.in_token {
            tokens.starts.push(tokens.letters.len());
            tokens.separators.push(std::mem::take(&mut self.separator));
            self.in_token = true;
        }
        tokens.letters.push(c.to_ascii_uppercase() as u8);
        tokens.lower.push(lower);
    }
}

/// Characters a reader does not see: zero-width space and joiners, word
/// joiner and invisible operators, byte-order mark, soft hyphen,
/// bidirectional marks and controls, variation selectors, Mongolian
/// separators, Hangul fillers, tag characters, shorthand format controls.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The Latin letter a confusable character looks like, keeping its case;
/// the character itself otherwise. Fullwidth, mathematical and circled
/// forms are not here: NFKD has already turned them into ASCII.
fn fold_confusable(c: char) -> char {
    // Regional indicators 🇦..🇿 and negative circled and squared letters.
    for base in [0x1F1E6_u32, 0x1F150, 0x1F170] {
        if let Some(offset) = u32::from(c).checked_sub(base).filter(|&o| o < 26) {
            return char::from(b'A' + offset as u8);
        }
    }
    match c {
        '0' => 'O',
        // Cyrillic capitals.
        'А' | 'Α' | 'Ꭺ' | 'ꓮ' | 'ᴀ' => 'A',
        'В' | 'Β' | 'ꓐ' | 'ʙ' | 'в' => 'B',
        'С' | 'Ϲ' | 'Ꮯ' | 'ꓚ' | 'ᴄ' => 'C',
        'Ԁ' | 'Ꭰ' | 'ꓓ' | 'ᴅ' => 'D',
        'Е' | 'Ε' | 'Ꭼ' | 'ꓰ' | 'ᴇ' => 'E',
        'ꓝ' | 'ꜰ' => 'F',
        'ꓖ' | 'ɢ' => 'G',
        'Н' | 'Η' | 'Һ' | 'Ꮋ' | 'ꓧ' | 'ʜ' | 'н' => 'H',
        'І' | 'Ι' | 'Ӏ' | 'ꓲ' | 'ɪ' => 'I',
        'Ј' | 'Ϳ' | 'Ꭻ' | 'ꓙ' | 'ᴊ' => 'J',
        'К' | 'Κ' | 'ꓗ' | 'ᴋ' | 'к' | 'κ' | 'ĸ' => 'K',
        'ꓡ' | 'ʟ' => 'L',
        'М' | 'Μ' | 'Ꮇ' | 'ꓟ' | 'ᴍ' | 'м' => 'M',
        'Ν' | 'ꓠ' | 'ɴ' => 'N',
        'О' | 'Ο' | 'Օ' | 'ꓳ' | 'ᴏ' => 'O',
        'Р' | 'Ρ' | 'Ꮲ' | 'ꓑ' | 'ᴘ' => 'P',
        'Ԛ' => 'Q',
        'Ꭱ' | 'Ꮢ' | 'ꓣ' | 'ʀ' => 'R',
        'Ѕ' | 'Տ' | 'Ꮪ' | 'ꓢ' | 'ꜱ' => 'S',
        'Т' | 'Τ' | 'Ꭲ' | 'ꓔ' | 'ᴛ' | 'т' | 'τ' => 'T',
        'ꓴ' | 'ᴜ' => 'U',
        'ꓦ' | 'ᴠ' => 'V',
        'Ԝ' | 'ꓪ' | 'ᴡ' => 'W',
        'Х' | 'Χ' | 'ꓫ' => 'X',
        'У' | 'Υ' | 'Ү' | 'ꓬ' | 'ʏ' => 'Y',
        'Ζ' | 'ꓜ' | 'ᴢ' => 'Z',
        // Lower case look-alikes stay lower case.
        'а' | 'α' => 'a',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' | 'ϳ' => 'j',
        'ӏ' => 'l',
        'ո' => 'n',
        'о' | 'ο' | 'օ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'υ' | 'ս' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'ү' => 'y',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let tokens = Tokens::new(text);
        (0..tokens.len())
            .map(|i| String::from_utf8_lossy(tokens.token(i)).into_owned())
            .collect()
    }

    #[test]
    fn splits_on_any_separator() {
        for text in [
            "TOP SECRET",
            "top-secret",
            "Top_Secret",
            "TOP//SECRET",
            "TOP:SECRET",
            "[TOP]\t(SECRET)",
            "TOP.SECRET",
            "TOP\u{2014}SECRET",
        ] {
            assert_eq!(words(text), ["TOP", "SECRET"], "{text:?}");
        }
    }

    #[test]
    fn folds_look_alikes_and_drops_invisibles() {
        for text in [
            "ТОР SЕСRЕТ",          // Cyrillic Т О Р С Е
            "ΤΟΡ SΕCRΕΤ",          // Greek Τ Ο Ρ Ε
            "ＴＯＰ ＳＥＣＲＥＴ", // fullwidth
            "𝐓𝐎𝐏 𝐒𝐄𝐂𝐑𝐄𝐓",          // mathematical bold
            "ᴛᴏᴘ ꜱᴇᴄʀᴇᴛ",          // small capitals
            "T\u{200B}OP S\u{00AD}EC\u{FEFF}RET",
            "T\u{0301}OP SE\u{0327}CRET",
            "ⓉⓄⓅ ⓈⒺⒸⓇⒺⓉ",
            "🇹🇴🇵 🇸🇪🇨🇷🇪🇹",
            "T0P SECRET",
        ] {
            assert_eq!(words(text), ["TOP", "SECRET"], "{text:?}");
        }
    }

    #[test]
    fn remembers_case_and_separators() {
        let tokens = Tokens::new("Secret: [x]");
        assert!(!tokens.upper(0, 6));
        assert!(tokens.upper(0, 1));
        assert!(tokens.separator_before(1).colon);
        assert!(tokens.separator_before(1).opens);
        assert!(tokens.separator_before(2).closes);
        assert!(!tokens.separator_before(2).opens);
        assert_eq!(tokens.match_word(0, b"SECRETX"), Some(7));
        assert!(tokens.is_boundary(6) && !tokens.is_boundary(3) && tokens.is_boundary(7));
        assert_eq!((tokens.token_from(3), tokens.token_from(6)), (1, 1));
    }
}
