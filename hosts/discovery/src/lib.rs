//! # aauth-discovery
//!
//! Key discovery for AAuth verifiers: resources verifying agents and auth tokens, auth
//! servers verifying agents and resource tokens. Given where a party publishes its keys
//! ([`JwksLocation`]) and a `kid`, [`Discovery::key`] returns a parsed
//! [`ResolvedKey`](aauth_core::verify::ResolvedKey), fetching metadata and the JWKS over HTTP(S) only
//! when the cache cannot answer.
//!
//! The fetching is hostile-input safe, because the locations come from whoever signs a
//! request (digest §3.6, S-16, S-22 to S-24):
//!
//! - **Egress admission** ([`EgressPolicy`]): `https` only and public unicast addresses only
//!   by default. The policy is checked on the URL and again on every resolved address by
//!   the client's DNS resolver, so the connection uses exactly the checked addresses (no
//!   DNS-rebinding gap). No redirects, no proxies, a response size cap enforced while
//!   reading (256 KiB), total and connect timeouts (5 s, 2 s), `200` + JSON only.
//! - **Metadata checks**: the identifying member (`issuer`, `agent`, `resource`) must equal
//!   the identifier byte for byte, and `jwks_uri` must be on the identifier's origin unless
//!   configured otherwise.
//! - **Cache**: TTL from `Cache-Control: max-age` clamped to [60 s, 24 h] (5 min when
//!   absent), at most 10 000 locations with least-recently-used eviction, single flight
//!   per location, an unknown `kid` refetches at most once per minute per location, and
//!   failures are remembered for a minute. Warm lookups do no I/O, JSON or key decoding;
//!   [`Discovery::stats`] counts fetches and hits to prove it.
//!
//! The cache reads time from a [`Clock`] ([`SystemClock`] by default, [`ManualClock`] in
//! tests).
//!
//! ## Crate features
//! - `p256`: ES256 keys in a JWKS become usable (enables `aauth-core/p256`).
//! - `rsa`: RS256/PS256 keys become usable (enables `aauth-core/rsa`).
//!
//! Without them such keys are reported as [`DiscoveryError::Key`] when their `kid` is
//! requested; the other keys of the same set still work (digest S-10).
//!
//! HTTPS uses rustls with the *ring* provider and the platform's root certificates
//! (`rustls-platform-verifier`), which keeps the aws-lc C build out of the graph.
//!
//! ```no_run
//! use aauth_discovery::{Discovery, EgressPolicy, JwksLocation};
//!
//! # async fn run() -> Result<(), aauth_discovery::DiscoveryError> {
//! // Production: the strict default policy.
//! let discovery = Discovery::new(EgressPolicy::default())?;
//! let key = discovery
//!     .key(&JwksLocation::well_known("https://agent.example", "aauth-agent"), Some("k1"))
//!     .await?;
//!
//! // Tests and demos: http and loopback allowed.
//! let local = Discovery::new(EgressPolicy::dev())?;
//! let key = local
//!     .key(&JwksLocation::url("http://127.0.0.1:8001/jwks.json"), None)
//!     .await?;
//! # let _ = key; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(
    clippy::unwrap_used,
    clippy::missing_errors_doc,
    clippy::missing_panics_doc
)]

mod cache;
mod clock;
mod egress;
mod error;
mod fetch;
mod location;

pub use cache::{Discovery, DiscoveryBuilder, DiscoveryConfig, DiscoveryStats};
pub use clock::{Clock, ManualClock, SystemClock};
pub use egress::{EgressPolicy, IpClass, PolicyResolver, classify_ip};
pub use error::DiscoveryError;
pub use location::JwksLocation;
