//! The community: organisations, their applications to join (with sponsors
//! and signatory), and terms-and-conditions acceptances.
//!
//! Domains are unique: an organisation's domains are indexed, so a second
//! organisation or a new application cannot claim a connected domain.

use serde::{Deserialize, Serialize};

use crate::txn::Txn;
use crate::{ApplicationId, Error, OrgId, Store, codec, keys};

/// How an organisation connects to the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionKind {
    /// Ward hosts the mailboxes; users read them over IMAP.
    Mailbox,
    /// The organisation runs its own mail server; Ward relays to its gateway.
    Smtp {
        /// The gateway host name Ward delivers to over TLS.
        gateway: String,
        /// The gateway's SMTP port, normally 25.
        port: u16,
        /// The organisation uses unsuffixed addresses internally: the suffix
        /// is added on the way in and stripped on the way out.
        strip_suffix: bool,
    },
    /// The applicant did not know (seed 001's "Don't know / other"): the
    /// operator chooses mailbox or smtp when approving. Only applications
    /// hold it; an organisation recorded with it has its mail held until
    /// the operator decides.
    Undecided,
}

/// An organisation's postal address, telephone, location and line of
/// business, as its application gave them (for an individual, their own).
/// They fill its users' empty directory fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDetails {
    /// First address line.
    pub address1: String,
    /// Second address line.
    pub address2: String,
    /// Town or city.
    pub town: String,
    /// Postcode.
    pub postcode: String,
    /// Telephone number.
    pub telephone: String,
    /// Geographic location of its head office (the directory's CJ Area).
    pub location: String,
    /// Line of business, or practice area (the directory's Business Type).
    pub business_type: String,
}

/// Whether an organisation is in service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgState {
    /// Mail flows.
    Active,
    /// Suspended (for instance while its mail server is down): its mail waits
    /// in the queue.
    Suspended,
    /// Left the community.
    Closed,
}

/// A connected organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// Full name.
    pub name: String,
    /// The organisation's suffixed domains, lower case; unique in the store.
    pub domains: Vec<String>,
    /// Abbreviation used for `forename.surname@abbrev.<suffix>` addresses.
    pub abbreviation: Option<String>,
    /// Mailbox or SMTP connection.
    pub connection: ConnectionKind,
    /// Parent organisation, if any.
    pub parent: Option<OrgId>,
    /// Hidden from the directory.
    pub ex_directory: bool,
    /// In service or not.
    pub state: OrgState,
    /// Delivery to the organisation is held (its Organisation Administrator
    /// or the operator said its mail server is down): mail for it is
    /// accepted and waits in the queue, its users still sign in and send.
    /// A suspended organisation's mail waits too, whatever this says.
    pub delivery_held: bool,
    /// Postal address, telephone, location and line of business.
    pub details: OrgDetails,
}

/// A sponsor of an application: someone on a secure government domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sponsor {
    /// Name.
    pub name: String,
    /// Address on a secure government domain.
    pub address: String,
    /// The sponsor's organisation.
    pub organisation: String,
    /// The sponsor's position (job title).
    pub position: String,
}

/// Where an application stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationState {
    /// Waiting for an operator.
    Pending,
    /// Approved; the organisation was created.
    Approved {
        /// The organisation created from it.
        organisation: OrgId,
    },
    /// Rejected.
    Rejected {
        /// Why, in plain language.
        reason: String,
    },
}

/// An organisation's application to join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The organisation's email domain (before the suffix), lower case.
    pub domain: String,
    /// Full name of the organisation.
    pub organisation_name: String,
    /// Parent organisation, if any.
    pub parent: Option<OrgId>,
    /// Requested connection.
    pub connection: ConnectionKind,
    /// Requested ex-directory status.
    pub ex_directory: bool,
    /// Requested abbreviation.
    pub abbreviation: Option<String>,
    /// Why the organisation needs access, in the applicant's words.
    pub reason: String,
    /// How many users it expects.
    pub expected_users: u32,
    /// At least one sponsor.
    pub sponsors: Vec<Sponsor>,
    /// The primary signatory's name.
    pub signatory_name: String,
    /// The primary signatory's position.
    pub signatory_position: String,
    /// The primary signatory's address.
    pub signatory_address: String,
    /// The version of the terms and conditions the signatory accepted.
    pub terms_version: String,
    /// When it was submitted (seconds since the Unix epoch).
    pub submitted_at: i64,
    /// Decision.
    pub state: ApplicationState,
    /// Postal address, telephone, location and line of business.
    pub details: OrgDetails,
    /// From an individual at a public mail provider (seed 001's
    /// safeguarders): approval makes them a member of the parent
    /// organisation, and `domain` (the provider's) is never claimed.
    pub individual: bool,
}

/// A record that someone accepted the terms and conditions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsAcceptance {
    /// The domain (application) or organisation it concerns.
    pub domain: String,
    /// Who accepted.
    pub name: String,
    /// Their address.
    pub address: String,
    /// Which version of the terms.
    pub terms_version: String,
    /// When (seconds since the Unix epoch).
    pub accepted_at: i64,
}

fn domain_key(domain: &str) -> Vec<u8> {
    keys::text(keys::ORG_DOMAIN, &domain.to_ascii_lowercase())
}

fn index_domains(
    txn: &mut Txn<'_>,
    id: OrgId,
    old: &[String],
    new: &[String],
) -> Result<(), Error> {
    for d in old {
        txn.remove(domain_key(d));
    }
    for d in new {
        if txn.contains(&domain_key(d))? {
            return Err(Error::DomainTaken(d.clone()));
        }
        txn.put_as(domain_key(d), &id.0);
    }
    Ok(())
}

impl Store {
    /// Adds an organisation.
    ///
    /// # Errors
    ///
    /// [`Error::DomainTaken`], [`Error::Io`].
    pub fn create_organisation(&self, org: &Organisation) -> Result<OrgId, Error> {
        self.write(|txn| {
            let id = OrgId(txn.next_id("organisation")?);
            index_domains(txn, id, &[], &org.domains)?;
            txn.put_as(keys::id(keys::ORG, id.0), org);
            Ok(id)
        })
    }

    /// An organisation by id.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn organisation(&self, id: OrgId) -> Result<Option<Organisation>, Error> {
        self.read_as(&keys::id(keys::ORG, id.0), "organisation")
    }

    /// The organisation connected with `domain` (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn organisation_by_domain(
        &self,
        domain: &str,
    ) -> Result<Option<(OrgId, Organisation)>, Error> {
        let Some(id) = self.read_as::<u64>(&domain_key(domain), "domain")? else {
            return Ok(None);
        };
        Ok(self.organisation(OrgId(id))?.map(|o| (OrgId(id), o)))
    }

    /// All organisations in id order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn organisations(&self) -> Result<Vec<(OrgId, Organisation)>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::ORG]) {
            let (k, v) = item?;
            out.push((OrgId(keys::key_id(&k)), codec::decode(&v, "organisation")?));
        }
        Ok(out)
    }

    /// Changes an organisation atomically and re-indexes its domains.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchOrganisation`], [`Error::DomainTaken`], [`Error::Io`].
    pub fn update_organisation(
        &self,
        id: OrgId,
        change: impl FnOnce(&mut Organisation),
    ) -> Result<Organisation, Error> {
        self.write(|txn| {
            let old: Organisation = txn
                .get_as(&keys::id(keys::ORG, id.0), "organisation")?
                .ok_or(Error::NoSuchOrganisation(id.0))?;
            let mut new = old.clone();
            change(&mut new);
            index_domains(txn, id, &old.domains, &new.domains)?;
            txn.put_as(keys::id(keys::ORG, id.0), &new);
            Ok(new)
        })
    }

    /// Records an application, refusing a domain already connected or with
    /// an application pending. An individual's application claims no
    /// domain (many individuals share a public mail provider's), so it is
    /// not checked here.
    ///
    /// # Errors
    ///
    /// [`Error::DomainTaken`], [`Error::DuplicateApplication`], [`Error::Io`].
    pub fn submit_application(&self, application: &Application) -> Result<ApplicationId, Error> {
        self.write(|txn| {
            if !application.individual && txn.contains(&domain_key(&application.domain))? {
                return Err(Error::DomainTaken(application.domain.clone()));
            }
            for (_, v) in txn.scan_prefix(&[keys::APPLICATION])? {
                let other: Application = codec::decode(&v, "application")?;
                if !application.individual
                    && !other.individual
                    && other.state == ApplicationState::Pending
                    && other.domain.eq_ignore_ascii_case(&application.domain)
                {
                    return Err(Error::DuplicateApplication(application.domain.clone()));
                }
            }
            let id = ApplicationId(txn.next_id("application")?);
            txn.put_as(keys::id(keys::APPLICATION, id.0), application);
            Ok(id)
        })
    }

    /// An application by id.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn application(&self, id: ApplicationId) -> Result<Option<Application>, Error> {
        self.read_as(&keys::id(keys::APPLICATION, id.0), "application")
    }

    /// All applications in id order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn applications(&self) -> Result<Vec<(ApplicationId, Application)>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::APPLICATION]) {
            let (k, v) = item?;
            out.push((
                ApplicationId(keys::key_id(&k)),
                codec::decode(&v, "application")?,
            ));
        }
        Ok(out)
    }

    /// Records an operator's decision on an application.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchApplication`], [`Error::Io`].
    pub fn decide_application(
        &self,
        id: ApplicationId,
        state: ApplicationState,
    ) -> Result<(), Error> {
        self.write(|txn| {
            let key = keys::id(keys::APPLICATION, id.0);
            let mut app: Application = txn
                .get_as(&key, "application")?
                .ok_or(Error::NoSuchApplication(id.0))?;
            app.state = state;
            txn.put_as(key, &app);
            Ok(())
        })
    }

    /// Records a terms-and-conditions acceptance.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn record_terms_acceptance(&self, acceptance: &TermsAcceptance) -> Result<(), Error> {
        self.write(|txn| {
            let id = txn.next_id("terms")?;
            txn.put_as(keys::id(keys::TERMS, id), acceptance);
            Ok(())
        })
    }

    /// The acceptances recorded for a domain, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn terms_acceptances(&self, domain: &str) -> Result<Vec<TermsAcceptance>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::TERMS]) {
            let (_, v) = item?;
            let a: TermsAcceptance = codec::decode(&v, "terms acceptance")?;
            if a.domain.eq_ignore_ascii_case(domain) {
                out.push(a);
            }
        }
        Ok(out)
    }
}
