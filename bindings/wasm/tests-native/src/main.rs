//! Loopback fixture for the package's node tests (`bindings/wasm/test/*.test.mjs`): starts
//! an agent server (metadata and JWKS), two resources (`aauth-tower`) and two auth servers
//! (`aauth-issuer`, SQLite in a temp directory) on `127.0.0.1:0`, prints their URLs as one
//! JSON line on stdout, and stops on stdin EOF (so it also stops when the test process dies)
//! or after `AAUTH_E2E_TTL` seconds (default 300), whichever comes first.
//!
//! `AGENT_SEED` (base64url, 32 bytes) is the agent server's key seed (kid `key-1`), so the
//! JS agent under test can sign as that agent.
//!
//! Resource 1 (auth server: issuer 1, user `testuser` / `testpass`):
//! `/open` (any signature), `/whoami` (identified agent), `/data` (auth token with
//! `data.read`, granted autonomously), `/profile` (auth token with `profile`, which needs
//! consent), `/chain` (`profile`, then calls resource 2 as an agent, exchanging the caller's
//! auth token at issuer 2, digest §2.8 / L§9.10, and relays what resource 2 saw).
//! Resource 2 (auth server: issuer 2, which trusts issuer 1 as an upstream): `/data`.
//!
//! Resource 1 and issuer 1 answer CORS (any origin, `Agent-Auth` exposed) so a browser page
//! on another loopback origin can run the agent flow (`test/browser.test.mjs`); the native
//! hosts leave CORS to the deployment, as here.

use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{AgentClient, AgentRequest, AgentServer, Identity};
use aauth_core::SigningKey;
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_issuer::password::hash_password;
use aauth_issuer::store::{SqliteStore, Store};
use aauth_issuer::{Issuer, IssuerConfig, router as issuer_router};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn bind() -> Result<(TcpListener, String), BoxError> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

fn serve(listener: TcpListener, app: Router) {
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// What the resource verified about the caller.
fn seen(agent: &VerifiedAgent) -> Value {
    json!({
        "agent": agent.agent(),
        "agent_delegate": agent.agent_delegate(),
        "scheme": agent.scheme(),
        "token_type": agent.token_type(),
        "scope": agent.scope(),
        "sub": agent.sub(),
        "act": agent.act(),
        "thumbprint": agent.signer_thumbprint(),
    })
}

async fn whoami(agent: VerifiedAgent) -> Json<Value> {
    Json(seen(&agent))
}

/// Browsers may read `Agent-Auth` (the challenge) and send the signature headers.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        .allow_headers(Any)
        .expose_headers([HeaderName::from_static("agent-auth")])
}

#[derive(Clone)]
struct Downstream {
    client: AgentClient,
    url: String,
}

/// `/chain`: resource 1 calls resource 2 as an agent (`Identity::resource`), handing the
/// caller's auth token (from its `Signature-Key`) to the client as the upstream token, so the
/// client answers resource 2's challenge with `request_type=exchange` at issuer 2.
async fn chain(State(d): State<Downstream>, headers: HeaderMap, agent: VerifiedAgent) -> Response {
    let Some(upstream) = agent.presented_auth_token(&headers) else {
        return (StatusCode::BAD_REQUEST, "no auth token").into_response();
    };
    let request = match AgentRequest::get(&d.url) {
        Ok(r) => r.upstream_token(upstream),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match d.client.send(request).await {
        Ok(res) => {
            let status = res.status();
            let body = res.response.bytes().await.unwrap_or_default();
            let downstream: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Json(json!({
                "upstream": seen(&agent),
                "downstream_status": status,
                "downstream": downstream,
            }))
            .into_response()
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": e.error_code(), "error_description": e.to_string() })),
        )
            .into_response(),
    }
}

async fn issuer(
    id: &str,
    db: &std::path::Path,
    with_user: bool,
    upstreams: &[&str],
) -> Result<Router, BoxError> {
    let store = SqliteStore::open(db).await?;
    if with_user {
        store
            .create_user("testuser", &hash_password("testpass")?, 0)
            .await?;
    }
    let config = IssuerConfig::new(id, Discovery::new(EgressPolicy::dev())?)?
        .with_trusted_upstreams(upstreams.iter().copied());
    Ok(issuer_router(Issuer::new(config, store).await?))
}

fn resource_key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32]).with_kid("resource-key-1")
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let seed_b64 = std::env::var("AGENT_SEED").map_err(|_| "AGENT_SEED is required")?;
    let seed: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seed_b64.trim())?
        .try_into()
        .map_err(|_| "AGENT_SEED must be 32 bytes")?;
    let ttl: u64 = std::env::var("AAUTH_E2E_TTL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);

    let (agent_l, agent_url) = bind().await?;
    let (res_l, res_url) = bind().await?;
    let (iss_l, iss_url) = bind().await?;
    let (res2_l, res2_url) = bind().await?;
    let (iss2_l, iss2_url) = bind().await?;

    let agent_key = Arc::new(SigningKey::from_seed(&seed).with_kid("key-1"));
    serve(
        agent_l,
        AgentServer::new(agent_url.clone(), agent_key).router(),
    );

    let dir = std::env::temp_dir().join(format!("aauth-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    serve(
        iss_l,
        issuer(&iss_url, &dir.join("i1.db"), true, &[])
            .await?
            .layer(cors()),
    );
    serve(
        iss2_l,
        issuer(&iss2_url, &dir.join("i2.db"), false, &[&iss_url]).await?,
    );

    // Resource 2 (auth server issuer 2): the downstream of `/chain`.
    let r2 = ResourceConfig::builder(
        &res2_url,
        resource_key(0x53),
        Discovery::new(EgressPolicy::dev())?,
    )
    .auth_server(iss2_url.clone())
    .supported_scopes(["data.read"])
    .build()?;
    let app2: Router = Router::new()
        .route(
            "/data",
            get(whoami).layer(r2.require(Requirement::auth_token(["data.read"]))),
        )
        .merge(r2.metadata_router());
    serve(res2_l, app2);

    // Resource 1 (auth server issuer 1), which calls resource 2 as an agent on `/chain`.
    let aauth = ResourceConfig::builder(
        &res_url,
        resource_key(0x52),
        Discovery::new(EgressPolicy::dev())?,
    )
    .auth_server(iss_url.clone())
    .supported_scopes(["data.read", "profile"])
    .build()?;
    let downstream = Downstream {
        client: AgentClient::builder(Arc::new(resource_key(0x52)), Identity::resource(&res_url))
            .timeout(Duration::from_secs(10))
            .build()?,
        url: format!("{res2_url}/data"),
    };
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
        .route(
            "/chain",
            get(chain).layer(aauth.require(Requirement::auth_token(["profile"]))),
        )
        .with_state(downstream)
        .merge(aauth.metadata_router())
        .layer(cors());
    serve(res_l, app);

    println!(
        "{}",
        json!({
            "agent": agent_url,
            "resource": res_url,
            "issuer": iss_url,
            "resource2": res2_url,
            "issuer2": iss2_url,
        })
    );
    let stdin_eof = async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    };
    tokio::select! {
        () = stdin_eof => {}
        () = tokio::time::sleep(Duration::from_secs(ttl)) => eprintln!("aauth-e2e-servers: TTL of {ttl} s reached, stopping"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
