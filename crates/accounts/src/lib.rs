//! Ward's organisations and accounts: the operations behind the admin API,
//! the `ward` command line and (later) the web portal, kept in one place.
//!
//! - Organisations **apply** with every field of seeds 000 and 001 (sponsors
//!   on a secure government domain, a signatory accepting a named version of
//!   the terms, postal address and line of business, a connection that may
//!   be "don't know"); duplicates are refused by domain and by name. An
//!   individual at a public mail provider applies under a parent
//!   organisation. An operator **approves** (creating the organisation and
//!   its Organisation Administrator with a one-time password, or the
//!   individual's account in the parent) or rejects, and can suspend and
//!   resume an organisation.
//! - **Users** are added one at a time or from a CSV file (all or none),
//!   with addresses formed by the organisation's scheme and a one-time
//!   password that must be changed at first login. Administrators suspend,
//!   reactivate, unlock, delete and reset them.
//! - **Logins** (for SMTP AUTH, IMAP and the API) apply every rule: failed
//!   attempts lock, unused accounts lock, passwords expire, one-time
//!   passwords must be changed.
//! - The **directory** hides ex-directory users and organisations from
//!   outsiders and exports to CSV and vCard.
//! - Every change is appended to the store's hash-chained **audit** log.
//!
//! [`Service::execute`] runs a [`Request`] for a [`Caller`] and answers a
//! [`Response`] or an [`AdminError`]; roles are checked there, so every
//! front end gets the same boundaries. Time comes from a [`Clock`], so
//! tests move it instead of sleeping.

mod api;
mod audit;
mod certs;
pub mod clock;
mod community;
mod demo;
mod directory;
mod error;
mod invite;
mod orgs;
pub mod password;
pub mod queue;
mod service;
mod settings;
mod users;
mod verified;

pub use api::{
    ApplicationForm, ApplicationView, AuditLine, AuditPoint, CertificateView, CheckpointView,
    ConnectionForm, Credentials, DirectoryEntry, DirectoryForm, ExportFormat, OrgView,
    QueueEntryView, QueueRecipientView, Request, Response, SignatoryForm, SponsorForm, UserForm,
    UserView,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use directory::CSV_COLUMNS;
pub use error::{AccountRefusal, AdminError};
pub use service::{Actor, Caller, Login, Service, SessionRevoked, status_text};
pub use settings::Settings;
pub use users::IMPORT_COLUMNS;
