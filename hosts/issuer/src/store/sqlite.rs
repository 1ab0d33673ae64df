//! The SQLite backend.

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::queries::impl_store;
use super::sql::Embedded;
use super::{BackendError, StoreError};

/// How long a connection waits for another writer before failing with a backend error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool. SQLite runs one writer at a time in any case; the others serve
/// concurrent readers under WAL.
const MAX_CONNECTIONS: u32 = 8;

/// The embedded migrations, in order. Adding one means appending here and adding the file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "active key index",
        include_str!("../../migrations/sqlite/0002_active_key_index.sql"),
    ),
];

/// [`Store`](super::Store) on a single SQLite database file.
///
/// Opened in WAL mode with `synchronous=FULL`, so every committed write survives a
/// `SIGKILL` of the server or a power cut; foreign keys are enforced and writers wait up to
/// 10 s for each other. Several processes may open the same file.
///
/// Cloning is cheap and shares the connection pool.
///
/// ```
/// use aauth_issuer::store::{SqliteStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), aauth_issuer::store::StoreError> {
/// # let dir = tempfile::tempdir().unwrap();
/// // Creates `state/issuer.db` (and `state/`) if missing, then applies the migrations.
/// let store = SqliteStore::open(dir.path().join("state/issuer.db")).await?;
/// let phc = aauth_issuer::password::hash_password("s3cret").unwrap();
/// let user = store.create_user("bob", &phc, 1_768_785_919).await?;
/// assert_eq!(user.name, "bob");
/// store.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with its parent directories) the database at `path` and
    /// brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the directory or file cannot be created or opened, or a
    /// migration fails (for example because the file was migrated by a newer version).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_migrated(path.as_ref(), MIGRATIONS).await
    }

    /// [`open`](Self::open) with the given migrations; tests use a prefix to stand for an
    /// older build.
    async fn open_migrated(
        path: &Path,
        migrations: &'static [(i64, &'static str, &'static str)],
    ) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Backend(BackendError::new(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        Migrator::new(Embedded(migrations))
            .await?
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    /// Waits for in-flight queries, closes every connection and checkpoints the WAL.
    /// Dropping the store without calling this loses nothing that was committed.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

// The queries are shared with PostgreSQL (see `queries.rs`). Why each single-use transition
// (`redeem_code`, and `decide` for approve/deny) succeeds exactly once here: it is one
// `UPDATE … WHERE <still unused> … RETURNING` statement, and SQLite serialises writers, so
// exactly one concurrent caller sees `used_at IS NULL` (or `decided_at IS NULL`) and gets
// the row back. Inside a transaction that UPDATE is the first statement, so the transaction
// takes the write lock at once instead of upgrading from a read snapshot that a concurrent
// writer could invalidate (which fails with SQLITE_BUSY rather than waiting).
//
// Text sorts by bytes: BINARY is SQLite's default collation, spelled out to match
// PostgreSQL's "C".
impl_store!(SqliteStore, sqlx::Sqlite, byte_order = "COLLATE BINARY");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::queries::{ACTIVE_KEY, BOOTSTRAP_KEY, DEACTIVATE_KEYS};
    use crate::store::{NewSigningKey, Store};

    fn key(kid: &str) -> NewSigningKey<'_> {
        NewSigningKey {
            kid,
            alg: "EdDSA",
            private_seed: &[7; 32],
            public_jwk: r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#,
        }
    }

    async fn plan(pool: &SqlitePool, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(pool)
                .await
                .unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    /// Every statement the store runs to find the active key is answered from the partial
    /// unique index, not by scanning every key ever retired.
    #[tokio::test]
    async fn the_active_key_is_found_through_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("i.db")).await.unwrap();
        for sql in [ACTIVE_KEY, DEACTIVATE_KEYS, BOOTSTRAP_KEY] {
            let plan = plan(&store.pool, sql).await;
            assert!(
                plan.contains("USING COVERING INDEX signing_keys_one_active")
                    || plan.contains("USING INDEX signing_keys_one_active"),
                "{sql}: {plan}"
            );
        }
    }

    /// A database written by a build with only the first migration keeps its keys, and the
    /// rebuilt index still allows one active key.
    #[tokio::test]
    async fn a_version_1_database_keeps_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.db");
        let old = SqliteStore::open_migrated(&path, &MIGRATIONS[..1])
            .await
            .unwrap();
        old.bootstrap_key(&key("k1"), 100).await.unwrap();
        old.rotate(&key("k2"), 200).await.unwrap();
        old.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.active_key().await.unwrap().unwrap().kid, "k2");
        let keys = store.verification_keys().await.unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["k2", "k1"], "both keys kept, the active one first");
        let second_active = sqlx::query("UPDATE signing_keys SET active = true WHERE kid = 'k1'")
            .execute(&store.pool)
            .await;
        assert!(second_active.is_err(), "two active keys were accepted");
        store.rotate(&key("k3"), 300).await.unwrap();
        assert_eq!(store.active_key().await.unwrap().unwrap().kid, "k3");
    }
}
