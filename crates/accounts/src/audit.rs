//! The audit log as the operations see it: who may read which records,
//! listing and exporting them, checking the chain and checkpoints of it,
//! and which organisations a record written here concerns.
//!
//! The operator reads everything. An Organisation Administrator reads the
//! records that concern their organisation: those the store indexed under
//! it when they were written (see `store::Store::audit_records_of`). For
//! the records this crate writes, the organisations are read from the
//! record's own particulars ([`subjects`]): the acting user's organisation,
//! the organisation of every address in a `user=`, `to=`, `from=`,
//! `sender=`, `admin=` or `users=` field, of every domain in `domain=` or
//! `domains=`, and the organisation named by `org=`. Each is an exact
//! lookup (a domain in the store's domain index, a name equal to an
//! organisation's), never a substring match, so a record cannot be shown
//! to an organisation merely because its text mentions something like it.

use store::{AnchorVerdict, AuditHead, AuditRecord, OrgId, Role};

use crate::api::{AuditLine, AuditPoint, CheckpointView, Response};
use crate::clock::format_utc;
use crate::error::AdminError;
use crate::service::{Actor, Caller, Service};

/// Records per page of `audit-export`, at most.
pub(crate) const MAX_PAGE: usize = 10_000;

/// The fields whose values are addresses or domains of organisations.
const ADDRESS_FIELDS: [&str; 8] = [
    "user", "to", "from", "sender", "admin", "users", "domain", "domains",
];

/// The organisations a record with this actor and detail concerns.
pub(crate) fn subjects(
    service: &Service,
    actor: &str,
    detail: &str,
) -> Result<Vec<OrgId>, AdminError> {
    let mut addresses: Vec<&str> = Vec::new();
    if actor.contains('@') {
        addresses.push(actor);
    }
    let mut names = Vec::new();
    for (key, value) in fields(detail) {
        if ADDRESS_FIELDS.contains(&key) {
            addresses.extend(value.split(',').map(|a| a.trim_matches(['<', '>', ' '])));
        } else if key == "org" {
            names.push(value.trim());
        }
    }
    let mut found = service.store.organisations_of(addresses)?;
    if !names.is_empty() {
        for (id, org) in service.store.organisations()? {
            if names.iter().any(|n| org.name == *n) {
                found.push(id);
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The `key=value` fields of a detail written as `k1=v1 k2=v2`: a value
/// runs to the next ` word=`, so it may hold spaces (organisation names).
fn fields(detail: &str) -> Vec<(&str, &str)> {
    let mut starts = Vec::new();
    let bytes = detail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || bytes[i - 1] == b' ';
        if at_word {
            let key_len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase() || **b == b'_' || **b == b'-')
                .count();
            if key_len > 0 && bytes.get(i + key_len) == Some(&b'=') {
                starts.push((i, i + key_len));
                i += key_len + 1;
                continue;
            }
        }
        i += 1;
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &(k, eq))| {
            let end = starts
                .get(n + 1)
                .map_or(detail.len(), |&(next, _)| next.saturating_sub(1));
            (&detail[k..eq], detail[eq + 1..end.max(eq + 1)].trim_end())
        })
        .collect()
}

/// Whose records the caller may read: `None` for all (the operator), or
/// one organisation (its Organisation Administrator).
fn readable(caller: &Caller) -> Result<Option<OrgId>, AdminError> {
    if caller.actor.is_operator() {
        return Ok(None);
    }
    match &caller.actor {
        Actor::User {
            role: Role::OrgAdmin,
            organisation,
            ..
        } => Ok(Some(*organisation)),
        _ => Err(AdminError::Forbidden(
            "only the operator and Organisation Administrators read the audit log".to_owned(),
        )),
    }
}

fn line(r: AuditRecord) -> AuditLine {
    AuditLine {
        seq: r.seq,
        at: format_utc(r.at_millis.div_euclid(1000)),
        at_millis: r.at_millis,
        actor: r.actor,
        action: r.action,
        source: r.source,
        detail: r.detail,
        prev_hash: hex(&r.prev_hash),
        hash: hex(&r.hash),
    }
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Up to `max` records after sequence number `after`, those the caller may
/// read, optionally only from `organisation` (the operator) and from
/// `since` (seconds since the epoch) on; the sequence number to continue
/// after, when the log goes on.
fn page(
    service: &Service,
    scope: Option<OrgId>,
    after: u64,
    since: Option<i64>,
    max: usize,
) -> Result<(Vec<AuditRecord>, Option<u64>), AdminError> {
    let mut out = Vec::new();
    let mut from = after.saturating_add(1);
    loop {
        let batch = match scope {
            Some(org) => service.store.audit_records_of(org, from, 1000)?,
            None => service.store.audit_records(from, 1000)?,
        };
        let Some(last) = batch.last().map(|r| r.seq) else {
            return Ok((out, None));
        };
        for r in batch {
            if since.is_some_and(|s| r.at_millis.div_euclid(1000) < s) {
                continue;
            }
            let seq = r.seq;
            out.push(r);
            if out.len() >= max {
                return Ok((out, Some(seq)));
            }
        }
        from = last + 1;
    }
}

/// `audit-list`: the newest `limit` records (all without a limit).
pub(crate) fn list(
    service: &Service,
    caller: &Caller,
    since: Option<i64>,
    organisation: Option<&str>,
    limit: Option<usize>,
) -> Result<Response, AdminError> {
    let own = readable(caller)?;
    let mut records = match (own, organisation) {
        (Some(own), Some(key)) => {
            let (id, _) = service.find_org(key)?;
            if id != own {
                return Err(AdminError::Forbidden(
                    "an Organisation Administrator reads only their own organisation's records"
                        .to_owned(),
                ));
            }
            page(service, Some(own), 0, since, usize::MAX)?.0
        }
        (Some(own), None) => page(service, Some(own), 0, since, usize::MAX)?.0,
        (None, Some(key)) => about(service, key, since)?,
        (None, None) => page(service, None, 0, since, usize::MAX)?.0,
    };
    if let Some(limit) = limit {
        let skip = records.len().saturating_sub(limit);
        records.drain(..skip);
    }
    Ok(Response::Audit {
        records: records.into_iter().map(line).collect(),
    })
}

/// The operator's `--org`: the records indexed under the organisation, and
/// those that name it in their text (its domains, or `org=NAME`): the
/// application that preceded it, and records written before the index.
fn about(service: &Service, key: &str, since: Option<i64>) -> Result<Vec<AuditRecord>, AdminError> {
    let (id, org) = service.find_org(key)?;
    let indexed: std::collections::HashSet<u64> = page(service, Some(id), 0, since, usize::MAX)?
        .0
        .iter()
        .map(|r| r.seq)
        .collect();
    let mut names = org.domains.clone();
    names.push(format!("org={}", org.name));
    let (all, _) = page(service, None, 0, since, usize::MAX)?;
    Ok(all
        .into_iter()
        .filter(|r| indexed.contains(&r.seq) || names.iter().any(|n| r.detail.contains(n.as_str())))
        .collect())
}

/// `audit-export`: one page of records after `after`, oldest first.
pub(crate) fn export(
    service: &Service,
    caller: &Caller,
    after: u64,
    since: Option<i64>,
    max: Option<usize>,
) -> Result<Response, AdminError> {
    let scope = readable(caller)?;
    let max = max.unwrap_or(1000).clamp(1, MAX_PAGE);
    let (records, _) = page(service, scope, after, since, max)?;
    Ok(Response::Audit {
        records: records.into_iter().map(line).collect(),
    })
}

fn operator_only(caller: &Caller, what: &str) -> Result<(), AdminError> {
    if caller.actor.is_operator() {
        Ok(())
    } else {
        Err(AdminError::Forbidden(format!("only the operator {what}")))
    }
}

/// `audit-verify`: the retained chain, from its base to its head.
pub(crate) fn verify(service: &Service, caller: &Caller) -> Result<Response, AdminError> {
    operator_only(caller, "verifies the audit log")?;
    let (records, intact, problem) = chain(service)?;
    Ok(Response::AuditVerified {
        records,
        intact,
        problem,
    })
}

fn chain(service: &Service) -> Result<(u64, bool, Option<String>), AdminError> {
    Ok(match service.store.verify_audit()? {
        store::AuditVerdict::Intact { records } => (records, true, None),
        store::AuditVerdict::Broken { seq, problem } => {
            (seq, false, Some(format!("record {seq}: {problem:?}")))
        }
    })
}

/// `audit-check`: the chain, and whether it still holds each checkpoint's
/// point. The checkpoints' signatures are the caller's to check (the
/// command line does, with the key beside the store).
pub(crate) fn check(
    service: &Service,
    caller: &Caller,
    points: &[AuditPoint],
) -> Result<Response, AdminError> {
    operator_only(caller, "checks the audit log against checkpoints")?;
    let (records, intact, problem) = chain(service)?;
    let head = service.store.audit_head()?;
    let mut checkpoints = Vec::with_capacity(points.len());
    for p in points {
        let hash = unhex(&p.hash)
            .ok_or_else(|| AdminError::invalid("hash", "must be 64 hexadecimal digits"))?;
        let verdict = service
            .store
            .check_audit_anchor(AuditHead { seq: p.seq, hash })?;
        let (outcome, first_retained) = match verdict {
            AnchorVerdict::Contained => ("contained", None),
            AnchorVerdict::Differs => ("differs", None),
            AnchorVerdict::Beyond { .. } => ("beyond-head", None),
            AnchorVerdict::Purged { first } => ("purged", Some(first)),
        };
        checkpoints.push(CheckpointView {
            seq: p.seq,
            outcome: outcome.to_owned(),
            first_retained,
        });
    }
    Ok(Response::AuditChecked {
        records,
        intact,
        problem,
        head: head.seq,
        checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_run_to_the_next_key() {
        assert_eq!(
            fields("org=Greenstone Chambers fingerprint=ab:cd serial=3"),
            vec![
                ("org", "Greenstone Chambers"),
                ("fingerprint", "ab:cd"),
                ("serial", "3")
            ]
        );
        assert_eq!(
            fields("user=a@x.cjsm.net locked=yes"),
            vec![("user", "a@x.cjsm.net"), ("locked", "yes")]
        );
        assert_eq!(fields("no fields here"), vec![]);
        assert_eq!(fields("reason=a=b c"), vec![("reason", "a=b c")]);
        assert_eq!(fields("x= y=1"), vec![("x", ""), ("y", "1")]);
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0xab; 32];
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("zz"), None);
    }
}
