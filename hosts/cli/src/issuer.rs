//! `aauth serve issuer`: the auth server over SQLite.

use std::path::PathBuf;

use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store as _};
use aauth_issuer::{ConsentPolicy, Issuer, IssuerConfig};
use axum::Router;

use crate::CliError;
use crate::cli::{IssuerArgs, UserPass};
use crate::keys::data_dir;
use crate::serve;

/// What an auth server needs.
#[derive(Clone, Debug)]
pub struct IssuerOptions {
    /// The issuer identifier (public base URL).
    pub id: String,
    /// SQLite database file.
    pub db: PathBuf,
    /// Upstream issuers trusted for token exchange.
    pub trust: Vec<String>,
    /// Scope prefixes needing consent; empty = the default policy.
    pub consent_prefixes: Vec<String>,
    /// Users to create when missing.
    pub users: Vec<UserPass>,
    /// Development egress policy (http and loopback allowed).
    pub dev: bool,
}

/// The default database path: `issuer.db` under the data directory.
pub fn default_db() -> PathBuf {
    data_dir().join("issuer.db")
}

/// Opens the store, creates the users and builds the logged router.
///
/// # Errors
/// [`CliError`] when the configuration, the store or password hashing fails.
pub async fn build(opts: &IssuerOptions) -> Result<Router, CliError> {
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
    let store = SqliteStore::open(&opts.db)
        .await
        .map_err(|e| CliError::server(format!("database {}", opts.db.display()), e))?;
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
    Ok(serve::with_request_log(
        aauth_issuer::router(issuer),
        "issuer",
    ))
}

/// Runs `aauth serve issuer` until SIGINT/SIGTERM.
///
/// # Errors
/// [`CliError`].
pub async fn serve_cli(args: IssuerArgs) -> Result<(), CliError> {
    let opts = IssuerOptions {
        id: args.id.trim_end_matches('/').to_owned(),
        db: args.db.unwrap_or_else(default_db),
        trust: args.trust,
        consent_prefixes: args.consent_scope,
        users: args.user,
        dev: args.dev,
    };
    let router = build(&opts).await?;
    let listener = serve::bind(args.listen).await?;
    tracing::info!(
        "auth server {} on {} (db {})",
        opts.id,
        args.listen,
        opts.db.display()
    );
    serve::run(listener, router, serve::shutdown_signal()).await
}
