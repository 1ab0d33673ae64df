//! # aauth-agent
//!
//! The agent side of AAuth ("Agent Auth") over HTTP: an [`AgentClient`] (reqwest, rustls
//! with *ring*) that signs every request with the agent key and answers `Agent-Auth`
//! challenges by obtaining auth tokens from the named auth server, and an
//! [`AgentServer`] (axum routes) that publishes the agent's metadata and JWKS, receives
//! authorization codes on `/callback` and mints agent tokens for delegates.
//!
//! The protocol bytes come from [`aauth_core`]; this crate does the I/O, reads the clock
//! (through [`Clock`], in one place per component) and draws randomness (key generation,
//! `state`). The wire format is the early-2026 one the Python reference `aauth` 0.1.0
//! speaks: label `sig1`, `Signature-Key: sig1=(scheme=… …)`, base64url signatures.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use aauth_agent::{AgentClient, AgentRequest, AgentServer, Identity, generate_signing_key};
//!
//! // An agent server on loopback: metadata, JWKS and /callback for auth servers to reach.
//! let id = "http://127.0.0.1:9001";
//! let key = Arc::new(generate_signing_key("key-1")?);
//! let server = AgentServer::new(id, Arc::clone(&key));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! tokio::spawn(async move { axum::serve(listener, server.router()).await });
//!
//! // The client answers the resource's challenge and retries with the auth token.
//! let client = AgentClient::builder(key, Identity::agent_server(id)).build()?;
//! let res = client.send(AgentRequest::get("http://127.0.0.1:8002/data-auth")?).await?;
//! assert_eq!(res.status(), 200);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod clock;
pub mod consent;
mod error;
mod keys;
pub mod server;
mod tls;
pub mod trace;

pub use client::{
    AgentClient, AgentClientBuilder, AgentRequest, AgentResponse, Identity, Propagator,
};
pub use clock::Clock;
pub use consent::{CallbackConsent, ConsentError, ConsentHook, ConsentRequest, FormConsent};
pub use error::AgentError;
pub use keys::generate_signing_key;
pub use server::{AgentServer, CallbackRegistry};
pub use trace::{Hop, Step, Trace};
