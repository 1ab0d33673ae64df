//! The PostgreSQL backend, for several auth server processes sharing one database.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;
use super::queries::impl_store;
use super::sql::Embedded;

/// How long a request waits for a free pooled connection before failing with a backend
/// error (the database is down or overloaded).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections per server process. Each auth server holds its own pool, so the database's
/// `max_connections` must cover this times the number of processes.
const MAX_CONNECTIONS: u32 = 16;

/// The embedded migrations, in order. SQLite's version 2 has no counterpart here: it
/// rebuilt an index to say `WHERE active`, which this one always said.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../../migrations/postgres/0001_initial.sql"),
)];

/// [`Store`](super::Store) on a PostgreSQL database, for running several auth server
/// processes (behind a load balancer) on one shared state.
///
/// Every single-use transition is one `UPDATE … WHERE <still unused> … RETURNING`
/// statement at PostgreSQL's default `READ COMMITTED` isolation: a concurrent second
/// `UPDATE` of the same row waits for the first to commit, re-evaluates the `WHERE` clause
/// against the committed row and matches nothing. So a code is redeemed, and a pending
/// request decided, exactly once across all processes. Migrations run under PostgreSQL's
/// advisory lock, so processes may start at the same time.
///
/// Text ordering uses the `"C"` collation, so sorted results (scopes, key ids) are in byte
/// order on every database, as with SQLite.
///
/// Cloning is cheap and shares the connection pool.
///
/// ```no_run
/// use aauth_issuer::store::{PgStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), aauth_issuer::store::StoreError> {
/// // The password may also come from PGPASSWORD or ~/.pgpass instead of the URL.
/// let store = PgStore::connect("postgres://aauth@db.internal:5432/aauth").await?;
/// let phc = aauth_issuer::password::hash_password("s3cret").unwrap();
/// store.create_user("bob", &phc, 1_768_785_919).await?;
/// store.close().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database named by a `postgres://` (or `postgresql://`) URL and
    /// brings its schema up to date. libpq's environment variables (`PGPASSWORD`,
    /// `PGSSLMODE`, …) and `~/.pgpass` fill in what the URL leaves out.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a URL that does not parse; [`StoreError::Backend`]
    /// when the database cannot be reached or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|_| StoreError::InvalidInput("database URL"))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (to choose its size, TLS or timeouts) and migrates the schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Migrator::new(Embedded(MIGRATIONS))
            .await?
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

// The queries are shared with SQLite (see `queries.rs`). Why each single-use transition
// (`redeem_code`, and `decide` for approve/deny) succeeds exactly once across processes: it
// is one `UPDATE … WHERE <still unused> … RETURNING` statement at the default READ
// COMMITTED isolation. A concurrent UPDATE of the same row blocks on its row lock, then
// re-checks `used_at IS NULL` (or `decided_at IS NULL`) against the committed version and
// matches nothing, so only the first caller gets the row back. Inside a transaction that
// UPDATE is the first statement and holds the row lock until commit.
//
// Text sorts by bytes with the "C" collation, whatever the database's default, as SQLite's
// BINARY does.
impl_store!(PgStore, sqlx::Postgres, byte_order = "COLLATE \"C\"");
