//! `aauth serve issuer`: the auth server over SQLite or PostgreSQL.

use std::path::PathBuf;
use std::time::Duration;

use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{PgStore, SqliteStore, Store, StoreError};
use aauth_issuer::{ConsentPolicy, Issuer, IssuerConfig};
use axum::Router;

use crate::CliError;
use crate::cli::{Database, IssuerArgs, IssuerKeysCommand, UserPass};
use crate::keys::data_dir;
use crate::serve;

/// What an auth server needs.
#[derive(Clone, Debug)]
pub struct IssuerOptions {
    /// The issuer identifier (public base URL).
    pub id: String,
    /// The database (SQLite file or PostgreSQL URL).
    pub db: Database,
    /// Upstream issuers trusted for token exchange.
    pub trust: Vec<String>,
    /// Scope prefixes needing consent; empty = the default policy.
    pub consent_prefixes: Vec<String>,
    /// Users to create when missing.
    pub users: Vec<UserPass>,
    /// Development egress policy (http and loopback allowed).
    pub dev: bool,
    /// How often a background task deletes expired pending requests, codes, sessions and
    /// refresh tokens; `None`: never (tests, the demo).
    pub purge_every: Option<Duration>,
}

/// The default database path: `issuer.db` under the data directory.
pub fn default_db() -> PathBuf {
    data_dir().join("issuer.db")
}

/// Opens the store selected by [`IssuerOptions::db`], creates the users and builds the
/// logged router.
///
/// # Errors
/// [`CliError`] when the configuration, the store or password hashing fails.
pub async fn build(opts: &IssuerOptions) -> Result<Router, CliError> {
    with_store(&opts.db, BuildRouter(opts)).await
}

/// An operation on whichever store `--db` selects. The store type differs per backend, so
/// the operation is generic over it and [`with_store`] picks the backend in one place.
trait WithStore {
    /// What the operation returns.
    type Output;

    /// Runs the operation on the opened store.
    async fn run<S: Store + 'static>(self, store: S) -> Result<Self::Output, CliError>;
}

/// Opens the SQLite file or PostgreSQL database `db` names and runs `op` on it.
async fn with_store<T: WithStore>(db: &Database, op: T) -> Result<T::Output, CliError> {
    let what = || format!("database {db}");
    match db {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(path)
                .await
                .map_err(|e| CliError::server(what(), e))?;
            op.run(store).await
        }
        Database::Postgres(url) => {
            let store = PgStore::connect(url)
                .await
                .map_err(|e| CliError::server(what(), e))?;
            op.run(store).await
        }
    }
}

/// [`build`] over the opened store.
struct BuildRouter<'a>(&'a IssuerOptions);

impl WithStore for BuildRouter<'_> {
    type Output = Router;

    async fn run<S: Store + 'static>(self, store: S) -> Result<Router, CliError> {
        build_with(self.0, store).await
    }
}

async fn build_with<S: Store + 'static>(
    opts: &IssuerOptions,
    store: S,
) -> Result<Router, CliError> {
    let policy = if opts.dev {
        EgressPolicy::dev()
    } else {
        EgressPolicy::default()
    };
    let discovery = Discovery::new(policy).map_err(|e| CliError::server("discovery", e))?;
    let mut config = IssuerConfig::new(&opts.id, discovery)
        .map_err(|e| CliError::usage(format!("--id {}: {e}", opts.id)))?
        .with_trusted_upstreams(opts.trust.iter().map(|s| s.trim_end_matches('/')));
    if !opts.consent_prefixes.is_empty() {
        let mut p = ConsentPolicy::never();
        p.prefixes.clone_from(&opts.consent_prefixes);
        config = config.with_consent(p);
    }
    for u in &opts.users {
        let existing = store
            .user_by_name(&u.name)
            .await
            .map_err(|e| CliError::server("database", e))?;
        if existing.is_none() {
            let hash = hash_password(&u.password).map_err(|e| CliError::server("password", e))?;
            store
                .create_user(&u.name, &hash, 0)
                .await
                .map_err(|e| CliError::server("database", e))?;
        }
    }
    let issuer = Issuer::new(config, store)
        .await
        .map_err(|e| CliError::server("issuer", e))?;
    if let Some(every) = opts.purge_every {
        let issuer = issuer.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = aauth_core::UnixTime::now().as_secs();
                // Correctness never depends on purging (lookups check expiry), so a
                // failure is logged and retried at the next tick.
                match issuer.store().purge_expired(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("purged {n} expired records"),
                    Err(e) => tracing::warn!("purging expired records failed: {e}"),
                }
            }
        });
    }
    Ok(serve::with_request_log(
        aauth_issuer::router(issuer),
        "issuer",
    ))
}

/// Runs `aauth issuer-keys …` against the database and returns what to print.
///
/// # Errors
/// [`CliError`] when the database cannot be opened or the operation is refused (unknown
/// kid, retiring the active key).
pub async fn signing_keys(command: IssuerKeysCommand) -> Result<String, CliError> {
    let (db, op) = match command {
        IssuerKeysCommand::List(d) => (d.db, KeysOp::List),
        IssuerKeysCommand::Rotate(d) => (d.db, KeysOp::Rotate),
        IssuerKeysCommand::Retire { db, kid } => (db.db, KeysOp::Retire(kid)),
    };
    let db = db.unwrap_or_else(|| Database::Sqlite(default_db()));
    with_store(&db, op).await
}

/// What `aauth issuer-keys` does to the signing keys; every operation then prints the
/// resulting key list.
enum KeysOp {
    /// Only list them.
    List,
    /// Retire the key with this kid (it must not be the active one).
    Retire(String),
    /// Make a new active key; the old one stays for verification.
    Rotate,
}

impl WithStore for KeysOp {
    type Output = String;

    async fn run<S: Store + 'static>(self, store: S) -> Result<String, CliError> {
        keys_op(&store, self).await
    }
}

async fn keys_op<S: Store>(store: &S, op: KeysOp) -> Result<String, CliError> {
    let now = aauth_core::UnixTime::now().as_secs();
    let mut out = String::new();
    match op {
        KeysOp::List => {}
        KeysOp::Rotate => {
            let kid = aauth_issuer::rotate_signing_key(store, now)
                .await
                .map_err(|e| CliError::server("rotate", e))?;
            out.push_str(&format!("new active key {kid}\n"));
        }
        KeysOp::Retire(kid) => {
            store.retire(&kid, now).await.map_err(|e| match e {
                StoreError::NotFound => CliError::usage(format!("no signing key {kid}")),
                StoreError::Conflict => CliError::usage(format!(
                    "{kid} is the active key: rotate first, then retire it"
                )),
                e => CliError::server("retire", e),
            })?;
            out.push_str(&format!("retired {kid}\n"));
        }
    }
    let keys = store
        .verification_keys()
        .await
        .map_err(|e| CliError::server("database", e))?;
    if keys.is_empty() {
        out.push_str("no signing keys yet (the auth server creates one at first start)\n");
    }
    for k in keys {
        let role = if k.active { "active" } else { "verify-only" };
        out.push_str(&format!("{}\t{role}\t{}\n", k.kid, k.created_at));
    }
    Ok(out)
}

/// Runs `aauth serve issuer` until SIGINT/SIGTERM.
///
/// # Errors
/// [`CliError`].
pub async fn serve_cli(args: IssuerArgs) -> Result<(), CliError> {
    let opts = IssuerOptions {
        id: args.id.trim_end_matches('/').to_owned(),
        db: args.db.unwrap_or_else(|| Database::Sqlite(default_db())),
        trust: args.trust,
        consent_prefixes: args.consent_scope,
        users: args.user,
        dev: args.dev,
        purge_every: (args.purge_interval > 0).then(|| Duration::from_secs(args.purge_interval)),
    };
    let router = build(&opts).await?;
    let listener = serve::bind(args.listen).await?;
    tracing::info!("auth server {} on {} ({})", opts.id, args.listen, opts.db);
    serve::run(listener, router, serve::shutdown_signal()).await
}
