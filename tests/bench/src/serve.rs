//! `serve`: the resource under test, in its own process so it can be pinned to one CPU.

use std::sync::Arc;

use aauth_core::{IssuerMetadata, Jwks};
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_tower::{Requirement, ResourceConfig};
use axum::Router;
use axum::routing::get;
use serde_json::json;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;

use crate::Error;
use crate::fixture::{agent_key, auth_key, resource_key};

/// What `GET /data` answers in every mode: the same small JSON body, so the modes differ
/// only by the layer.
const BODY: &str = r#"{"message":"Access granted","data":"This is protected data"}"#;

/// Serves `mode` until standard input closes.
pub(crate) fn run(mode: &str) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(mode))
}

async fn serve(mode: &str) -> Result<(), Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if mode == "issuer" {
        return serve_issuer().await;
    }
    let auth_l = TcpListener::bind("127.0.0.1:0").await?;
    let auth = format!("http://{}", auth_l.local_addr()?);
    let meta = serde_json::to_vec(&IssuerMetadata::for_id(&auth))?;
    let jwks = serde_json::to_vec(&Jwks::new(vec![
        aauth_core::Signer::public_jwk(&auth_key()),
    ]))?;
    let auth_app = Router::new()
        .route(
            "/.well-known/aauth-issuer",
            get(move || std::future::ready(([("content-type", "application/json")], meta.clone()))),
        )
        .route(
            "/jwks.json",
            get(move || std::future::ready(([("content-type", "application/json")], jwks.clone()))),
        );
    tokio::spawn(async move { axum::serve(auth_l, auth_app).await });

    let l = TcpListener::bind("127.0.0.1:0").await?;
    let resource = format!("http://{}", l.local_addr()?);
    let data = get(|| std::future::ready(([("content-type", "application/json")], BODY)));
    let app = match mode {
        "plain" => Router::new()
            .route("/data", data)
            .route("/stats", get(|| std::future::ready(stats_json(None)))),
        "aauth" | "aauth-nocache" => {
            let discovery = Discovery::new(EgressPolicy::dev())?;
            let mut b =
                ResourceConfig::builder(&resource, resource_key(), discovery).auth_server(&auth);
            if mode == "aauth-nocache" {
                b = b.token_cache_capacity(0);
            }
            let config = Arc::new(b.build()?);
            let layer = config.require(Requirement::auth_token(["data.read"]));
            Router::new().route("/data", data.layer(layer)).route(
                "/stats",
                get(move || std::future::ready(stats_json(Some(&config)))),
            )
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    println!(
        "{}",
        json!({ "resource": resource, "auth": auth, "mode": mode })
    );
    tokio::select! {
        r = axum::serve(l, app) => r?,
        () = stdin_closed() => {}
    }
    Ok(())
}

/// A metadata document at `/.well-known/{name}` and a one-key JWKS at `/jwks.json`.
fn metadata_app(
    name: &str,
    metadata: Vec<u8>,
    key: &aauth_core::SigningKey,
) -> Result<Router, Error> {
    let jwks = serde_json::to_vec(&Jwks::new(vec![aauth_core::Signer::public_jwk(key)]))?;
    Ok(Router::new()
        .route(
            &format!("/.well-known/{name}"),
            get(move || {
                std::future::ready(([("content-type", "application/json")], metadata.clone()))
            }),
        )
        .route(
            "/jwks.json",
            get(move || std::future::ready(([("content-type", "application/json")], jwks.clone()))),
        ))
}

/// `--mode issuer`: the auth server (`aauth-issuer`, default consent policy: `data.read`
/// is granted autonomously) on a SQLite database in a temporary directory, plus the agent
/// server and the resource whose metadata and keys it fetches (once; its discovery cache
/// keeps them). The temporary directory is removed on exit.
async fn serve_issuer() -> Result<(), Error> {
    use aauth_core::{AgentMetadata, ResourceMetadata};
    let dir = tempfile::tempdir()?;
    let agent_l = TcpListener::bind("127.0.0.1:0").await?;
    let agent = format!("http://{}", agent_l.local_addr()?);
    let agent_app = metadata_app(
        "aauth-agent",
        serde_json::to_vec(&AgentMetadata::for_id(&agent))?,
        &agent_key(),
    )?;
    tokio::spawn(async move { axum::serve(agent_l, agent_app).await });
    let resource_l = TcpListener::bind("127.0.0.1:0").await?;
    let resource = format!("http://{}", resource_l.local_addr()?);
    let resource_app = metadata_app(
        "aauth-resource",
        serde_json::to_vec(&ResourceMetadata::for_id(&resource))?,
        &resource_key(),
    )?;
    tokio::spawn(async move { axum::serve(resource_l, resource_app).await });

    let l = TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", l.local_addr()?);
    let store = aauth_issuer::store::SqliteStore::open(dir.path().join("issuer.db")).await?;
    let config = aauth_issuer::IssuerConfig::new(&issuer, Discovery::new(EgressPolicy::dev())?)?;
    let app = aauth_issuer::router(aauth_issuer::Issuer::new(config, store).await?)
        .route("/stats", get(|| std::future::ready(stats_json(None))));
    println!(
        "{}",
        json!({ "auth": issuer, "agent": agent, "resource": resource, "mode": "issuer" })
    );
    tokio::select! {
        r = axum::serve(l, app) => r?,
        () = stdin_closed() => {}
    }
    drop(dir);
    Ok(())
}

/// Resolves when standard input reaches end of file (the parent dropped its end).
async fn stdin_closed() {
    let mut buf = [0u8; 64];
    let mut stdin = tokio::io::stdin();
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Discovery and token-cache counters and the resident set size, as JSON.
fn stats_json(config: Option<&ResourceConfig<Discovery>>) -> String {
    let mut v = json!({ "rss_kib": rss_kib() });
    if let Some(c) = config {
        let d = c.fetcher().stats();
        let t = c.token_cache_stats();
        v["discovery"] = json!({
            "metadata_fetches": d.metadata_fetches,
            "jwks_fetches": d.jwks_fetches,
            "cache_hits": d.cache_hits,
        });
        v["token_cache"] = json!({
            "hits": t.hits,
            "misses": t.misses,
            "evictions": t.evictions,
            "len": t.len,
        });
    }
    v.to_string()
}

/// `VmRSS` of this process in KiB (Linux), 0 elsewhere.
pub(crate) fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
