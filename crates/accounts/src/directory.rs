//! The member directory: search, and export as the service's spreadsheet
//! (CSV) or as vCards (RFC 6350) for mail clients' address books.
//! Ex-directory users and organisations are hidden from everyone outside
//! their organisation.

use std::collections::HashMap;

use store::{AccountStatus, ConnectionKind, OrgId, Organisation, Role, User};

use crate::api::{DirectoryEntry, ExportFormat, Response};
use crate::error::AdminError;
use crate::service::{Caller, Service, status_text};

/// The CSV export's columns, as the real service names them.
pub const CSV_COLUMNS: [&str; 15] = [
    "Firstname",
    "Lastname",
    "UserType",
    "Organisation",
    "Secure Email",
    "Address1",
    "Address2",
    "Town/City",
    "Postcode",
    "Telephone",
    "Mobile",
    "Description",
    "Business Type",
    "CJ Area",
    "Account Status",
];

/// The users the caller may see, with their organisations, by name.
fn visible(service: &Service, caller: &Caller) -> Result<Vec<(User, Organisation)>, AdminError> {
    let orgs: HashMap<OrgId, Organisation> = service.store.organisations()?.into_iter().collect();
    let own = caller.actor.organisation();
    let operator = caller.actor.is_operator();
    let mut out = Vec::new();
    for (_, user) in service.store.users(None)? {
        let Some(org) = orgs.get(&user.organisation) else {
            continue;
        };
        if user.status == AccountStatus::Deleted {
            continue;
        }
        let hidden = user.ex_directory || org.ex_directory;
        if hidden && !operator && own != Some(user.organisation) {
            continue;
        }
        out.push((user, org.clone()));
    }
    out.sort_by(|(a, ao), (b, bo)| {
        (&a.last_name, &a.first_name, &ao.name).cmp(&(&b.last_name, &b.first_name, &bo.name))
    });
    Ok(out)
}

/// Members whose name, organisation or address contains `text`
/// (case-insensitive).
pub(crate) fn search(
    service: &Service,
    caller: &Caller,
    text: &str,
) -> Result<Response, AdminError> {
    let needle = text.trim().to_lowercase();
    if needle.chars().count() < 2 {
        return Err(AdminError::invalid(
            "text",
            "give at least two characters to search for",
        ));
    }
    let entries = visible(service, caller)?
        .into_iter()
        .filter(|(u, o)| {
            let name = format!("{} {}", u.first_name, u.last_name).to_lowercase();
            name.contains(&needle)
                || o.name.to_lowercase().contains(&needle)
                || u.address.to_lowercase().contains(&needle)
        })
        .map(|(u, o)| DirectoryEntry {
            first_name: u.first_name,
            last_name: u.last_name,
            organisation: o.name,
            address: u.address,
            telephone: u.directory.telephone,
            description: u.directory.description,
        })
        .collect();
    Ok(Response::Directory { entries })
}

/// The CJSM user type: organisation admin, SMTP user or webmail (hosted
/// mailbox).
fn user_type(user: &User, org: &Organisation) -> &'static str {
    match (user.role, &org.connection) {
        (Role::Operator, _) => "Operator",
        (Role::OrgAdmin, _) => "Organisation Admin",
        (Role::User, ConnectionKind::Smtp { .. }) => "SMTP User",
        (Role::User, ConnectionKind::Mailbox) => "Webmail User",
    }
}

pub(crate) fn export(
    service: &Service,
    caller: &Caller,
    format: ExportFormat,
) -> Result<Response, AdminError> {
    let members = visible(service, caller)?;
    let content = match format {
        ExportFormat::Csv => csv_export(&members)?,
        ExportFormat::Vcard => members.iter().map(|(u, o)| vcard(u, o)).collect(),
    };
    Ok(Response::Export { content })
}

fn csv_export(members: &[(User, Organisation)]) -> Result<String, AdminError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let failed = |e: csv::Error| AdminError::invalid("export", e.to_string());
    writer.write_record(CSV_COLUMNS).map_err(failed)?;
    for (u, o) in members {
        let d = &u.directory;
        writer
            .write_record([
                u.first_name.as_str(),
                &u.last_name,
                user_type(u, o),
                &o.name,
                &u.address,
                &d.address1,
                &d.address2,
                &d.town,
                &d.postcode,
                &d.telephone,
                &d.mobile,
                &d.description,
                &d.business_type,
                &d.cj_area,
                status_text(u.status),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AdminError::invalid("export", e.to_string()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// Escapes a vCard text value (RFC 6350 §3.4).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a UTF-8 sequence
/// (RFC 6350 §3.2), and ends it with CRLF.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn vcard(user: &User, org: &Organisation) -> String {
    let d = &user.directory;
    let mut lines = vec![
        "BEGIN:VCARD".to_owned(),
        "VERSION:4.0".to_owned(),
        format!(
            "FN:{}",
            escape(&format!("{} {}", user.first_name, user.last_name))
        ),
        format!(
            "N:{};{};;;",
            escape(&user.last_name),
            escape(&user.first_name)
        ),
        format!("ORG:{}", escape(&org.name)),
        format!("EMAIL;TYPE=work:{}", escape(&user.address)),
    ];
    if !d.telephone.is_empty() {
        lines.push(format!(
            "TEL;TYPE=work;VALUE=uri:tel:{}",
            tel_uri(&d.telephone)
        ));
    }
    if !d.mobile.is_empty() {
        lines.push(format!(
            "TEL;TYPE=cell;VALUE=uri:tel:{}",
            tel_uri(&d.mobile)
        ));
    }
    if !d.description.is_empty() {
        lines.push(format!("TITLE:{}", escape(&d.description)));
    }
    if [&d.address1, &d.address2, &d.town, &d.postcode]
        .iter()
        .any(|f| !f.is_empty())
    {
        let street = [d.address1.as_str(), d.address2.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join("\\n");
        lines.push(format!(
            "ADR;TYPE=work:;;{street};{};;{};",
            escape(&d.town),
            escape(&d.postcode)
        ));
    }
    lines.push("END:VCARD".to_owned());
    let mut out = String::new();
    for line in lines {
        fold(&line, &mut out);
    }
    out
}

/// A telephone number as a `tel:` URI: digits, `+` and `-` kept, spaces
/// become `-`, anything else dropped.
fn tel_uri(number: &str) -> String {
    let mut out = String::new();
    for c in number.trim().chars() {
        match c {
            '0'..='9' | '+' | '-' => out.push(c),
            ' ' if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcard_lines_are_escaped_and_folded() {
        let mut out = String::new();
        fold(&"x".repeat(160), &mut out);
        assert!(out.lines().all(|l| l.len() <= 75));
        assert_eq!(out.replace("\r\n ", ""), format!("{}\r\n", "x".repeat(160)));
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(tel_uri("+44 (0)20 7946 0000"), "+44-020-7946-0000");
    }
}
