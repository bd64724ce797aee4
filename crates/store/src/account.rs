//! User accounts: who a user is, their role and status, their password hash
//! and login bookkeeping, and the directory fields other members see.
//!
//! The store keeps the data; the rules (password expiry, lock after failed
//! attempts, one-time passwords) belong to the crates that authenticate.
//! [`Store::update_user`] gives them an atomic read-modify-write.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mailbox::{DEFAULT_MAILBOXES, create};
use crate::txn::Txn;
use crate::{Error, OrgId, Store, UserId, codec, keys};

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// An ordinary member.
    User,
    /// An organisation administrator: manages the users of one organisation.
    OrgAdmin,
    /// A service operator: approves organisations, manages the queue.
    Operator,
}

/// An account's status, as the CJSM service names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountStatus {
    /// May log in.
    Active,
    /// Locked after failed logins or inactivity; an administrator unlocks it.
    Locked,
    /// Created with a one-time password that has not been changed yet.
    NewUserLocked,
    /// Suspended by an administrator.
    Suspended,
    /// Deleted; kept for the audit trail and so the address is not reused.
    Deleted,
}

/// An argon2id password hash in PHC string form. Its `Debug` output hides
/// the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// The fields of the member directory (and its CSV export).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryFields {
    /// Telephone number.
    pub telephone: String,
    /// Mobile number.
    pub mobile: String,
    /// Free-text description (job title, team).
    pub description: String,
    /// First address line.
    pub address1: String,
    /// Second address line.
    pub address2: String,
    /// Town or city.
    pub town: String,
    /// Postcode.
    pub postcode: String,
    /// Business type.
    pub business_type: String,
    /// Criminal-justice area.
    pub cj_area: String,
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The secure address, e.g. `eric.brown@greenstonechambers.co.uk.cjsm.net`.
    /// Unique across the store, compared case-insensitively.
    pub address: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The user's ordinary (non-secure) address, for system notices.
    pub notice_address: Option<String>,
    /// The organisation the user belongs to.
    pub organisation: OrgId,
    /// What the user may do.
    pub role: Role,
    /// Directory fields.
    pub directory: DirectoryFields,
    /// Hidden from the directory.
    pub ex_directory: bool,
    /// Account status.
    pub status: AccountStatus,
    /// The password hash, once a password is set.
    pub password_hash: Option<PasswordHash>,
    /// When the password was set (seconds since the Unix epoch).
    pub password_set_at: Option<i64>,
    /// Hashes of earlier passwords, newest first, so that a new one can be
    /// refused when it repeats one; the accounts rules trim its length.
    pub previous_passwords: Vec<PasswordHash>,
    /// Consecutive failed logins.
    pub failed_attempts: u32,
    /// When the account entered its current Locked, Suspended or Deleted
    /// status (a deleted address is not reused until its retention ends).
    pub locked_at: Option<i64>,
    /// Last successful login.
    pub last_login: Option<i64>,
    /// When the account was created.
    pub created_at: i64,
}

fn address_key(address: &str) -> Vec<u8> {
    keys::text(keys::USER_ADDRESS, &address.to_ascii_lowercase())
}

fn load(txn: &Txn<'_>, id: UserId) -> Result<User, Error> {
    txn.get_as(&keys::id(keys::USER, id.0), "user")?
        .ok_or(Error::NoSuchUser(id.0))
}

fn insert(txn: &mut Txn<'_>, user: &User) -> Result<UserId, Error> {
    if txn.contains(&address_key(&user.address))? {
        return Err(Error::AddressTaken(user.address.clone()));
    }
    if !txn.contains(&keys::id(keys::ORG, user.organisation.0))? {
        return Err(Error::NoSuchOrganisation(user.organisation.0));
    }
    let id = UserId(txn.next_id("user")?);
    txn.put_as(keys::id(keys::USER, id.0), user);
    txn.put_as(address_key(&user.address), &id.0);
    create(txn, id, "INBOX", None)?;
    txn.put(keys::id_text(keys::SUBSCRIPTION, id.0, "INBOX"), Vec::new());
    for (name, special_use) in DEFAULT_MAILBOXES {
        create(txn, id, name, Some(special_use))?;
        txn.put(keys::id_text(keys::SUBSCRIPTION, id.0, name), Vec::new());
    }
    Ok(id)
}

impl Store {
    /// Creates a user with INBOX, Sent, Drafts, Trash, Junk and Archive, all
    /// subscribed.
    ///
    /// # Errors
    ///
    /// [`Error::AddressTaken`], [`Error::NoSuchOrganisation`], [`Error::Io`].
    pub fn create_user(&self, user: &User) -> Result<UserId, Error> {
        self.write(|txn| insert(txn, user))
    }

    /// Creates several users in one atomic, durable step: all of them or,
    /// on the first error, none. Each gets the default mailboxes.
    ///
    /// # Errors
    ///
    /// As [`Store::create_user`]; an address repeated within `users` is
    /// [`Error::AddressTaken`].
    pub fn create_users(&self, users: &[User]) -> Result<Vec<UserId>, Error> {
        self.write(|txn| users.iter().map(|u| insert(txn, u)).collect())
    }

    /// A user by id.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn user(&self, id: UserId) -> Result<Option<User>, Error> {
        self.read_as(&keys::id(keys::USER, id.0), "user")
    }

    /// A user by address (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn user_by_address(&self, address: &str) -> Result<Option<(UserId, User)>, Error> {
        let Some(id) = self.read_as::<u64>(&address_key(address), "user address")? else {
            return Ok(None);
        };
        Ok(self.user(UserId(id))?.map(|u| (UserId(id), u)))
    }

    /// All users, or those of one organisation, in id order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn users(&self, organisation: Option<OrgId>) -> Result<Vec<(UserId, User)>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::USER]) {
            let (k, v) = item?;
            let user: User = codec::decode(&v, "user")?;
            if organisation.is_none_or(|o| o == user.organisation) {
                out.push((UserId(keys::key_id(&k)), user));
            }
        }
        Ok(out)
    }

    /// Changes a user atomically: `change` sees the current record and edits
    /// it; the result is stored (and the address index updated) durably.
    /// Returns the new record.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchUser`], [`Error::AddressTaken`] when the address was
    /// changed to one in use, [`Error::Io`].
    pub fn update_user(&self, id: UserId, change: impl FnOnce(&mut User)) -> Result<User, Error> {
        self.write(|txn| update(txn, id, change))
    }

    /// [`Store::update_user`] with an audit record (concerning
    /// `organisations`) in the same atomic batch, so that a sign-in's
    /// bookkeeping and its record cost one flush.
    ///
    /// # Errors
    ///
    /// As [`Store::update_user`].
    pub fn update_user_audited(
        &self,
        id: UserId,
        change: impl FnOnce(&mut User),
        event: &crate::AuditEvent,
        organisations: &[crate::OrgId],
    ) -> Result<User, Error> {
        self.write(|txn| {
            let user = update(txn, id, change)?;
            crate::audit::append(txn, event, organisations)?;
            Ok(user)
        })
    }
}

/// The body of [`Store::update_user`], inside a transaction.
fn update(txn: &mut Txn<'_>, id: UserId, change: impl FnOnce(&mut User)) -> Result<User, Error> {
    let old = load(txn, id)?;
    let mut new = old.clone();
    change(&mut new);
    if !new.address.eq_ignore_ascii_case(&old.address) {
        if txn.contains(&address_key(&new.address))? {
            return Err(Error::AddressTaken(new.address.clone()));
        }
        txn.remove(address_key(&old.address));
        txn.put_as(address_key(&new.address), &id.0);
    }
    txn.put_as(keys::id(keys::USER, id.0), &new);
    Ok(new)
}
