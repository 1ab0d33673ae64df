//! # aauth-core
//!
//! The sans-IO core of AAuth ("Agent Auth"): it builds and checks the bytes of the
//! protocol (HTTP Message Signatures per RFC 9421 with the `Signature-Key` header, the
//! `agent+jwt`, `resource+jwt` and `auth+jwt` tokens, `Agent-Auth` challenges and metadata
//! documents) from plain byte inputs.
//!
//! **This crate contains no networking code and does not read the clock or an RNG.** Every
//! time-sensitive call takes `now: UnixTime`; every random value (key seeds, nonces) is an
//! argument; when a verification needs a key it says which one
//! ([`KeyRequest`](verify::KeyRequest)) and takes it from a [`KeyResolver`](verify::KeyResolver)
//! the host implements.
//!
//! The wire format is the early-2026 generation spoken by the Python reference `aauth`
//! 0.1.0: label `sig1`, `Signature-Key: sig1=(scheme=… …)`, base64url `Signature` values.
//! Verification is stricter than the reference: `created` is required and must be fresh,
//! the required components must be covered and `Content-Digest` must match the body.
//!
//! ## Crate features
//! - `std` (default): `UnixTime::now()` for hosts.
//! - `rsa` (default): RS256 and PS256 token verification (third-party auth servers).
//! - `p256` (default): ES256 token verification.
//!
//! Without default features the crate is `no_std` + `alloc` and builds for
//! `wasm32-unknown-unknown` and `x86_64-unknown-none`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(
    clippy::unwrap_used,
    clippy::missing_errors_doc,
    clippy::missing_panics_doc
)]
#![warn(
    clippy::std_instead_of_core,
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc
)]

extern crate alloc;

pub mod agent_auth;
mod b64;
pub mod content_digest;
pub mod crypto;
pub mod error;
pub mod form;
pub mod httpsig;
pub mod jwk;
pub mod jws;
pub mod metadata;
pub mod replay;
mod request;
pub mod sf;
pub mod signature_key;
mod time;
pub mod token;
pub mod verify;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use agent_auth::AgentAuth;
pub use crypto::{Alg, PublicKey, Signer, SigningKey};
pub use error::{ErrorCode, ProtocolError};
pub use jwk::{Jwk, Jwks};
pub use metadata::{AgentMetadata, IssuerMetadata, ResourceMetadata, WellKnown};
pub use request::RequestParts;
pub use signature_key::{KeyScheme, SignatureKey};
pub use time::UnixTime;
pub use token::{AgentClaims, AuthClaims, ResourceClaims, UnverifiedToken, Validation, Verified};
