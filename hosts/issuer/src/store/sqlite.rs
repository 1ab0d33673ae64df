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
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../../migrations/sqlite/0001_initial.sql"),
)];

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
        let path = path.as_ref();
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
        Migrator::new(Embedded(MIGRATIONS))
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
