//! The requests and answers of every account operation, as JSON travels on
//! the admin API and as the command line builds and prints them.

use serde::{Deserialize, Serialize};

/// An application to join, with every field seeds 000 and 001 ask for.
///
/// A `domain` at a public mail provider (`gmail.com`, ...) makes it an
/// individual's application (seed 001's safeguarders): `parent` is then
/// required, and the applicant becomes a member of that organisation,
/// with an address under its abbreviation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApplicationForm {
    /// The organisation's email domain, e.g. `greenstonechambers.co.uk`.
    pub domain: String,
    /// Its full name (an individual: their full name and role, e.g.
    /// `John Smith (Safeguarder)`).
    pub name: String,
    /// The parent organisation's domain or name, if any.
    pub parent: Option<String>,
    /// `mailbox`, `smtp`, or `unknown` ("don't know / other": the operator
    /// chooses at approval).
    pub connection: String,
    /// The gateway host, for an `smtp` connection.
    pub gateway: Option<String>,
    /// The gateway's port (default 25).
    pub gateway_port: Option<u16>,
    /// The organisation uses unsuffixed addresses internally.
    pub strip_suffix: bool,
    /// Hidden from the directory.
    pub ex_directory: bool,
    /// The abbreviation for `forename.surname@ABBREV.<suffix>` addresses.
    pub abbreviation: Option<String>,
    /// Why it needs access.
    pub reason: String,
    /// How many users it expects.
    pub expected_users: u32,
    /// At least one sponsor.
    pub sponsors: Vec<SponsorForm>,
    /// The primary signatory.
    pub signatory: SignatoryForm,
    /// First line of the postal address (required).
    pub address1: String,
    /// Second line of the postal address.
    pub address2: String,
    /// Town or city.
    pub town: String,
    /// Postcode (required).
    pub postcode: String,
    /// Telephone number (required).
    pub telephone: String,
    /// Geographic location of the head office, e.g. `Scotland` (required;
    /// the directory's CJ Area).
    pub location: String,
    /// Line of business or practice area, e.g. `Solicitors` (required; the
    /// directory's Business Type).
    pub business_type: String,
}

/// The operator's choice of connection when approving (needed when the
/// applicant said "don't know"; otherwise it overrides the applicant's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionForm {
    /// `mailbox` or `smtp`.
    pub connection: String,
    /// The gateway host, for `smtp`.
    pub gateway: Option<String>,
    /// The gateway's port (default 25).
    pub gateway_port: Option<u16>,
    /// The organisation uses unsuffixed addresses internally.
    pub strip_suffix: bool,
}

/// A sponsor on an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SponsorForm {
    /// Name.
    pub name: String,
    /// Organisation.
    pub organisation: String,
    /// Address on a secure government domain.
    pub address: String,
    /// Position.
    pub position: String,
}

/// The primary signatory, who accepts the terms and conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignatoryForm {
    /// Name.
    pub name: String,
    /// Position.
    pub position: String,
    /// Address.
    pub address: String,
    /// The version of the terms and conditions accepted.
    pub accepts_terms: String,
}

/// A new user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserForm {
    /// The organisation (one of its domains, or its name).
    pub organisation: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The user's existing address in the organisation's own domain; the
    /// secure address is it plus the suffix. Not used with an abbreviation.
    pub existing_address: Option<String>,
    /// `user` (default) or `org-admin`.
    pub role: Option<String>,
    /// Where system notices go.
    pub notice_address: Option<String>,
    /// Hidden from the directory.
    pub ex_directory: bool,
    /// Directory fields.
    pub directory: DirectoryForm,
}

/// Directory fields; in an update, `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DirectoryForm {
    pub telephone: Option<String>,
    pub mobile: Option<String>,
    pub description: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
    pub business_type: Option<String>,
    pub cj_area: Option<String>,
}

/// Directory export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A spreadsheet with the service's columns.
    Csv,
    /// vCard 4.0 (RFC 6350), for mail clients' address books.
    Vcard,
}

/// Every account operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Request {
    OrgApply(ApplicationForm),
    /// Approve an application. `admin` is the Organisation Administrator
    /// (for an individual's application, the individual). `connection` is
    /// required when the applicant did not know theirs.
    OrgApprove {
        application: u64,
        admin: UserForm,
        #[serde(default)]
        connection: Option<ConnectionForm>,
    },
    OrgReject {
        application: u64,
        reason: String,
    },
    OrgList,
    OrgShow {
        organisation: String,
    },
    OrgSuspend {
        organisation: String,
    },
    OrgResume {
        organisation: String,
    },
    /// Hold (`held: true`) or release delivery to an organisation whose
    /// mail server is down: its mail waits in the queue meanwhile. Its
    /// Organisation Administrators may do this, as may the operator.
    OrgDelivery {
        organisation: String,
        held: bool,
    },
    OrgAdmins {
        organisation: String,
    },
    OrgCertIssue {
        organisation: String,
        days: Option<u32>,
    },
    OrgCertRevoke {
        organisation: String,
    },
    OrgCertList {
        organisation: Option<String>,
    },
    /// Show (`networks: None`) or set (an empty list clears) the source
    /// networks an SMTP organisation's gateway is recognised by.
    OrgNetworks {
        organisation: String,
        networks: Option<Vec<String>>,
    },
    QueueList,
    QueueShow {
        id: u64,
    },
    QueueHold {
        id: u64,
    },
    QueueRelease {
        id: u64,
    },
    QueueDelete {
        id: u64,
    },
    /// Make queued mail due now (all, or one destination: gateway host,
    /// domain or organisation name).
    QueueFlush {
        destination: Option<String>,
    },
    UserAdd(UserForm),
    UserImport {
        organisation: String,
        csv: String,
    },
    UserList {
        organisation: Option<String>,
    },
    UserShow {
        address: String,
    },
    UserSuspend {
        address: String,
    },
    UserReactivate {
        address: String,
    },
    UserUnlock {
        address: String,
    },
    UserDelete {
        address: String,
    },
    UserReset {
        address: String,
    },
    UserUpdate {
        address: String,
        directory: DirectoryForm,
        ex_directory: Option<bool>,
    },
    Passwd {
        address: String,
        current: String,
        new: String,
    },
    DirectorySearch {
        text: String,
    },
    DirectoryExport {
        format: ExportFormat,
    },
    Invite {
        address: String,
        name: Option<String>,
    },
    AuditList {
        since: Option<i64>,
        organisation: Option<String>,
        limit: Option<usize>,
    },
    AuditVerify,
    /// One page of the audit log for export, oldest first: up to `max`
    /// records (default 1000, at most 10 000) after sequence number
    /// `after`, from `since` (seconds since the epoch) on. An Organisation
    /// Administrator gets their organisation's records only.
    AuditExport {
        after: u64,
        #[serde(default)]
        since: Option<i64>,
        #[serde(default)]
        max: Option<usize>,
    },
    /// Whether the audit log still holds the points of these checkpoints
    /// (their signatures already checked by the caller), and whether its
    /// chain is intact.
    AuditCheck {
        checkpoints: Vec<AuditPoint>,
    },
    Demo,
}

impl Request {
    /// The operation's name, also its admin API path (`/v1/<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::OrgApply(_) => "org-apply",
            Self::OrgApprove { .. } => "org-approve",
            Self::OrgReject { .. } => "org-reject",
            Self::OrgList => "org-list",
            Self::OrgShow { .. } => "org-show",
            Self::OrgSuspend { .. } => "org-suspend",
            Self::OrgResume { .. } => "org-resume",
            Self::OrgDelivery { .. } => "org-delivery",
            Self::OrgAdmins { .. } => "org-admins",
            Self::OrgCertIssue { .. } => "org-cert-issue",
            Self::OrgCertRevoke { .. } => "org-cert-revoke",
            Self::OrgCertList { .. } => "org-cert-list",
            Self::OrgNetworks { .. } => "org-networks",
            Self::QueueList => "queue-list",
            Self::QueueShow { .. } => "queue-show",
            Self::QueueHold { .. } => "queue-hold",
            Self::QueueRelease { .. } => "queue-release",
            Self::QueueDelete { .. } => "queue-delete",
            Self::QueueFlush { .. } => "queue-flush",
            Self::UserAdd(_) => "user-add",
            Self::UserImport { .. } => "user-import",
            Self::UserList { .. } => "user-list",
            Self::UserShow { .. } => "user-show",
            Self::UserSuspend { .. } => "user-suspend",
            Self::UserReactivate { .. } => "user-reactivate",
            Self::UserUnlock { .. } => "user-unlock",
            Self::UserDelete { .. } => "user-delete",
            Self::UserReset { .. } => "user-reset",
            Self::UserUpdate { .. } => "user-update",
            Self::Passwd { .. } => "passwd",
            Self::DirectorySearch { .. } => "directory-search",
            Self::DirectoryExport { .. } => "directory-export",
            Self::Invite { .. } => "invite",
            Self::AuditList { .. } => "audit-list",
            Self::AuditVerify => "audit-verify",
            Self::AuditExport { .. } => "audit-export",
            Self::AuditCheck { .. } => "audit-check",
            Self::Demo => "demo",
        }
    }

    /// True when the operation changes the community (organisations or
    /// their state), so the daemon must refresh its routing snapshot.
    pub fn changes_community(&self) -> bool {
        matches!(
            self,
            Self::OrgApprove { .. }
                | Self::OrgSuspend { .. }
                | Self::OrgResume { .. }
                | Self::OrgDelivery { .. }
                | Self::OrgNetworks {
                    networks: Some(_),
                    ..
                }
                | Self::Demo
        )
    }
}

/// An organisation as the operations show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OrgView {
    pub id: u64,
    pub name: String,
    pub domains: Vec<String>,
    pub abbreviation: Option<String>,
    /// `mailbox`, or `smtp via HOST:PORT`.
    pub connection: String,
    pub parent: Option<String>,
    pub ex_directory: bool,
    /// `active`, `suspended` or `closed`.
    pub state: String,
    /// Delivery held: mail for it waits in the queue.
    pub delivery_held: bool,
    pub users: usize,
    /// Postal address, one line (empty when not known).
    pub address: String,
    pub telephone: String,
    /// Geographic location (CJ Area).
    pub location: String,
    pub business_type: String,
}

/// An application as the operations show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ApplicationView {
    pub id: u64,
    pub domain: String,
    pub name: String,
    pub connection: String,
    pub abbreviation: Option<String>,
    pub sponsors: Vec<String>,
    pub signatory: String,
    pub terms_version: String,
    pub reason: String,
    pub expected_users: u32,
    pub submitted_at: String,
    /// `pending`, `approved` or `rejected: REASON`.
    pub state: String,
    /// An individual at a public mail provider, joining `parent`.
    pub individual: bool,
    pub parent: Option<String>,
    /// Postal address, one line.
    pub address: String,
    pub telephone: String,
    /// Geographic location (CJ Area).
    pub location: String,
    pub business_type: String,
}

/// A user as the operations show it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserView {
    pub address: String,
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    /// `user`, `org-admin` or `operator`.
    pub role: String,
    /// Active, Locked, New User Locked, Suspended or Deleted.
    pub status: String,
    pub ex_directory: bool,
    pub failed_logins: u32,
    pub last_login: Option<String>,
    pub password_set_at: Option<String>,
    pub telephone: String,
    pub mobile: String,
    pub description: String,
}

/// A new account's address and one-time password, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The secure address.
    pub address: String,
    /// The one-time (or, for the demo, ready-to-use) password.
    pub password: String,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct DirectoryEntry {
    pub first_name: String,
    pub last_name: String,
    pub organisation: String,
    pub address: String,
    pub telephone: String,
    pub description: String,
}

/// One audit record, readable; also one line of `ward audit export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AuditLine {
    pub seq: u64,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
    /// Milliseconds since the Unix epoch, as hashed.
    #[serde(default)]
    pub at_millis: i64,
    pub actor: String,
    pub action: String,
    pub source: String,
    pub detail: String,
    /// The previous record's hash, hexadecimal.
    #[serde(default)]
    pub prev_hash: String,
    /// This record's hash (SHA-256 over `ward-audit-v1` and the fields),
    /// hexadecimal.
    #[serde(default)]
    pub hash: String,
}

/// A point of the audit chain named by a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPoint {
    /// The sequence number of the record it names.
    pub seq: u64,
    /// That record's hash, hexadecimal.
    pub hash: String,
}

/// What the log says about one checkpoint's point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointView {
    /// The checkpoint's sequence number.
    pub seq: u64,
    /// `contained` (the record there has that hash), `differs` (rewritten),
    /// `beyond-head` (the log ends before it: cut or replaced) or `purged`
    /// (removed by retention; cannot be compared).
    pub outcome: String,
    /// For `purged`: the first record retained.
    pub first_retained: Option<u64>,
}

/// Every answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Response {
    /// Something was done; the sentence says what.
    Done {
        message: String,
    },
    Applied {
        application: u64,
        domain: String,
    },
    Approved {
        organisation: OrgView,
        admin: Credentials,
    },
    /// An individual's application approved: their account in the parent
    /// organisation.
    Joined {
        /// The applicant, as the application named them.
        applicant: String,
        organisation: OrgView,
        account: Credentials,
    },
    Organisations {
        organisations: Vec<OrgView>,
        applications: Vec<ApplicationView>,
    },
    Organisation {
        organisation: OrgView,
        admins: Vec<UserView>,
    },
    Users {
        users: Vec<UserView>,
    },
    User {
        user: UserView,
    },
    /// New accounts with their one-time passwords.
    Created {
        users: Vec<Credentials>,
    },
    Directory {
        entries: Vec<DirectoryEntry>,
    },
    Export {
        content: String,
    },
    Audit {
        records: Vec<AuditLine>,
    },
    AuditVerified {
        records: u64,
        intact: bool,
        problem: Option<String>,
    },
    /// The chain's state and each checkpoint's outcome.
    AuditChecked {
        records: u64,
        intact: bool,
        problem: Option<String>,
        /// The log's last sequence number.
        head: u64,
        checkpoints: Vec<CheckpointView>,
    },
    Demo {
        created: bool,
        organisations: Vec<String>,
        users: Vec<Credentials>,
        message: String,
    },
    /// A gateway client certificate, its key (shown once) and the CA.
    Certificate {
        organisation: String,
        domain: String,
        certificate_pem: String,
        key_pem: String,
        ca_pem: String,
        fingerprint: String,
        not_after: String,
    },
    Certificates {
        certificates: Vec<CertificateView>,
    },
    Queue {
        entries: Vec<QueueEntryView>,
    },
    QueueEntry {
        entry: QueueEntryView,
    },
}

/// A queued outbound message as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct QueueEntryView {
    pub id: u64,
    /// The envelope sender (empty for a bounce).
    pub sender: String,
    pub recipients: Vec<QueueRecipientView>,
    /// Gateway hosts or domains the recipients go to.
    pub destinations: Vec<String>,
    pub size: u64,
    pub queued_at: String,
    pub age_seconds: i64,
    pub next_attempt_at: String,
    /// Most attempts of any recipient.
    pub attempts: u32,
    /// The last temporary failure, if any.
    pub last_error: Option<String>,
    pub held: bool,
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct QueueRecipientView {
    pub address: String,
    pub destination: String,
    /// `pending`, `deferred`, `delivered` or `failed`.
    pub state: String,
    /// The last error, the delivery time or the failure reason.
    pub detail: Option<String>,
    pub attempts: u32,
}

/// An issued gateway certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CertificateView {
    pub organisation: String,
    pub fingerprint: String,
    pub serial: String,
    pub issued_at: String,
    pub not_after: String,
    pub revoked_at: Option<String>,
}
