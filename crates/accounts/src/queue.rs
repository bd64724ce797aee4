//! The operator's view of the outbound queue: list, show, hold, release,
//! delete and flush. Every change is audited. The relay reads the same
//! entries; after a release or a flush the daemon also wakes it (and a
//! flush clears its back-off for the destination).

use policy::{Address, Community, Connection, ParseOptions};
use store::{QueueEntry, QueueId, RecipientState};

use crate::api::{QueueEntryView, QueueRecipientView, Response};
use crate::clock::format_utc;
use crate::error::AdminError;
use crate::service::{Caller, Service};

fn operator(caller: &Caller) -> Result<(), AdminError> {
    if caller.actor.is_operator() {
        Ok(())
    } else {
        Err(AdminError::Forbidden(
            "only the operator manages the mail queue".to_owned(),
        ))
    }
}

/// Where a queued recipient's mail goes: an SMTP organisation's gateway
/// host, or the recipient's own domain (an external secure domain's MX).
pub fn destination(community: &Community, address: &str) -> String {
    let Ok(parsed) = Address::parse(address.as_bytes(), ParseOptions::smtputf8()) else {
        return address.rsplit('@').next().unwrap_or_default().to_owned();
    };
    match community.organisation_for(parsed.domain()) {
        Some(org) => match &org.connection {
            Connection::Smtp(gateway) => gateway.host.to_string(),
            Connection::Mailbox => parsed.domain().to_string(),
        },
        None => parsed.domain().to_string(),
    }
}

fn view(community: &Community, id: QueueId, entry: &QueueEntry, now: i64) -> QueueEntryView {
    let mut destinations: Vec<String> = Vec::new();
    let recipients: Vec<QueueRecipientView> = entry
        .recipients
        .iter()
        .map(|r| {
            let destination = destination(community, &r.address);
            if !destinations.contains(&destination) {
                destinations.push(destination.clone());
            }
            let (state, detail) = match &r.state {
                RecipientState::Pending => ("pending", None),
                RecipientState::Deferred { last_error } => ("deferred", Some(last_error.clone())),
                RecipientState::Delivered { at } => ("delivered", Some(format_utc(*at))),
                RecipientState::Failed { reason } => ("failed", Some(reason.clone())),
            };
            QueueRecipientView {
                address: r.address.clone(),
                destination,
                state: state.to_owned(),
                detail,
                attempts: r.attempts,
            }
        })
        .collect();
    let last_error = entry.recipients.iter().rev().find_map(|r| match &r.state {
        RecipientState::Deferred { last_error } => Some(last_error.clone()),
        _ => None,
    });
    QueueEntryView {
        id: id.0,
        sender: entry.sender.clone(),
        attempts: entry
            .recipients
            .iter()
            .map(|r| r.attempts)
            .max()
            .unwrap_or(0),
        last_error,
        destinations,
        recipients,
        size: entry.size,
        queued_at: format_utc(entry.queued_at),
        age_seconds: (now - entry.queued_at).max(0),
        next_attempt_at: format_utc(entry.next_attempt_at),
        held: entry.held,
    }
}

pub(crate) fn list(service: &Service, caller: &Caller) -> Result<Response, AdminError> {
    operator(caller)?;
    let community = service.community();
    let now = service.now();
    let entries = service
        .store
        .queue_entries()?
        .iter()
        .map(|(id, e)| view(&community, *id, e, now))
        .collect();
    Ok(Response::Queue { entries })
}

fn entry(service: &Service, id: u64) -> Result<QueueEntry, AdminError> {
    service
        .store
        .queue_entry(QueueId(id))?
        .ok_or_else(|| AdminError::NotFound(format!("there is no queued message {id}")))
}

pub(crate) fn show(service: &Service, caller: &Caller, id: u64) -> Result<Response, AdminError> {
    operator(caller)?;
    let found = entry(service, id)?;
    Ok(Response::QueueEntry {
        entry: view(&service.community(), QueueId(id), &found, service.now()),
    })
}

pub(crate) fn hold(
    service: &Service,
    caller: &Caller,
    id: u64,
    held: bool,
) -> Result<Response, AdminError> {
    operator(caller)?;
    entry(service, id)?;
    let now = service.now();
    service.store.update_queue_entry(QueueId(id), |e| {
        if held {
            e.hold(now);
        } else {
            e.release(now);
            e.next_attempt_at = now;
        }
    })?;
    let action = if held { "queue.hold" } else { "queue.release" };
    service.audit(caller, action, &format!("queue={id}"))?;
    Ok(Response::Done {
        message: if held {
            format!("queued message {id} is held; it will not be tried until released")
        } else {
            format!("queued message {id} is released and will be tried now")
        },
    })
}

pub(crate) fn delete(service: &Service, caller: &Caller, id: u64) -> Result<Response, AdminError> {
    operator(caller)?;
    let found = entry(service, id)?;
    service.store.remove_queue_entry(QueueId(id))?;
    let pending: Vec<&str> = found
        .recipients
        .iter()
        .filter(|r| {
            !matches!(
                r.state,
                RecipientState::Delivered { .. } | RecipientState::Failed { .. }
            )
        })
        .map(|r| r.address.as_str())
        .collect();
    service.audit(
        caller,
        "queue.delete",
        &format!(
            "queue={id} sender={} undelivered={}",
            found.sender,
            pending.join(",")
        ),
    )?;
    Ok(Response::Done {
        message: format!(
            "queued message {id} deleted; {} recipient(s) will not receive it and no bounce is sent",
            pending.len()
        ),
    })
}

/// The destinations of an entry's recipients that `filter` names: by the
/// gateway host or domain, a recipient domain with or without the
/// community suffix, or the organisation's name (any case). `None` names
/// every destination.
fn matching_destinations(
    community: &Community,
    entry: &QueueEntry,
    filter: Option<&str>,
) -> Vec<String> {
    let filter = filter.map(|f| f.trim().trim_end_matches('.').to_ascii_lowercase());
    let suffix = format!(".{}", community.suffix.as_str());
    let mut out = Vec::new();
    for r in &entry.recipients {
        if matches!(
            r.state,
            RecipientState::Delivered { .. } | RecipientState::Failed { .. }
        ) {
            continue;
        }
        let destination = destination(community, &r.address);
        let named = filter.as_deref().is_none_or(|filter| {
            let domain = r
                .address
                .rsplit('@')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let by_org = Address::parse(r.address.as_bytes(), ParseOptions::smtputf8())
                .ok()
                .and_then(|a| community.organisation_for(a.domain()).cloned())
                .is_some_and(|o| o.name.to_ascii_lowercase() == filter);
            destination.to_ascii_lowercase() == filter
                || domain == filter
                || domain.strip_suffix(&suffix) == Some(filter)
                || by_org
        });
        if named && !out.contains(&destination) {
            out.push(destination);
        }
    }
    out
}

/// The destinations (gateway hosts or domains, as the relay names them)
/// of the queued mail `filter` names, for telling the relay what a flush
/// covers.
///
/// # Errors
///
/// [`AdminError::Store`].
pub fn flush_destinations(
    service: &Service,
    filter: Option<&str>,
) -> Result<Vec<String>, AdminError> {
    let community = service.community();
    let mut all: Vec<String> = Vec::new();
    for (_, e) in service.store.queue_entries()? {
        if e.held {
            continue;
        }
        for d in matching_destinations(&community, &e, filter) {
            if !all.contains(&d) {
                all.push(d);
            }
        }
    }
    Ok(all)
}

pub(crate) fn flush(
    service: &Service,
    caller: &Caller,
    filter: Option<&str>,
) -> Result<Response, AdminError> {
    operator(caller)?;
    let community = service.community();
    let now = service.now();
    let ids: Vec<QueueId> = service
        .store
        .queue_entries()?
        .into_iter()
        .filter(|(_, e)| !e.held && !matching_destinations(&community, e, filter).is_empty())
        .map(|(id, _)| id)
        .collect();
    // One durable write for them all.
    let due = service
        .store
        .update_queue_entries(&ids, |e| e.next_attempt_at = now)?;
    service.audit(
        caller,
        "queue.flush",
        &format!("destination={}", filter.unwrap_or("*")),
    )?;
    Ok(Response::Done {
        message: format!("{due} queued message(s) will be tried now"),
    })
}

/// The queue at a glance, for `ward status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueSummary {
    /// Queued messages.
    pub messages: usize,
    /// Of which held by an operator.
    pub held: usize,
    /// Age of the oldest, in seconds (0 when empty).
    pub oldest_age_seconds: i64,
}

impl Service {
    /// How many messages are queued and how old the oldest is.
    ///
    /// # Errors
    ///
    /// [`AdminError::Store`].
    pub fn queue_summary(&self) -> Result<QueueSummary, AdminError> {
        let now = self.now();
        let mut summary = QueueSummary::default();
        for (_, e) in self.store.queue_entries()? {
            summary.messages += 1;
            summary.held += usize::from(e.held);
            summary.oldest_age_seconds = summary.oldest_age_seconds.max(now - e.queued_at);
        }
        Ok(summary)
    }
}
