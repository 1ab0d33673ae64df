//! # aauth-spin
//!
//! An AAuth resource as a Spin HTTP component (spin-sdk 7: a WASIp3 component built for
//! `wasm32-wasip2`, exporting `wasi:http/handler@0.3.0`).
//!
//! Every request except the resource's own metadata (`/.well-known/aauth-resource`) and
//! JWKS (`/jwks.json`) is verified with `aauth-core` (`hwk`, `jwks`, and `jwt` with an agent
//! or auth token). Keys are discovered with Spin's outbound HTTP ([`keys`]), after an egress
//! check ([`egress`]), and cached in the instance and, built with the `spin-kv` feature, in
//! Spin's key-value store across instances ([`kv`]). A request that does not meet its path's
//! requirement gets an `Agent-Auth` challenge, with a resource token signed by the
//! configured key when an auth token is needed. A verified request is forwarded to the
//! configured upstream with the identity in `X-AAuth-*` headers, or answered by the
//! built-in protected handler. A verified request with a `Nonce` (on `POST`, `PUT`,
//! `DELETE`, `PATCH` by default) is refused when another instance already accepted it
//! (L§10.5): the nonces are kept in Spin's key-value store with an atomic increment,
//! built with the `spin-replay` feature ([`replay`]). Configuration comes from environment
//! variables, or from Spin's component variables with the `spin-variables` feature
//! ([`config`]). Outbound fetches and the upstream are bounded in time ([`within`]).
//!
//! This crate only converts `http` ↔ core types, reads the clock ([`now`]) and fetches
//! keys; the protocol lives in `aauth-core` and the HTTP error shapes in `aauth-http`.
#![forbid(unsafe_code)]

pub mod config;
pub mod egress;
pub mod keys;
pub mod kv;
pub mod replay;

use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use std::sync::OnceLock;
use std::time::Duration;

use aauth_core::token::TokenType;
use aauth_core::verify::{self, Identity, TokenPolicy, VerifiedRequest, VerifyError};
use aauth_core::{AgentAuth, ErrorCode, UnixTime};
use aauth_http::{
    ChallengeIssuer, Refusal, RequestView, Unmet, challenge_response, error_response, json_error,
    presents_auth_token, verification_challenge,
};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use spin_sdk::http::Request;
use spin_sdk::http_service;

use crate::config::{Config, ConfigError, Requirement};
use crate::replay::ReplayRefusal;

/// The identity headers set on forwarded requests (and stripped from incoming ones).
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-aauth-agent",
    "x-aauth-sub",
    "x-aauth-scope",
    "x-aauth-delegate",
    "x-aauth-scheme",
];

/// Largest upstream response body relayed.
const MAX_UPSTREAM_BODY: usize = 8 * 1024 * 1024;

/// The wall clock: the only place the component reads it.
pub fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime::from_secs(secs)
}

/// `f`, unless `limit` passes first (then `None`; `f` is dropped, cancelling its I/O).
/// The timer is `wasi:clocks/monotonic-clock`'s `wait-for`, so no host support beyond
/// what every WASIp3 host provides is needed.
pub async fn within<F: Future>(limit: Duration, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut timer = pin!(spin_sdk::time::sleep(limit));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// The configuration, read once per instance.
async fn config() -> Result<&'static Config, ConfigError> {
    static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return c.as_ref().map_err(|e| *e);
    }
    let loaded = load_config().await;
    CONFIG.get_or_init(|| loaded).as_ref().map_err(|e| *e)
}

#[cfg(not(feature = "spin-variables"))]
async fn load_config() -> Result<Config, ConfigError> {
    Config::from_env()
}

/// Spin's component variables first (empty counts as unset), then the environment.
#[cfg(feature = "spin-variables")]
async fn load_config() -> Result<Config, ConfigError> {
    let mut vars = std::collections::HashMap::new();
    for var in config::VARIABLES {
        if let Ok(v) = spin_sdk::variables::get(config::spin_name(var)).await
            && !v.is_empty()
        {
            vars.insert(var, v);
        }
    }
    Config::from_lookup(|k| vars.get(k).cloned().or_else(|| std::env::var(k).ok()))
}

/// The Spin entry point.
#[http_service]
async fn handle(req: Request) -> Response<Full<Bytes>> {
    handle_inner(req).await.map(Full::new)
}

async fn handle_inner(req: Request) -> Response<Bytes> {
    let cfg = match config().await {
        Ok(c) => c,
        Err(e) => {
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                &format!("resource configuration: {e}"),
                None,
            );
        }
    };
    let path = req.uri().path();
    if req.method() == Method::GET && path == "/.well-known/aauth-resource" {
        return json(StatusCode::OK, cfg.metadata_json.clone());
    }
    if req.method() == Method::GET && path == "/jwks.json" {
        return json(StatusCode::OK, cfg.jwks_json.clone());
    }
    match protect(req, cfg).await {
        Ok(resp) | Err(resp) => resp,
    }
}

type Reply = Result<Response<Bytes>, Response<Bytes>>;

async fn protect(req: Request, cfg: &Config) -> Reply {
    let requirement = cfg.requirement(req.uri().path());
    let (mut parts, body) = req.into_parts();
    let too_large = || {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            &format!("the request body exceeds {} bytes", cfg.body_limit),
            None,
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.body_limit as u64) {
        return Err(too_large());
    }
    let body = match Limited::new(body, cfg.body_limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(_) => {
            return Err(json_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "the request body could not be read",
                None,
            ));
        }
    };
    let now = now();
    let signed = ["signature", "signature-input", "signature-key"]
        .iter()
        .any(|h| parts.headers.contains_key(*h));
    if !signed {
        return Err(refused(Refusal::before_verification(
            &requirement,
            Unmet::Signature,
        )));
    }
    let (verified, scheme) = verify_request(&parts, &body, cfg, now).await?;
    let window = aauth_core::httpsig::VerifyPolicy::default().window;
    replay::check(&parts, &verified, window, cfg, now.as_secs()).map_err(replay_refused)?;
    enforce(&verified, &requirement, cfg, now)?;
    for h in IDENTITY_HEADERS {
        parts.headers.remove(h);
    }
    match &cfg.upstream {
        Some(up) => forward(up, parts, body, &verified, scheme, cfg.upstream_timeout).await,
        None => Ok(protected(&parts, &verified, scheme)),
    }
}

async fn verify_request(
    parts: &http::request::Parts,
    body: &Bytes,
    cfg: &Config,
    now: UnixTime,
) -> Result<(VerifiedRequest, &'static str), Response<Bytes>> {
    let view = RequestView::new(parts, Some(body), &cfg.authority, &cfg.scheme);
    let req = view.parts();
    let issuers: Vec<&str> = cfg.auth_servers.iter().map(String::as_str).collect();
    let tokens = TokenPolicy::new(&cfg.resource_id)
        .with_trusted_issuers(&issuers)
        .with_leeway(cfg.leeway);
    let policy = aauth_core::httpsig::VerifyPolicy::default();
    let pending = match verify::begin(&req, &policy, &tokens, now) {
        Ok(p) => p,
        Err(e) => return Err(failed(&e, presents_auth_token(&e))),
    };
    let auth = pending.token().and_then(|t| t.token_type()) == Some(TokenType::Auth);
    let scheme = pending.signature_key().scheme.name();
    let resolved = match pending.key_request() {
        Some(kr) => match keys::resolve(&kr, cfg, now).await {
            Ok(k) => Some(k),
            Err(_) => return Err(failed(&VerifyError::KeyUnavailable, auth)),
        },
        None => None,
    };
    pending
        .finish(&req, resolved.as_ref(), &policy, &tokens, now)
        .map(|v| (v, scheme))
        .map_err(|e| failed(&e, auth))
}

fn enforce(
    v: &VerifiedRequest,
    requirement: &Requirement,
    cfg: &Config,
    now: UnixTime,
) -> Result<(), Response<Bytes>> {
    let issuer = ChallengeIssuer {
        resource_id: &cfg.resource_id,
        auth_server: cfg.auth_servers.first().map_or("", String::as_str),
        key: &cfg.signing_key,
        lifetime: cfg.resource_token_ttl,
    };
    aauth_http::enforce(v, requirement, &issuer, now).map_err(refused)
}

fn refused(r: Refusal) -> Response<Bytes> {
    match r {
        Refusal::Challenge { challenge, unmet } => challenge_response(&challenge, Some(&unmet)),
        Refusal::ResourceToken(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the resource token could not be issued",
            None,
        ),
    }
}

/// A replayed or malformed `Nonce`: the core's error with `Agent-Auth: httpsig`, as
/// aauth-tower answers (`401 invalid_signature`, `400 invalid_request`). A store that
/// cannot be used: `503 server_error`, never a silent pass.
fn replay_refused(r: ReplayRefusal) -> Response<Bytes> {
    match r {
        ReplayRefusal::Replay(e) => error_response(&e, Some(&AgentAuth::pseudonymous())),
        ReplayRefusal::StoreUnavailable => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerError,
            "the replay store is unavailable, so the Nonce cannot be checked; retry later",
            None,
        ),
    }
}

/// A verification failure: `Agent-Auth: httpsig`, plus `auth-token` when the request
/// presented an auth token.
fn failed(error: &VerifyError, auth_token: bool) -> Response<Bytes> {
    error_response(error, Some(&verification_challenge(auth_token)))
}

fn token_type(v: &VerifiedRequest) -> Option<&'static str> {
    match v.identity() {
        Identity::Delegate { .. } => Some("agent+jwt"),
        Identity::Authorized { .. } => Some("auth+jwt"),
        _ => None,
    }
}

/// The built-in protected handler (the reference resource's `/data-*` answer).
fn protected(
    parts: &http::request::Parts,
    v: &VerifiedRequest,
    scheme: &'static str,
) -> Response<Bytes> {
    let authorized = v.auth_token().is_some();
    let body = serde_json::json!({
        "message": "Access granted",
        "data": if authorized {
            "This is protected data (authorized)"
        } else {
            "This is protected data"
        },
        "scheme": scheme,
        "token_type": token_type(v),
        "method": parts.method.as_str(),
        "agent": v.agent(),
        "agent_delegate": v.agent_delegate(),
        "scope": v.auth_token().and_then(|t| t.scope.as_deref()),
        "sub": v.auth_token().and_then(|t| t.sub.as_deref()),
    });
    json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Forwards a verified request to `upstream` with the identity headers.
async fn forward(
    upstream: &str,
    parts: http::request::Parts,
    body: Bytes,
    v: &VerifiedRequest,
    scheme: &'static str,
    limit: Duration,
) -> Reply {
    within(limit, forward_inner(upstream, parts, body, v, scheme))
        .await
        .unwrap_or_else(|| {
            Err(json_error(
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::ServerError,
                "the upstream did not answer in time",
                None,
            ))
        })
}

async fn forward_inner(
    upstream: &str,
    mut parts: http::request::Parts,
    body: Bytes,
    v: &VerifiedRequest,
    scheme: &'static str,
) -> Reply {
    let bad_gateway =
        |what: &str| json_error(StatusCode::BAD_GATEWAY, ErrorCode::ServerError, what, None);
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let uri: http::Uri = format!("{upstream}{target}")
        .parse()
        .map_err(|_| bad_gateway("the upstream URL is invalid"))?;
    for h in [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    ] {
        parts.headers.remove(h);
    }
    let identity = [
        ("x-aauth-agent", v.agent()),
        ("x-aauth-sub", v.auth_token().and_then(|t| t.sub.as_deref())),
        (
            "x-aauth-scope",
            v.auth_token().and_then(|t| t.scope.as_deref()),
        ),
        ("x-aauth-delegate", v.agent_delegate()),
        ("x-aauth-scheme", Some(scheme)),
    ];
    for (name, value) in identity {
        if let Some(value) = value.and_then(|s| HeaderValue::from_str(s).ok()) {
            parts.headers.insert(HeaderName::from_static(name), value);
        }
    }
    let mut out = http::Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .body(Full::new(body))
        .map_err(|_| bad_gateway("the upstream request could not be built"))?;
    *out.headers_mut() = parts.headers;
    let resp = spin_sdk::http::send(out)
        .await
        .map_err(|_| bad_gateway("the upstream did not answer"))?;
    let (rparts, rbody) = resp.into_parts();
    let bytes = Limited::new(rbody, MAX_UPSTREAM_BODY)
        .collect()
        .await
        .map_err(|_| bad_gateway("the upstream response could not be read"))?
        .to_bytes();
    let mut reply = Response::new(bytes);
    *reply.status_mut() = rparts.status;
    for (name, value) in &rparts.headers {
        if !matches!(
            name.as_str(),
            "connection"
                | "keep-alive"
                | "transfer-encoding"
                | "content-length"
                | "trailer"
                | "upgrade"
        ) {
            reply.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(reply)
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
