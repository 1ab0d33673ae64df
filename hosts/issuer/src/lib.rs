//! # aauth-issuer
//!
//! The AAuth auth server ("issuer"): it answers `POST /agent/token` (`request_type` `auth`,
//! `code`, `refresh`, `exchange`), serves the `/agent/auth` login and consent pages, and
//! publishes `/.well-known/aauth-issuer` and `/jwks.json`. It speaks the early-2026 wire
//! generation of the Python reference auth server (`aauth` 0.1.0): same paths, JSON
//! members, error codes and form fields.
//!
//! This crate is a host: unlike `aauth-core` it does I/O. It still keeps the clock and the
//! RNG at its edges: the clock is read once per request through [`Clock`], random secrets
//! come from the OS RNG in one function, and the storage layer takes both as arguments, so
//! flows can be tested by moving time by hand.
//!
//! * [`router`] / [`serve`]: the axum 0.8 server over any [`Store`](store::Store);
//! * [`IssuerConfig`]: identity, canonical authority, lifetimes, [`ConsentPolicy`], trusted
//!   upstream issuers for token exchange, `act` depth, key [`Discovery`](aauth_discovery::Discovery);
//! * [`store`]: the [`Store`](store::Store) trait (users, pending authorization requests,
//!   authorization codes, refresh tokens, consents, browser sessions, signing keys) and
//!   its implementations [`SqliteStore`](store::SqliteStore) and
//!   [`PgStore`](store::PgStore) (PostgreSQL, for several server processes on one
//!   database);
//! * [`password`]: Argon2id password hashing for the consent UI's users;
//! * [`login_throttle`]: the login page locks a user name out after repeated failed
//!   sign-ins ([`LoginThrottlePolicy`]), in memory per process.
//!
//! ```no_run
//! use aauth_discovery::{Discovery, EgressPolicy};
//! use aauth_issuer::password::hash_password;
//! use aauth_issuer::store::{SqliteStore, Store};
//! use aauth_issuer::{IssuerConfig, serve};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open("issuer.db").await?;
//! store.create_user("testuser", &hash_password("testpass")?, 0).await?;
//! let config = IssuerConfig::new("http://127.0.0.1:8003", Discovery::new(EgressPolicy::dev())?)?
//!     .with_trusted_upstreams(["http://127.0.0.1:8004"]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8003").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! serve(config, store, listener, async {
//!     let _ = stopped.await; // e.g. fired by a signal handler
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! ## Request authentication at the token endpoint
//!
//! Every `POST /agent/token` is a signed request, verified against the configured
//! canonical authority (never `Host`). `auth`, `code` and `refresh` accept `scheme=jwks`
//! (agent server) and `scheme=jwt` with an `agent+jwt` (agent delegate). `scheme=hwk` is
//! refused with `401 invalid_request`: a pseudonymous key has no agent identifier to bind
//! a grant, a code or a refresh token to. `exchange` requires `scheme=jwt` with the
//! upstream `auth+jwt` and verifies the signature with the requester's key found by the
//! resource token's `agent_jkt` (the reference's behaviour, digest D9).
#![forbid(unsafe_code)]

mod config;
mod consent;
mod error;
pub mod login_throttle;
mod pages;
pub mod password;
mod server;
pub mod store;
mod token_endpoint;

pub use config::{Clock, ConfigError, ConsentPolicy, IssuerConfig, ManualClock, SystemClock};
pub use login_throttle::LoginThrottlePolicy;
pub use server::{Issuer, ServeError, rotate_signing_key, router, serve};
