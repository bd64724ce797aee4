//! The member directory: search, and export as the service's spreadsheet
//! (CSV) or as vCards (RFC 6350) for mail clients' address books.
//! Ex-directory users and organisations are hidden from everyone outside
//! their organisation.

use std::collections::HashMap;

use store::{AccountStatus, ConnectionKind, DirectoryFields, OrgId, Organisation, Role, User};

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
        (Role::User, ConnectionKind::Mailbox | ConnectionKind::Undecided) => "Webmail User",
    }
}

/// A member's directory fields with their organisation's filling the gaps:
/// its postal address when the member gave none (the address is taken
/// whole, never mixed with the member's), and its line of business and
/// location. Telephone numbers stay the member's own.
fn with_org_details(user: &User, org: &Organisation) -> DirectoryFields {
    let mut d = user.directory.clone();
    let o = &org.details;
    if [&d.address1, &d.address2, &d.town, &d.postcode]
        .iter()
        .all(|f| f.trim().is_empty())
    {
        d.address1.clone_from(&o.address1);
        d.address2.clone_from(&o.address2);
        d.town.clone_from(&o.town);
        d.postcode.clone_from(&o.postcode);
    }
    if d.business_type.trim().is_empty() {
        d.business_type.clone_from(&o.business_type);
    }
    if d.cj_area.trim().is_empty() {
        d.cj_area.clone_from(&o.location);
    }
    d
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
        let d = &with_org_details(u, o);
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
    let d = &with_org_details(user, org);
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

    #[test]
    fn an_organisations_details_fill_a_members_gaps() {
        let org = Organisation {
            name: "Oakfield Solicitors".to_owned(),
            domains: vec!["oakfield.org.uk.cjsm.net".to_owned()],
            abbreviation: None,
            connection: ConnectionKind::Mailbox,
            parent: None,
            ex_directory: false,
            state: store::OrgState::Active,
            delivery_held: false,
            details: store::OrgDetails {
                address1: "1 High Street".to_owned(),
                address2: String::new(),
                town: "Leeds".to_owned(),
                postcode: "LS1 1AA".to_owned(),
                telephone: "0113 496 0000".to_owned(),
                location: "West Yorkshire".to_owned(),
                business_type: "Solicitors".to_owned(),
            },
        };
        let mut user = User {
            address: "sam.smith@oakfield.org.uk.cjsm.net".to_owned(),
            first_name: "Sam".to_owned(),
            last_name: "Smith".to_owned(),
            notice_address: None,
            organisation: OrgId(1),
            role: Role::User,
            directory: DirectoryFields::default(),
            ex_directory: false,
            status: AccountStatus::Active,
            password_hash: None,
            password_set_at: None,
            previous_passwords: Vec::new(),
            failed_attempts: 0,
            locked_at: None,
            last_login: None,
            created_at: 0,
        };
        let d = with_org_details(&user, &org);
        assert_eq!(
            (
                d.address1.as_str(),
                d.town.as_str(),
                d.postcode.as_str(),
                d.cj_area.as_str(),
                d.business_type.as_str(),
                d.telephone.as_str()
            ),
            (
                "1 High Street",
                "Leeds",
                "LS1 1AA",
                "West Yorkshire",
                "Solicitors",
                ""
            )
        );
        // A member's own address is kept whole, not mixed with the
        // organisation's; their own business type wins too.
        user.directory.town = "York".to_owned();
        user.directory.business_type = "Barrister".to_owned();
        let d = with_org_details(&user, &org);
        assert_eq!(
            (d.address1.as_str(), d.town.as_str(), d.postcode.as_str()),
            ("", "York", "")
        );
        assert_eq!(d.business_type, "Barrister");
        assert_eq!(d.cj_area, "West Yorkshire");
    }
}
