//! SQL pieces both backends share: time columns, error mapping, single-use status and the
//! embedded migration source.

use std::borrow::Cow;
use std::pin::Pin;

use sqlx::migrate::{Migration, MigrationSource, MigrationType};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{AuthorizationRequest, PendingRequest, StoreError, User, UserId};

/// Unix seconds as a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT).
pub(super) fn to_db(t: u64) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|_| StoreError::InvalidInput("time out of range"))
}

/// A stored INTEGER back to unix seconds.
pub(super) fn from_db(t: i64, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(t).map_err(|_| StoreError::Corrupt(column))
}

/// A foreign-key violation means the referenced user does not exist.
pub(super) fn fk_is_not_found(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => e.into(),
    }
}

/// Migrations compiled into the binary, so a deployment is one file: `(version,
/// description, SQL)` in order. Each backend has its own list; a version that one dialect
/// needs (an index SQLite could not use, say) may be missing from the other.
#[derive(Debug)]
pub(super) struct Embedded(pub(super) &'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>>
                + Send,
        >,
    > {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(core::future::ready(Ok(migrations)))
    }
}

/// Why a single-use row (a pending request or a code) that an `UPDATE` did not match
/// cannot be used, from its `expires_at` and whether it was already used.
pub(super) fn why_unusable(expires_at: u64, used: bool, now: u64) -> StoreError {
    if used {
        StoreError::Conflict
    } else if now >= expires_at {
        StoreError::Expired { now, expires_at }
    } else {
        // It became valid between the two statements: impossible for a single-use
        // transition, so report it as a lost race.
        StoreError::Conflict
    }
}

/// The outcome of [`super::Store::bootstrap_key`]'s guarded insert: a unique violation
/// means a concurrent start inserted its active key between the guard and the insert.
pub(super) fn bootstrapped(done: Result<u64, sqlx::Error>) -> Result<bool, StoreError> {
    match done {
        Ok(rows) => Ok(rows == 1),
        Err(e) => match StoreError::from(e) {
            StoreError::Conflict => Ok(false),
            e => Err(e),
        },
    }
}

/// A result row of either backend, read by column name into the types the store keeps.
/// The sqlx bounds sit on the one blanket impl, so the row decoders below exist once.
pub(super) trait SqlRow {
    /// A non-null text column.
    fn text(&self, column: &'static str) -> Result<String, StoreError>;
    /// A nullable text column.
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError>;
    /// A non-null 64-bit integer column.
    fn int(&self, column: &'static str) -> Result<i64, StoreError>;

    /// A stored unix time.
    fn time(&self, column: &'static str) -> Result<u64, StoreError> {
        from_db(self.int(column)?, column)
    }
}

impl<R> SqlRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// A `users` row.
pub(super) fn user_from_row(row: &impl SqlRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.int("id")?),
        name: row.text("name")?,
        password_hash: row.text("password_hash")?,
        created_at: row.time("created_at")?,
    })
}

/// The [`AuthorizationRequest`] columns of a pending request or code row.
pub(super) fn request_from_row(row: &impl SqlRow) -> Result<AuthorizationRequest, StoreError> {
    Ok(AuthorizationRequest {
        agent_id: row.text("agent_id")?,
        agent_delegate: row.opt_text("agent_delegate")?,
        agent_jwk: row.text("agent_jwk")?,
        agent_jkt: row.text("agent_jkt")?,
        resource_id: row.text("resource_id")?,
        scope: row.text("scope")?,
        redirect_uri: row.text("redirect_uri")?,
        state: row.opt_text("state")?,
    })
}

/// A `pending_requests` row.
pub(super) fn pending_from_row(row: &impl SqlRow) -> Result<PendingRequest, StoreError> {
    Ok(PendingRequest {
        request: request_from_row(row)?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}
