//! Invitations: a member asks Ward to mail a colleague how to join. The
//! message goes where any mail would (a local mailbox, or the relay queue),
//! so only to addresses the community can reach.

use mail_builder::MessageBuilder;
use rand::Rng;

use crate::api::Response;
use crate::error::AdminError;
use crate::orgs::parse_address;
use crate::service::{Caller, Service};

pub(crate) fn invite(
    service: &Service,
    caller: &Caller,
    address: &str,
    name: Option<&str>,
) -> Result<Response, AdminError> {
    let to = parse_address("address", address)?;
    let community = service.community();
    let reachable = community.is_community_domain(to.domain())
        || community.external_domain_for(to.domain()).is_some();
    if !reachable {
        return Err(AdminError::invalid(
            "address",
            format!(
                "{to} cannot be reached through the secure service: invitations go only to \
                 addresses ending in .{} or on a secure government domain ({})",
                service.settings().suffix,
                service.settings().secure_domains.join(", ")
            ),
        ));
    }
    if service.store.user_by_address(&to.to_string())?.is_some() {
        return Err(AdminError::Conflict(format!(
            "{to} already has (or recently had) an account"
        )));
    }
    if let Some(org) = community.organisation_for(to.domain())
        && org.connection == policy::Connection::Mailbox
    {
        return Err(AdminError::invalid(
            "address",
            format!(
                "{to} would be a mailbox at {}, which Ward hosts: ask its Organisation \
                 Administrator to add the account instead",
                org.name
            ),
        ));
    }
    let settings = service.settings();
    let (from_name, from_address) = match &caller.actor {
        crate::Actor::User { address, .. } => {
            let user = service.store.user_by_address(address)?.map(|(_, u)| u);
            let name =
                user.map_or_else(String::new, |u| format!("{} {}", u.first_name, u.last_name));
            (name, address.clone())
        }
        crate::Actor::Operator => (
            "Secure eMail service".to_owned(),
            format!("postmaster@{}", settings.suffix),
        ),
    };
    let now = service.now();
    let greeting = name.map_or_else(|| "Hello,".to_owned(), |n| format!("Dear {},", n.trim()));
    let inviter = if from_name.is_empty() {
        from_address.clone()
    } else {
        format!("{from_name} ({from_address})")
    };
    let text = format!(
        "{greeting}\r\n\r\n\
         {inviter} invites you to join the Secure eMail service, which carries\r\n\
         sensitive mail between the courts, police, prisons, probation, lawyers and\r\n\
         safeguarders only over encrypted connections.\r\n\r\n\
         To join, your organisation applies once: its email domain, its full name,\r\n\
         how it will connect (hosted mailboxes, or its own mail server), at least one\r\n\
         sponsor whose address is on a secure government domain, and a signatory who\r\n\
         accepts the terms and conditions (version {terms}). Your organisation's IT or\r\n\
         mail administrator can ask the service operator at {host} to start an\r\n\
         application. Once it is approved, your Organisation Administrator creates your\r\n\
         account and gives you a one-time password, which you change at first login.\r\n\r\n\
         Your address will end in .{suffix}.\r\n",
        terms = settings.terms_version,
        host = settings.hostname,
        suffix = settings.suffix,
    );
    let id: u64 = rand::rngs::OsRng.r#gen();
    let raw = MessageBuilder::new()
        .from((from_name.as_str(), from_address.as_str()))
        .to((name.unwrap_or("").trim(), to.to_string().as_str()))
        .subject("Invitation to join the Secure eMail service")
        .message_id(format!("invite.{id:016x}@{}", settings.hostname))
        .date(now)
        .text_body(text)
        .write_to_vec()
        .map_err(|e| AdminError::invalid("invitation", e.to_string()))?;
    service
        .store
        .enqueue(&from_address, &[to.to_string()], &raw, now)?;
    service.audit(caller, "invite", &format!("to={to} from={from_address}"))?;
    Ok(Response::Done {
        message: format!("invitation to {to} queued for delivery"),
    })
}
