//! The secure community's rules, as pure code.
//!
//! `policy` decides; other crates act. It owns:
//!
//! - checked address types ([`Address`], [`Domain`], [`LocalPart`]: RFC
//!   5321/5322 local parts, internationalised domains, length limits) and the
//!   community suffix (`cjsm.net` by default): `user@org.example` ↔
//!   `user@org.example.cjsm.net`, and abbreviation domains such as
//!   `jimmy.jones@safeguarder.cjsm.net` ([`abbreviation_local_part`]);
//! - the allow-list between connected organisations and external secure
//!   government domains: who may send ([`Community::check_sender`]) and where
//!   each recipient's mail goes ([`Community::route_recipient`] → [`Route`]);
//! - suffix rewriting at an SMTP organisation's gateway ([`Rewriter`]);
//! - transport rules (TLS before `MAIL`, `RCPT` and `AUTH`; submission needs
//!   authentication; account status: [`check_command`], [`check_account`]);
//! - classification labels ([`read_label`]: OFFICIAL, OFFICIAL-SENSITIVE;
//!   SECRET and TOP SECRET refused) and the bilingual [`Footer`] added to
//!   mail leaving through the service;
//! - size and recipient [`Limits`].
//!
//! Every refusal is a [`PolicyError`], and `Reply::from(&error)` gives its
//! SMTP reply code, enhanced status code (RFC 3463) and a sentence a user
//! understands. Handlers never write reply literals.
//!
//! It deliberately does no I/O: no sockets, no files, no async, no store.
//! Callers pass in what it needs to know (the [`Community`], what the
//! session proved in [`SessionCredentials`]) and act on its answer. Whether
//! a local mailbox exists, and password checks, are the store's business.
//!
//! # Example
//!
//! ```
//! use policy::{Address, Community, Domain, Organisation, Reply, Route, SessionCredentials,
//!              AuthenticatedUser};
//!
//! let mut community = Community::default(); // suffix cjsm.net, seed 001's secure domains
//! community.organisations.push(Organisation::mailbox(
//!     "Greenstone Chambers",
//!     Domain::parse("greenstonechambers.co.uk")?,
//! ));
//!
//! let eric = Address::try_from("eric.brown@greenstonechambers.co.uk.cjsm.net")?;
//! let session = SessionCredentials {
//!     authenticated: Some(AuthenticatedUser::new(eric.clone())),
//!     ..SessionCredentials::default()
//! };
//! let origin = community.check_sender(Some(&eric), &session).expect("own address");
//!
//! // A police recipient is on the allow-list...
//! let police = Address::try_from("pc.smith@kent.pnn.police.uk")?;
//! assert!(matches!(community.route_recipient(&origin, &police), Ok(Route::ExternalSecure { .. })));
//!
//! // ...an ordinary address is not, and the user is told why.
//! let gmail = Address::try_from("someone@gmail.com")?;
//! let refusal = community.route_recipient(&origin, &gmail).unwrap_err();
//! let reply = Reply::from(&refusal);
//! assert_eq!((reply.code, reply.enhanced.to_string().as_str()), (550, "5.7.1"));
//! assert!(reply.text.contains("outside the secure community"));
//! # Ok::<(), policy::AddressError>(())
//! ```
//!
//! # Layout
//!
//! `address` (checked types), `community` (the model), `route` (allow-list
//! decisions), `rewrite` (gateway boundary), `names` (abbreviation local
//! parts), `transport` (TLS, AUTH, accounts), `classification`, `footer`,
//! `limits`, `error` (every refusal and its reply), `reply`.

mod address;
mod classification;
mod community;
mod error;
mod footer;
mod limits;
mod names;
mod reply;
mod rewrite;
mod route;
mod transport;

pub use address::{
    Address, Domain, LocalPart, MAX_ADDRESS, MAX_DOMAIN, MAX_LABEL, MAX_LOCAL_PART, ParseOptions,
};
pub use classification::{
    CLASSIFICATION_HEADER, Classification, Label, LabelSource, Marking, read_label,
};
pub use community::{
    Community, Connection, DEFAULT_EXTERNAL_SECURE_DOMAINS, DEFAULT_SUFFIX, ExternalDomain,
    Gateway, InvalidNetwork, IpNetwork, Organisation, SuffixRewrite,
};
pub use error::{AddressError, PolicyError};
pub use footer::{
    DEFAULT_ENGLISH, DEFAULT_WELSH, FOOTER_MARKER_HEADER, Footer, FooterOutcome, Unchanged,
};
pub use limits::{
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS, HeaderBound, Limits, MAX_HEADER_FIELDS,
    MAX_HEADER_LINE, MAX_HEADER_SECTION, MAX_MIME_BOUNDARIES, MAX_MIME_PARTS, check_header_section,
    check_message_structure,
};
pub use names::{NameError, abbreviation_local_part};
pub use reply::{EnhancedStatus, Reply};
pub use rewrite::Rewriter;
pub use route::{AuthenticatedUser, Route, SenderOrigin, SessionCredentials};
pub use transport::{
    AccountState, AccountStatus, GuardedCommand, Listener, SessionState, check_account,
    check_command,
};
