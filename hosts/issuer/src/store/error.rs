//! The storage error type.

use core::fmt;
use std::error::Error as StdError;

/// Why a storage operation failed.
///
/// `Display` never includes SQL text, table names or driver messages, so the text is safe to
/// show to a client; the driver error stays reachable through [`source`](StdError::source)
/// for server logs. Map it to an HTTP status in exactly one place in the server.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, lock timeout, driver, migration). Opaque on purpose.
    Backend(BackendError),
    /// The operation would break a uniqueness or single-use rule: the name, token or key id
    /// already exists, the code was already redeemed, the request was already decided, or
    /// the key to retire is the active one.
    Conflict,
    /// Stored data could not be decoded (for example a negative timestamp); the value says
    /// which field.
    Corrupt(&'static str),
    /// The record exists but its lifetime is over: it was live while `now < expires_at`.
    Expired {
        /// The time the caller passed.
        now: u64,
        /// When the record stopped being valid.
        expires_at: u64,
    },
    /// An argument was rejected before touching the database; the value says which.
    InvalidInput(&'static str),
    /// No such record.
    NotFound,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend(_) => f.write_str("storage backend error"),
            Self::Conflict => f.write_str("conflicting or already used record"),
            Self::Corrupt(what) => write!(f, "stored data is corrupt: {what}"),
            Self::Expired { now, expires_at } => {
                write!(f, "record expired at {expires_at} (now {now})")
            }
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Self::NotFound => f.write_str("record not found"),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Backend(e) => Some(e),
            _ => None,
        }
    }
}

/// An opaque database failure.
///
/// It keeps the driver error for logs ([`source`](StdError::source) and `Debug`) but
/// displays only a fixed text. Keeping the driver type out of the public API lets a
/// PostgreSQL backend reuse [`StoreError`] unchanged.
pub struct BackendError(Box<dyn StdError + Send + Sync + 'static>);

impl BackendError {
    /// Wraps any driver error.
    pub fn new(e: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self(e.into())
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackendError").field(&self.0).finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("storage backend error")
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            sqlx::Error::RowNotFound => Self::NotFound,
            _ => Self::Backend(BackendError::new(e)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Backend(BackendError::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_hides_backend_detail() {
        let e = StoreError::Backend(BackendError::new("SELECT secret FROM users"));
        assert_eq!(e.to_string(), "storage backend error");
        assert!(e.source().is_some());
        let e = StoreError::Expired {
            now: 70,
            expires_at: 60,
        };
        assert_eq!(e.to_string(), "record expired at 60 (now 70)");
    }
}
