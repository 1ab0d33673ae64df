//! A development auth server on loopback, for interop runs against the reference peers.
//!
//! `ISSUER_PORT` (8003), `ISSUER_DB` (`issuer-dev.db`), `ISSUER_TRUSTED` (comma list of
//! upstream issuers), `ISSUER_CONSENT_SCOPES` (space list; default policy when unset).
//! Creates `testuser`/`testpass` on first start. Stops on a line on stdin or EOF.

use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{ConsentPolicy, IssuerConfig, serve};
use tokio::io::AsyncBufReadExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let port = env("ISSUER_PORT", "8003");
    let store = SqliteStore::open(env("ISSUER_DB", "issuer-dev.db")).await?;
    if store.user_by_name("testuser").await?.is_none() {
        store
            .create_user("testuser", &hash_password("testpass")?, 0)
            .await?;
    }
    let mut config = IssuerConfig::new(
        &format!("http://127.0.0.1:{port}"),
        Discovery::new(EgressPolicy::dev())?,
    )?
    .with_trusted_upstreams(
        env("ISSUER_TRUSTED", "")
            .split(',')
            .filter(|s| !s.is_empty()),
    );
    if let Ok(scopes) = std::env::var("ISSUER_CONSENT_SCOPES") {
        let mut p = ConsentPolicy::never();
        p.scopes = scopes.split_whitespace().map(str::to_owned).collect();
        config = config.with_consent(p);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    eprintln!("dev issuer on http://127.0.0.1:{port}");
    serve(config, store, listener, async {
        let mut line = String::new();
        let _ = tokio::io::BufReader::new(tokio::io::stdin())
            .read_line(&mut line)
            .await;
    })
    .await?;
    Ok(())
}
