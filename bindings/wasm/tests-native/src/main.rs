//! Loopback fixture for `bindings/wasm/test/e2e.test.mjs`: starts an agent server (metadata
//! and JWKS), a resource (`aauth-tower`) and an auth server (`aauth-issuer`, SQLite in a
//! temp file) on `127.0.0.1:0`, prints their URLs as one JSON line on stdout, and stops on
//! stdin EOF.
//!
//! `AGENT_SEED` (base64url, 32 bytes) is the agent server's key seed (kid `key-1`), so the
//! JS agent under test can sign as that agent. Resource routes: `/open` (any signature),
//! `/whoami` (identified agent), `/data` (auth token with `data.read`, granted autonomously), `/profile` (auth token
//! with `profile`, which needs consent: user `testuser` / `testpass`).

use std::sync::Arc;

use aauth_agent::AgentServer;
use aauth_core::SigningKey;
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{IssuerConfig, serve};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn bind() -> Result<(TcpListener, String), BoxError> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

async fn whoami(agent: VerifiedAgent) -> Json<Value> {
    Json(json!({
        "agent": agent.agent(),
        "scheme": agent.scheme(),
        "scope": agent.scope(),
        "thumbprint": agent.signer_thumbprint(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let seed_b64 = std::env::var("AGENT_SEED").map_err(|_| "AGENT_SEED is required")?;
    let seed: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seed_b64.trim())?
        .try_into()
        .map_err(|_| "AGENT_SEED must be 32 bytes")?;

    let (agent_l, agent_url) = bind().await?;
    let (res_l, res_url) = bind().await?;
    let (iss_l, iss_url) = bind().await?;

    let agent_key = Arc::new(SigningKey::from_seed(&seed).with_kid("key-1"));
    let agent = AgentServer::new(agent_url.clone(), agent_key);
    tokio::spawn(async move { axum::serve(agent_l, agent.router()).await });

    let res_key = SigningKey::from_seed(&[0x52; 32]).with_kid("resource-key-1");
    let aauth = ResourceConfig::builder(&res_url, res_key, Discovery::new(EgressPolicy::dev())?)
        .auth_server(iss_url.clone())
        .supported_scopes(["data.read", "profile"])
        .build()?;
    let app: Router = Router::new()
        .route(
            "/open",
            get(whoami).layer(aauth.require(Requirement::Signature)),
        )
        .route(
            "/whoami",
            get(whoami).layer(aauth.require(Requirement::Identified)),
        )
        .route(
            "/data",
            get(whoami).layer(aauth.require(Requirement::auth_token(["data.read"]))),
        )
        .route(
            "/profile",
            get(whoami).layer(aauth.require(Requirement::auth_token(["profile"]))),
        )
        .merge(aauth.metadata_router());
    tokio::spawn(async move { axum::serve(res_l, app).await });

    let db = std::env::temp_dir().join(format!("aauth-e2e-{}.db", std::process::id()));
    let store = SqliteStore::open(&db).await?;
    store
        .create_user("testuser", &hash_password("testpass")?, 0)
        .await?;
    let config = IssuerConfig::new(&iss_url, Discovery::new(EgressPolicy::dev())?)?;
    let issuer = tokio::spawn(serve(config, store, iss_l, async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    }));

    println!(
        "{}",
        json!({ "agent": agent_url, "resource": res_url, "issuer": iss_url })
    );
    let _ = issuer.await;
    let _ = std::fs::remove_file(&db);
    Ok(())
}
