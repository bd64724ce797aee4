//! The classification reader (`policy::read_label`) against its grammar:
//! a regression corpus of every label shape the issue named
//! (`tests/classification/corpus.txt`), property tests that generate label
//! shapes from the grammar, and a linear-time check on 1 MB subjects.

use std::time::{Duration, Instant};

use mail_builder::encoders::base64::base64_encode;
use policy::{Classification, Label, LabelSource, Marking, PolicyError, read_label};
use proptest::prelude::*;
use proptest::sample::select;

/// What `read_label` answered, written as in the corpus.
fn outcome(result: &Result<Label, PolicyError>) -> String {
    match result {
        Ok(label) => format!("{} ({})", label.classification, label.source),
        Err(PolicyError::Classified { marking, found_in }) => {
            format!("refused {marking} ({found_in})")
        }
        Err(other) => format!("error {other}"),
    }
}

/// The corpus escapes: `\t`, `\n` (a new header line), `\u{…}`, `\\`.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push_str("\r\n"),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                let code = u32::from_str_radix(&hex, 16).expect("hex in \\u{…}");
                out.push(char::from_u32(code).expect("a character"));
            }
            other => panic!("unknown escape \\{other:?}"),
        }
    }
    out
}

fn message(headers: &str) -> Vec<u8> {
    let headers = if headers.is_empty() {
        String::new()
    } else {
        format!("{headers}\r\n")
    };
    format!("From: a@x.example\r\n{headers}\r\nBody\r\n").into_bytes()
}

#[test]
fn regression_corpus() {
    let corpus = include_str!("classification/corpus.txt");
    let mut failures = Vec::new();
    let mut count = 0;
    for (number, line) in corpus.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (headers, expected) = line
            .rsplit_once(" => ")
            .unwrap_or_else(|| panic!("line {}: no ` => `", number + 1));
        let got = outcome(&read_label(&message(&unescape(headers))));
        if got != expected {
            failures.push(format!(
                "line {}: {headers}\n  expected {expected}\n  got      {got}",
                number + 1
            ));
        }
        count += 1;
    }
    assert!(count >= 150, "only {count} cases");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A marking the grammar generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    TopSecret,
    Secret,
    OfficialSensitive,
    Restricted,
}

impl Shape {
    fn words(self) -> &'static [&'static str] {
        match self {
            Shape::TopSecret => &["TOP", "SECRET"],
            Shape::Secret => &["SECRET"],
            Shape::OfficialSensitive => &["OFFICIAL", "SENSITIVE"],
            Shape::Restricted => &["RESTRICTED"],
        }
    }
}

/// How the letters are written.
#[derive(Debug, Clone)]
enum Case {
    Upper,
    Lower,
    Mixed(Vec<bool>),
}

/// What follows the marking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    End,
    Colon,
    Dash,
    Slash,
    Space,
}

/// Where the marking is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Subject,
    ClassificationHeader,
    Sensitivity,
    SioLabel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    None,
    Base64,
    Q,
}

/// Look-alikes of the letters the markings use: (upper, lower) pairs.
fn look_alikes(letter: char) -> &'static [(char, char)] {
    match letter {
        'A' => &[('А', 'а'), ('Α', 'α'), ('Ａ', 'ａ')],
        'C' => &[('С', 'с'), ('Ｃ', 'ｃ'), ('Ϲ', 'ϲ'), ('ᴄ', 'ᴄ')],
        'E' => &[('Е', 'е'), ('Ε', 'ε'), ('Ｅ', 'ｅ'), ('𝐄', '𝐞'), ('É', 'é')],
        'F' => &[('Ｆ', 'ｆ'), ('𝐅', '𝐟')],
        'I' => &[('І', 'і'), ('Ι', 'ι'), ('Ｉ', 'ｉ')],
        'L' => &[('Ｌ', 'ｌ'), ('𝐋', '𝐥')],
        'N' => &[('Ν', 'ｎ'), ('Ｎ', 'ｎ')],
        'O' => &[('О', 'о'), ('Ο', 'ο'), ('Ｏ', 'ｏ'), ('Օ', 'օ'), ('0', '0')],
        'P' => &[('Р', 'р'), ('Ρ', 'ρ'), ('Ｐ', 'ｐ')],
        'R' => &[('Ｒ', 'ｒ'), ('ʀ', 'ʀ'), ('𝐑', '𝐫')],
        'S' => &[('Ѕ', 'ѕ'), ('Ｓ', 'ｓ'), ('Ŝ', 'ŝ')],
        'T' => &[('Т', 'т'), ('Τ', 'τ'), ('Ｔ', 'ｔ'), ('ᴛ', 'ᴛ')],
        'V' => &[('Ｖ', 'ｖ'), ('ᴠ', 'ᴠ')],
        _ => &[],
    }
}

const INVISIBLES: [char; 7] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{034F}',
];

/// One generated label shape.
#[derive(Debug, Clone)]
struct Generated {
    shape: Shape,
    prefixes: Vec<&'static str>,
    qualifier: Option<&'static str>,
    separators: Vec<&'static str>,
    case: Case,
    look_alikes: Vec<Option<usize>>,
    invisibles: Vec<(usize, usize)>,
    caveat: Option<(&'static str, &'static str)>,
    brackets: Option<(char, char)>,
    tail: Tail,
    place: Place,
    encoding: Encoding,
}

impl Generated {
    /// The marking text, from qualifier to tail.
    fn label(&self) -> String {
        let mut words: Vec<&str> = self.qualifier.into_iter().collect();
        words.extend(self.shape.words());
        let mut text = String::new();
        let mut letter = 0;
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                text.push_str(self.separators[(i - 1) % self.separators.len()]);
            }
            for c in word.chars() {
                let lower = match &self.case {
                    Case::Upper => false,
                    Case::Lower => true,
                    Case::Mixed(bits) => bits[letter % bits.len()],
                };
                let alikes = look_alikes(c);
                let pick = self.look_alikes[letter % self.look_alikes.len()];
                let written = match pick.filter(|_| !alikes.is_empty()) {
                    Some(n) => {
                        let (upper, low) = alikes[n % alikes.len()];
                        if lower { low } else { upper }
                    }
                    None if lower => c.to_ascii_lowercase(),
                    None => c,
                };
                text.push(written);
                letter += 1;
            }
        }
        // Invisible characters anywhere inside the marking.
        let mut chars: Vec<char> = text.chars().collect();
        for &(at, which) in &self.invisibles {
            chars.insert(at % (chars.len() + 1), INVISIBLES[which % INVISIBLES.len()]);
        }
        let mut text: String = chars.into_iter().collect();
        if let Some((separator, caveat)) = self.caveat {
            text.push_str(separator);
            text.push_str(caveat);
        }
        if let Some((open, close)) = self.brackets {
            text = format!("{open}{text}{close}");
        }
        text.push_str(match self.tail {
            Tail::End => "",
            Tail::Colon => ": case notes",
            Tail::Dash => " - case notes",
            Tail::Slash => "//case notes",
            Tail::Space => " case notes",
        });
        text
    }

    /// The whole header value.
    fn value(&self) -> String {
        let label = self.label();
        let text = match self.place {
            Place::Subject => format!("{}{label}", self.prefixes.concat()),
            Place::SioLabel => format!("marking=\"{label}\"; fgcolor=black; bgcolor=red"),
            _ => label,
        };
        match (self.encoding, self.place) {
            (_, Place::SioLabel) | (Encoding::None, _) => text,
            (Encoding::Base64, _) => format!(
                "=?utf-8?b?{}?=",
                String::from_utf8(base64_encode(text.as_bytes()).unwrap()).unwrap()
            ),
            (Encoding::Q, _) => {
                let mut q = String::from("=?utf-8?q?");
                for &b in text.as_bytes() {
                    match b {
                        b' ' => q.push('_'),
                        b if b.is_ascii_alphanumeric() => q.push(char::from(b)),
                        b => q.push_str(&format!("={b:02X}")),
                    }
                }
                q.push_str("?=");
                q
            }
        }
    }

    fn message(&self) -> Vec<u8> {
        let name = match self.place {
            Place::Subject => "Subject",
            Place::ClassificationHeader => "X-Security-Classification",
            Place::Sensitivity => "Sensitivity",
            Place::SioLabel => "SIO-Label",
        };
        message(&format!("{name}: {}", self.value()))
    }

    fn source(&self) -> LabelSource {
        match self.place {
            Place::Subject => LabelSource::Subject,
            Place::ClassificationHeader => LabelSource::ClassificationHeader,
            Place::Sensitivity => LabelSource::Sensitivity,
            Place::SioLabel => LabelSource::SioLabel,
        }
    }
}

fn generated() -> impl Strategy<Value = Generated> {
    let shape = select(vec![
        Shape::TopSecret,
        Shape::Secret,
        Shape::OfficialSensitive,
        Shape::Restricted,
    ]);
    let prefix = select(vec![
        "Re: ",
        "RE:",
        "re: ",
        "AW: ",
        "SV: ",
        "Fwd: ",
        "FW: ",
        "TR: ",
        "WG: ",
        "VS: ",
        "RV: ",
        "Antw: ",
        "Odp: ",
        "[EXTERNAL] ",
        "Re[2]: ",
        "EXTERNAL: ",
        "(ext) ",
        "Fwd:",
    ]);
    let separator = select(vec![
        "", " ", "  ", "-", "_", "//", "/", ":", "\t", " - ", ".", "\u{2013}", " \t ", "_-_",
    ]);
    let case = prop_oneof![
        Just(Case::Upper),
        Just(Case::Lower),
        proptest::collection::vec(any::<bool>(), 1..20).prop_map(Case::Mixed),
    ];
    let caveat = proptest::option::of((
        select(vec!["", " ", "//", "-", " - ", "\t"]),
        select(vec![
            "UK EYES ONLY",
            "uk eyes only",
            "UKEO",
            "NOFORN",
            "PERSONAL",
            "Commercial",
            "LOCSEN",
        ]),
    ));
    let brackets = proptest::option::of(select(vec![('[', ']'), ('(', ')'), ('【', '】')]));
    let tail = select(vec![
        Tail::End,
        Tail::Colon,
        Tail::Dash,
        Tail::Slash,
        Tail::Space,
    ]);
    let place = prop_oneof![
        4 => Just(Place::Subject),
        1 => Just(Place::ClassificationHeader),
        1 => Just(Place::Sensitivity),
        1 => Just(Place::SioLabel),
    ];
    let encoding = select(vec![Encoding::None, Encoding::Base64, Encoding::Q]);
    (
        (
            shape,
            proptest::collection::vec(prefix, 0..6),
            proptest::option::of(select(vec!["UK", "NATO"])),
            proptest::collection::vec(separator, 1..3),
            case,
        ),
        (
            proptest::collection::vec(proptest::option::weighted(0.3, 0..8usize), 1..24),
            proptest::collection::vec((0..40usize, 0..8usize), 0..4),
            caveat,
            brackets,
            tail,
            place,
            encoding,
        ),
    )
        .prop_map(
            |(
                (shape, prefixes, qualifier, separators, case),
                (look_alikes, invisibles, caveat, brackets, tail, place, encoding),
            )| {
                let mut generated = Generated {
                    shape,
                    prefixes,
                    qualifier,
                    separators,
                    case,
                    look_alikes,
                    invisibles,
                    caveat,
                    brackets,
                    tail,
                    place,
                    encoding,
                };
                // The grammar's one exception: a bare mixed-case `Secret`
                // followed by a plain word, or only by descriptors of
                // OFFICIAL-SENSITIVE, is prose (`Secret Santa`).
                let strong_caveat = generated.caveat.is_some_and(|(_, c)| {
                    ["UK EYES ONLY", "uk eyes only", "UKEO", "NOFORN"].contains(&c)
                });
                if generated.shape == Shape::Secret
                    && generated.place == Place::Subject
                    && generated.tail == Tail::Space
                    && !strong_caveat
                    && generated.brackets.is_none()
                    && !matches!(generated.case, Case::Upper)
                {
                    generated.tail = Tail::Colon;
                }
                generated
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// SECRET and TOP SECRET shapes are always refused, naming the marking
    /// and where it was; OFFICIAL-SENSITIVE shapes are always labelled so.
    #[test]
    fn generated_label_shapes_are_recognised(generated in generated()) {
        let message = generated.message();
        let result = read_label(&message);
        let source = generated.source();
        let shown = String::from_utf8_lossy(&message).into_owned();
        match generated.shape {
            Shape::TopSecret => prop_assert_eq!(
                result,
                Err(PolicyError::Classified { marking: Marking::TopSecret, found_in: source }),
                "{}", shown
            ),
            Shape::Secret => prop_assert_eq!(
                result,
                Err(PolicyError::Classified { marking: Marking::Secret, found_in: source }),
                "{}", shown
            ),
            Shape::OfficialSensitive | Shape::Restricted => prop_assert_eq!(
                result,
                Ok(Label { classification: Classification::OfficialSensitive, source }),
                "{}", shown
            ),
        }
    }

    /// The exception holds: after any prefixes, a mixed-case `Secret`
    /// followed by an ordinary word is not a label.
    #[test]
    fn secret_in_prose_is_not_a_label(
        prefixes in proptest::collection::vec(select(vec!["Re: ", "Fwd: ", "AW: ", "[EXTERNAL] "]), 0..4),
        secret in select(vec!["Secret", "secret", "sEcret"]),
        word in select(vec!["Santa party", "garden", "recipe for cake", "of success", "admirer"]),
    ) {
        let subject = format!("Subject: {}{secret} {word}", prefixes.concat());
        prop_assert_eq!(
            read_label(&message(&subject)),
            Ok(Label { classification: Classification::Official, source: LabelSource::Unlabelled }),
            "{}", subject
        );
    }

    /// Whatever else a message holds, a TOP SECRET subject or a SECRET
    /// header added to it is refused.
    #[test]
    fn added_markings_are_always_refused(headers in "((Subject|Sensitivity|SIO-Label|X-Security-Classification|X-Other): [ -~]{0,40}\r\n){0,5}") {
        for added in ["Subject: TOP SECRET//UK EYES ONLY\r\n", "X-Security-Classification: SECRET\r\n", "Sensitivity: SECRET\r\n"] {
            let mut message = added.as_bytes().to_vec();
            message.extend_from_slice(headers.as_bytes());
            prop_assert!(
                matches!(read_label(&message), Err(PolicyError::Classified { .. })),
                "{}{}", added, headers
            );
        }
    }
}

/// No shape of a 1 MB subject makes the reader slow: it is linear (about
/// a second each in a debug build; a quadratic blow-up would take hours).
#[test]
fn megabyte_subjects_are_read_in_linear_time() {
    const MB: usize = 1 << 20;
    let shapes: [(&str, String); 9] = [
        ("reply prefixes", "Re: ".repeat(MB / 4)),
        ("open brackets", "[".repeat(MB)),
        ("bracketed tags", "[x] ".repeat(MB / 4)),
        ("one long token", "T".repeat(MB)),
        ("secret words", "Secret ".repeat(MB / 7)),
        ("caveats", format!("SECRET{}", "UK".repeat(MB / 2))),
        ("combining marks", format!("S{}", "\u{0301}".repeat(MB / 2))),
        ("invisibles", "\u{200B}".repeat(MB / 3)),
        ("fullwidth", "ＳＥＣＲＥ".repeat(MB / 15)),
    ];
    for (name, subject) in shapes {
        let message = format!("Subject: {subject}\r\n\r\n");
        let started = Instant::now();
        let _ = read_label(message.as_bytes());
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name}: {:?}",
            started.elapsed()
        );
    }
}
