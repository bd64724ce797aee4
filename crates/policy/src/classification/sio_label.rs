//! The RFC 7444 `SIO-Label` header: `marking="…"; fgcolor=…; type=":xml";
//! label="<…>"`. Its marking is the higher of the `marking` parameter and
//! the text of an XML label (given inline, base64-encoded, or split over
//! `label*0`, `label*1`, … parameters). An ESS label (`type=":ess"`) is
//! binary and policy-specific; only its `marking` parameter is read.

use super::Marking;
use super::grammar::header_marking;

/// The marking an `SIO-Label` value carries.
pub(super) fn marking(value: &str) -> Option<Marking> {
    // A bare XML label without parameters.
    if value.trim_start().starts_with('<') {
        return header_marking(value);
    }
    let params = parameters(value);
    let marking = params
        .iter()
        .filter(|(name, _)| name == "marking")
        .filter_map(|(_, text)| header_marking(text))
        .max();
    let label: String = params
        .iter()
        .filter(|(name, _)| name == "label" || name.starts_with("label*"))
        .map(|(_, text)| text.as_str())
        .collect();
    let xml = if label.contains('<') {
        Some(label)
    } else {
        mail_parser::decoders::base64::base64_decode(label.as_bytes())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .filter(|text| text.contains('<'))
    };
    marking.max(xml.as_deref().and_then(header_marking))
}

/// `name=value` parameters separated by `;`, names in lower case; a value
/// may be a quoted string with backslash escapes.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = value.chars().peekable();
    while chars.peek().is_some() {
        let mut name = String::new();
        for c in chars.by_ref() {
            match c {
                '=' => break,
                ';' => name.clear(),
                c => name.push(c),
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut text = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => text.extend(chars.next()),
                    '"' => break,
                    c => text.push(c),
                }
            }
            // Skip to the next parameter.
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
                text.push(c);
            }
        }
        params.push((name.trim().to_ascii_lowercase(), text.trim().to_owned()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_parameters() {
        assert_eq!(
            parameters(r#"marking="SECRET; UK EYES ONLY"; fgcolor=black; label="<a x=\"1\">""#),
            [
                ("marking".into(), "SECRET; UK EYES ONLY".into()),
                ("fgcolor".into(), "black".into()),
                ("label".into(), r#"<a x="1">"#.into()),
            ]
        );
    }

    #[test]
    fn reads_markings() {
        for (value, expected) in [
            (
                r#"marking="OFFICIAL-SENSITIVE"; type=":ess"; label=MQYGASkCAQM="#,
                Some(Marking::OfficialSensitive),
            ),
            (
                "<?xml version=\"1.0\"?><ConfidentialityLabel><classification>SECRET</classification></ConfidentialityLabel>",
                Some(Marking::Secret),
            ),
            (
                r#"marking=OFFICIAL; type=":xml"; label*0="<c>TOP"; label*1=" SECRET</c>""#,
                Some(Marking::TopSecret),
            ),
            ("fgcolor=black", None),
        ] {
            assert_eq!(marking(value), expected, "{value}");
        }
    }
}
