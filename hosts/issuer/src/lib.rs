//! # aauth-issuer
//!
//! The AAuth auth server ("issuer"): it answers `POST /agent/token` (`request_type` `auth`,
//! `code`, `refresh`, `exchange`) and serves the `/agent/auth` login and consent pages.
//!
//! This crate is a host: unlike `aauth-core` it does I/O. It still keeps the clock and the
//! RNG at its edges: the storage layer takes `now` and every random secret as arguments, so
//! flows can be tested by moving time by hand. So far it contains the durable state:
//!
//! * [`store`]: the [`Store`](store::Store) trait and its SQLite implementation
//!   [`SqliteStore`](store::SqliteStore) (users, pending authorization requests,
//!   authorization codes, refresh tokens, consents, browser sessions, signing keys);
//! * [`password`]: Argon2id password hashing for the consent UI's users.
#![forbid(unsafe_code)]

pub mod password;
pub mod store;
