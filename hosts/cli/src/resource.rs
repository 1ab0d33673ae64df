//! `aauth serve resource`: the seed routes of the reference resource.
//!
//! | route | requirement | answer |
//! |---|---|---|
//! | `/data-hwk` | any valid signature | `message`, `data`, `scheme`, `method` |
//! | `/data-jwks` | identified agent (`jwks` or agent token) | plus `agent_id`/`agent`, `token_type`, `agent_delegate` |
//! | `/data-auth` | auth token with `data.read data.write` | `message`, `data`, `scheme`, `token_type`, `method`, `agent`, `agent_delegate`, `scope`, `sub`, `act` |
//! | `/data-user` | auth token with `user.read` (consent at the default issuer policy) | as `/data-auth` |
//! | `/data-chain` | as `/data-auth`, then calls `--downstream` by token exchange | as `/data-auth` plus `downstream: {status, body, trace}` |

use std::sync::Arc;
use std::time::Duration;

use aauth_agent::{AgentClient, AgentRequest, Identity};
use aauth_core::SigningKey;
use aauth_discovery::{Discovery, EgressPolicy};
use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::CliError;
use crate::cli::ResourceArgs;
use crate::keys;
use crate::serve;

/// The scope `/data-auth` and `/data-chain` require.
pub const DATA_SCOPE: &str = "data.read data.write";
/// The scope `/data-user` requires (the issuer's default policy sends it to consent).
pub const USER_SCOPE: &str = "user.read";

/// What a resource needs.
#[derive(Debug)]
pub struct ResourceOptions {
    /// The resource identifier (public base URL).
    pub id: String,
    /// Trusted auth servers; the first is named in challenges.
    pub auth_servers: Vec<String>,
    /// What `/data-chain` calls.
    pub downstream: Option<String>,
    /// The resource key (signs resource tokens and token-exchange requests).
    pub key: SigningKey,
    /// Development egress policy (http and loopback allowed).
    pub dev: bool,
}

struct AppState {
    downstream: Option<(String, AgentClient)>,
}

/// Builds the logged router: seed routes plus `/.well-known/aauth-resource` and
/// `/jwks.json` (whose key also signs the exchange requests of `/data-chain`).
///
/// # Errors
/// [`CliError`] on a bad id, auth server or downstream URL.
pub fn build(opts: ResourceOptions) -> Result<Router, CliError> {
    let policy = if opts.dev {
        EgressPolicy::dev()
    } else {
        EgressPolicy::default()
    };
    if let Some(d) = &opts.downstream {
        policy.check_url(d).map_err(|e| {
            CliError::usage(format!(
                "--downstream {d}: {e} (use --dev for http/loopback)"
            ))
        })?;
    }
    let id = opts.id.trim_end_matches('/').to_owned();
    let client_key = Arc::new(keys::clone_key(&opts.key));
    let discovery = Discovery::new(policy.clone()).map_err(|e| CliError::server("discovery", e))?;
    let mut builder = ResourceConfig::builder(id.clone(), opts.key, discovery).supported_scopes([
        "data.read",
        "data.write",
        USER_SCOPE,
    ]);
    for a in &opts.auth_servers {
        builder = builder.auth_server(a.trim_end_matches('/'));
    }
    let config = builder
        .build()
        .map_err(|e| CliError::usage(format!("resource configuration: {e}")))?;
    let downstream = match opts.downstream {
        Some(url) => {
            // The downstream's challenge names the auth server this resource will call:
            // without an egress policy that would be a request forger (digest §5.2 S-22).
            let client = AgentClient::builder(client_key, Identity::resource(&id))
                .propagate(crate::telemetry::propagator())
                .trace(true)
                .timeout(Duration::from_secs(30))
                .egress(policy)
                .build()
                .map_err(CliError::from)?;
            Some((url, client))
        }
        None => None,
    };
    let state = Arc::new(AppState { downstream });
    let app = Router::new()
        .route(
            "/",
            get(move || async move { Json(json!({"resource_id": id, "status": "running"})) }),
        )
        .route(
            "/data-hwk",
            any(data_hwk).layer(config.require(Requirement::Signature)),
        )
        .route(
            "/data-jwks",
            any(data_jwks).layer(config.require(Requirement::Identified)),
        )
        .route(
            "/data-auth",
            any(data_auth).layer(config.require(Requirement::auth_token(DATA_SCOPE.split(' ')))),
        )
        .route(
            "/data-user",
            any(data_auth).layer(config.require(Requirement::auth_token([USER_SCOPE]))),
        )
        .route(
            "/data-chain",
            any(data_chain).layer(config.require(Requirement::auth_token(DATA_SCOPE.split(' ')))),
        )
        .with_state(state)
        .merge(config.metadata_router());
    Ok(serve::with_request_log(app, "resource"))
}

async fn data_hwk(method: Method, agent: VerifiedAgent) -> Json<Value> {
    Json(json!({
        "message": "Access granted",
        "data": "This is protected data",
        "scheme": agent.scheme(),
        "method": method.as_str(),
    }))
}

async fn data_jwks(method: Method, agent: VerifiedAgent) -> Json<Value> {
    match agent.token_type() {
        Some("agent+jwt") => Json(json!({
            "message": "Access granted",
            "data": "This is protected data (identified via agent token)",
            "scheme": "jwt",
            "token_type": "agent+jwt",
            "method": method.as_str(),
            "agent": agent.agent(),
            "agent_delegate": agent.agent_delegate(),
        })),
        Some(_) => Json(granted(&agent, &method)),
        None => Json(json!({
            "message": "Access granted",
            "data": "This is protected data",
            "scheme": agent.scheme(),
            "method": method.as_str(),
            "agent_id": agent.agent(),
            "agent": agent.agent(),
        })),
    }
}

/// The reference's 200 body for an authorized request.
fn granted(agent: &VerifiedAgent, method: &Method) -> Value {
    json!({
        "message": "Access granted",
        "data": "This is protected data (authorized)",
        "scheme": agent.scheme(),
        "token_type": agent.token_type(),
        "method": method.as_str(),
        "agent": agent.agent(),
        "agent_delegate": agent.agent_delegate(),
        "scope": agent.scope(),
        "sub": agent.sub(),
        "act": agent.act().and_then(|a| serde_json::to_value(a).ok()),
    })
}

async fn data_auth(method: Method, agent: VerifiedAgent) -> Json<Value> {
    Json(granted(&agent, &method))
}

fn error(status: StatusCode, code: &str, description: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description.into()})),
    )
        .into_response()
}

async fn data_chain(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    agent: VerifiedAgent,
) -> Response {
    let Some((url, client)) = &state.downstream else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no downstream configured (--downstream)",
        );
    };
    // The layer verified this header; take the auth token it carries.
    let Some(upstream) = agent.presented_auth_token(&headers) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "no auth token in Signature-Key",
        );
    };
    let request = match AgentRequest::get(url) {
        Ok(r) => r.upstream_token(upstream),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            );
        }
    };
    let downstream = match client.send(request).await {
        Ok(res) => {
            let status = res.status();
            let trace: Vec<String> = res
                .trace
                .as_ref()
                .map(|t| t.to_string().lines().map(str::to_owned).collect())
                .unwrap_or_default();
            let text = res.response.text().await.unwrap_or_default();
            let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            json!({"status": status, "body": body, "trace": trace})
        }
        Err(e) => {
            let desc = format!("downstream call failed: {e}");
            let mut body = granted(&agent, &method);
            body["downstream"] =
                json!({"status": null, "error": e.error_code(), "error_description": desc});
            return (StatusCode::BAD_GATEWAY, Json(body)).into_response();
        }
    };
    let mut body = granted(&agent, &method);
    body["downstream"] = downstream;
    Json(body).into_response()
}

/// Runs `aauth serve resource` until SIGINT/SIGTERM.
///
/// # Errors
/// [`CliError`].
pub async fn serve_cli(args: ResourceArgs) -> Result<(), CliError> {
    let key = match &args.key {
        Some(path) => keys::load_or_create(path)?,
        None => keys::generate("resource-key-1")?,
    };
    let router = build(ResourceOptions {
        id: args.id.clone(),
        auth_servers: args.auth_server.clone(),
        downstream: args.downstream.clone(),
        key,
        dev: args.dev,
    })?;
    let listener = serve::bind(args.listen).await?;
    tracing::info!(
        "resource {} on {} (auth server {})",
        args.id,
        args.listen,
        args.auth_server.join(", ")
    );
    serve::run(listener, router, serve::shutdown_signal()).await
}
