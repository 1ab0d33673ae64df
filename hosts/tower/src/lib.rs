//! # aauth-tower
//!
//! AAuth ("Agent Auth") for resources served with tower/axum: verify the HTTP Message
//! Signature and `Signature-Key` of every request, enforce a per-route [`Requirement`], and
//! answer what is missing with an `Agent-Auth` challenge — including a freshly signed
//! resource token when an auth token is required.
//!
//! The layer is [`tower_http::auth::AsyncRequireAuthorization`] over an [`AAuthPolicy`]
//! (tower-http's own extension point). For each request it:
//!
//! 1. buffers the body up to a limit (1 MiB by default, `413` beyond) so `Content-Digest`
//!    is checked against the bytes received;
//! 2. verifies with `aauth-core` ([`begin`](aauth_core::verify::begin) → the key request is
//!    resolved by a [`KeyFetcher`] → [`finish`](aauth_core::verify::PendingRequest::finish)),
//!    using the **configured** canonical authority for `@authority`, never `Host`
//!    (digest §5.1 L-10); a `scheme=jwt` token verified before is served from the
//!    verified-token cache (no key request, no token signature check; its claims and the
//!    request signature are still checked —
//!    [`token_cache_capacity`](ResourceConfigBuilder::token_cache_capacity));
//! 3. refuses a replayed `Nonce` on unsafe methods (digest §2.4; [`ReplayCache`],
//!    [`ResourceConfigBuilder::replay_protection`]);
//! 4. enforces the route's [`Requirement`];
//! 5. inserts a [`VerifiedAgent`] into the request extensions for handlers to extract.
//!
//! | request | `Signature` route | `Identified` route | `AuthToken` route |
//! |---|---|---|---|
//! | unsigned | 401 `httpsig` | 401 `httpsig; identity=?1` | 401 `httpsig; identity=?1` |
//! | `hwk` | pass | 401 `httpsig; identity=?1` | 401 `httpsig; identity=?1` |
//! | `jwks` / agent token | pass | pass | 401 `httpsig; auth-token; resource_token=…; auth_server=…` |
//! | auth token, scopes granted | pass | pass | pass |
//! | auth token, scope missing | pass | pass | 401 `httpsig; auth-token; resource_token=…` |
//! | verification fails | 401 (400 if malformed) `httpsig`, plus `auth-token` when an auth token was presented |||
//!
//! **Pseudonymous callers on auth-token routes.** The reference resource mints a resource
//! token with `agent="unknown-agent"` for `hwk` callers; no auth server can verify such an
//! agent, so this layer asks for identity first (`httpsig; identity=?1`) and issues resource
//! tokens only to identified agents, binding `agent` and `agent_jkt` (the thumbprint of the
//! key that signed the request).
//!
//! Every refusal carries the JSON body `{"error","error_description"}` (digest §2.9); the
//! mapping is [`Rejection`]'s `IntoResponse`. Nothing in the verify path panics or answers
//! `500` on client input. The wall clock is read in one place (replaceable with
//! [`ResourceConfigBuilder::clock`]); keys come from the [`KeyFetcher`], whose
//! [`Discovery`](aauth_discovery::Discovery) implementation answers warm lookups from its
//! cache without I/O.
//!
//! ## Crate features
//! - `discovery` (default): [`KeyFetcher`] for [`aauth_discovery::Discovery`]. Without it
//!   the crate depends on no async runtime (axum without `tokio`, tower-http, http-body-util),
//!   so the same layer runs inside Spin.
//!
//! ## Example
//!
//! ```no_run
//! use aauth_core::SigningKey;
//! use aauth_discovery::{Discovery, EgressPolicy};
//! use aauth_tower::{Requirement, ResourceConfig, VerifiedAgent};
//! use axum::{Json, Router, routing::get};
//! use serde_json::{Value, json};
//!
//! async fn data(agent: VerifiedAgent) -> Json<Value> {
//!     Json(json!({ "agent": agent.agent(), "scope": agent.scope() }))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let seed = [7u8; 32];
//! let key = SigningKey::from_seed(&seed).with_kid("resource-key-1");
//! let aauth = ResourceConfig::builder("https://resource.example", key, Discovery::new(EgressPolicy::default())?)
//!     .auth_server("https://auth.example")
//!     .supported_scopes(["data.read"])
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/data", get(data).layer(aauth.require(Requirement::auth_token(["data.read"]))))
//!     .route("/whoami", get(data).layer(aauth.require(Requirement::Identified)))
//!     .merge(aauth.metadata_router());
//! # let _ = app; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(
    clippy::unwrap_used,
    clippy::missing_errors_doc,
    clippy::missing_panics_doc
)]

mod config;
mod policy;
mod rejection;
mod replay;
mod requirement;
mod router;
mod verified;

pub use aauth_core::replay::ReplayScope;
pub use config::{
    Clock, ConfigError, DEFAULT_BODY_LIMIT, DEFAULT_RESOURCE_TOKEN_LIFETIME, KeyFetcher,
    MAX_AUTH_SERVERS, ResourceConfig, ResourceConfigBuilder,
};
pub use policy::{AAuthPolicy, AuthorizeFuture};
pub use rejection::{Rejection, Unmet};
pub use replay::{DEFAULT_REPLAY_CAPACITY, ReplayCache};
pub use requirement::Requirement;
pub use verified::VerifiedAgent;
