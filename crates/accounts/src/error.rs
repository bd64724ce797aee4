//! Every refusal of an account operation, with the sentence the caller sees
//! and the HTTP status the admin API answers with.

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A field is missing or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (or CSV line) at fault.
        field: String,
        /// What is wrong, in plain language.
        message: String,
    },
    /// The thing named does not exist (or the caller may not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The caller's role does not allow this.
    #[error("permission denied: {0}")]
    Forbidden(String),
    /// It clashes with something that exists.
    #[error("{0}")]
    Conflict(String),
    /// The new password breaks a rule.
    #[error("the new password is not accepted: {0}")]
    WeakPassword(String),
    /// Address and password do not match (deliberately unspecific).
    #[error("the address or password is wrong")]
    BadCredentials,
    /// The account may not log in; the sentence says why and what to do.
    #[error("{0}")]
    AccountRefused(AccountRefusal),
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[from] store::Error),
}

/// Why a correct password still does not let a user in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountRefusal {
    /// Locked after failed logins or inactivity.
    Locked,
    /// The one-time password must be changed first.
    MustChangePassword,
    /// The password is older than the maximum age.
    PasswordExpired,
    /// Suspended by an administrator.
    Suspended,
    /// Deleted.
    Deleted,
    /// The user's organisation is suspended or closed.
    OrganisationSuspended,
}

impl std::fmt::Display for AccountRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Locked => {
                "the account is locked; ask your Organisation Administrator to unlock it"
            }
            Self::MustChangePassword => {
                "the one-time password must be changed first: `ward passwd ADDRESS` on the Ward server"
            }
            Self::PasswordExpired => {
                "the password has expired: change it with `ward passwd ADDRESS` on the Ward server"
            }
            Self::Suspended => {
                "the account is suspended; ask your Organisation Administrator"
            }
            Self::Deleted => "the account has been deleted",
            Self::OrganisationSuspended => "the organisation's connection is suspended",
        })
    }
}

impl AdminError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status the admin API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Invalid { .. } | Self::WeakPassword(_) => 400,
            Self::BadCredentials => 401,
            Self::Forbidden(_) | Self::AccountRefused(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Store(_) => 500,
        }
    }

    /// A short machine-readable kind, kept in the API's JSON error body.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::NotFound(_) => "not-found",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::WeakPassword(_) => "weak-password",
            Self::BadCredentials => "bad-credentials",
            Self::AccountRefused(_) => "account-refused",
            Self::Store(_) => "store",
        }
    }
}
