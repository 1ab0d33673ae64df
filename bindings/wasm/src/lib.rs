//! # aauth-wasm
//!
//! wasm-bindgen bindings of [`aauth_core`] for the npm package `@aauth-rs/aauth`.
//!
//! The exported functions are the primitives; the hand-written ESM wrapper
//! (`bindings/wasm/js/index.js`) gives them their JS shape (objects in, objects out) and
//! adds `aauthFetch`, which does its I/O with JS's `fetch`. Structured values cross the
//! boundary as JSON strings, bodies as `Uint8Array`.
//!
//! Rules of the boundary: nothing here reads a clock (every call takes `now` in seconds from
//! `Date.now()`), randomness comes from `crypto.getRandomValues` (via getrandom's `wasm_js`
//! backend, or a seed passed in by the wrapper), and every failure is a JS `Error` whose
//! `code` is the protocol error code (`invalid_signature`, `invalid_request`, …). No
//! function unwraps or panics on input from JS.
#![forbid(unsafe_code)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_errors_doc
)]

mod api;

pub use api::Error;

use wasm_bindgen::prelude::*;

/// Converts an [`Error`] into a JS `Error` with `code` set.
fn js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    // `Reflect.set` on a fresh Error object cannot fail; ignore the impossible error.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(e.code));
    err.into()
}

/// Generates an Ed25519 key: a private JWK (`kty`, `crv`, `x`, `d`, optional `kid`) as JSON.
/// With `seed` (32 bytes) the key is derived from it; without, 32 bytes come from
/// `crypto.getRandomValues`.
///
/// # Errors
/// `invalid_request` for a seed that is not 32 bytes; `server_error` when no randomness is
/// available.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key(seed: Option<Vec<u8>>, kid: Option<String>) -> Result<String, JsValue> {
    api::generate_key(seed.as_deref(), kid).map_err(js)
}

/// The public JWK (JSON) of a JWK (JSON), private members dropped.
///
/// # Errors
/// `invalid_request` when the JSON is not a JWK.
#[wasm_bindgen(js_name = publicJwk)]
pub fn public_jwk(jwk: &str) -> Result<String, JsValue> {
    api::public_jwk(jwk).map_err(js)
}

/// The RFC 7638 SHA-256 thumbprint of a JWK (JSON), base64url.
///
/// # Errors
/// `invalid_request` when the JSON is not a usable JWK.
#[wasm_bindgen]
pub fn thumbprint(jwk: &str) -> Result<String, JsValue> {
    api::thumbprint(jwk).map_err(js)
}

/// Builds a `Signature-Key` header value from options JSON (`scheme`, `id`, `kid`,
/// `wellKnown`, `jwks`, `jwt`, `key`, `label`).
///
/// # Errors
/// `invalid_request` / `unsupported_scheme` for incomplete or unknown options.
#[wasm_bindgen(js_name = signatureKeyHeader)]
pub fn signature_key_header(opts: &str) -> Result<String, JsValue> {
    api::signature_key_header(opts).map_err(js)
}

/// Signs a request. `req` is JSON `{method, scheme, authority, target, headers: [[n, v]…]}`,
/// `opts` JSON `{key: privateJwk, scheme, …, created, expires?, components?, label?}`.
/// Returns JSON `[[name, value]…]` of the headers to add.
///
/// # Errors
/// `invalid_request` for bad input, `invalid_signature` for unsignable requests.
#[wasm_bindgen(js_name = signRequest)]
pub fn sign_request(req: &str, body: Option<Vec<u8>>, opts: &str) -> Result<String, JsValue> {
    api::sign_request(req, body.as_deref(), opts).map_err(js)
}

/// The nonces a JS resource has accepted, bounded (the core's
/// [`aauth_core::replay::ReplayCache`]: when full it refuses signatures as old as the
/// nonces it had to forget, never accepts a replay).
#[wasm_bindgen]
#[derive(Debug)]
pub struct ReplayCache {
    inner: std::cell::RefCell<aauth_core::replay::ReplayCache>,
}

#[wasm_bindgen]
impl ReplayCache {
    /// A cache of at most `capacity` nonces (default 100 000).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<u32>) -> Self {
        let capacity = capacity.map_or(aauth_core::replay::DEFAULT_REPLAY_CAPACITY, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        });
        Self {
            inner: std::cell::RefCell::new(aauth_core::replay::ReplayCache::new(capacity)),
        }
    }

    /// How many nonces are remembered.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.borrow().len()).unwrap_or(u32::MAX)
    }
}

/// The `scheme=jwt` tokens a JS resource has verified, bounded (the core's
/// [`aauth_core::verify::TokenStore`]: first in, first out, an entry served until the
/// token's `exp`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct TokenCache {
    inner: std::cell::RefCell<aauth_core::verify::TokenStore>,
}

#[wasm_bindgen]
impl TokenCache {
    /// A cache of at most `capacity` tokens (default 4096; 0 remembers nothing).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<u32>) -> Self {
        let capacity = capacity.map_or(aauth_core::verify::DEFAULT_TOKEN_CACHE_CAPACITY, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        });
        Self {
            inner: std::cell::RefCell::new(aauth_core::verify::TokenStore::new(capacity)),
        }
    }

    /// How many tokens are remembered.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.borrow().len()).unwrap_or(u32::MAX)
    }
}

/// First half of verification: checks everything that needs no key, then looks a
/// `scheme=jwt` token up in `tokens`. A remembered token finishes here without a key:
/// the verified request as JSON `{scheme, agent, agentDelegate, thumbprint, jwk, label,
/// created, claims}` (after the replay check when `opts.replay` is true). Otherwise the key
/// the caller must fetch, JSON `{source: {jwks} | {metadata: {id, wellKnown, url}}, kid,
/// purpose}`, or `null` when the request carries its key (`hwk`), for
/// [`verify_remembering`]. (The wrapper passes an empty cache to ask for the key only.)
///
/// # Errors
/// The protocol error of the first failed check.
#[wasm_bindgen(js_name = verifyCached)]
pub fn verify_cached(
    tokens: &TokenCache,
    replay: &ReplayCache,
    req: &str,
    body: Option<Vec<u8>>,
    opts: &str,
) -> Result<Option<String>, JsValue> {
    api::verify_cached(
        &tokens.inner,
        req,
        body.as_deref(),
        opts,
        Some(&replay.inner),
    )
    .map_err(js)
}

/// Second half of verification, with the resolved key (a JWK Set or JWK as JSON; `None` for
/// `hwk`): returns the verified request as JSON (see [`verify_cached`]), remembers a
/// verified `scheme=jwt` token in `tokens`, and when `opts.replay` is true checks the
/// `Nonce` against `replay` (digest L§10.5: a `Nonce` on `POST`/`PUT`/`DELETE`/`PATCH` is
/// accepted once per authority and key within the `created` window; a replay is
/// `invalid_signature`).
///
/// # Errors
/// The protocol error of the first failed check.
#[wasm_bindgen(js_name = verifyRemembering)]
pub fn verify_remembering(
    tokens: &TokenCache,
    replay: &ReplayCache,
    req: &str,
    body: Option<Vec<u8>>,
    opts: &str,
    key: Option<String>,
) -> Result<String, JsValue> {
    api::verify_remembering(
        Some(&tokens.inner),
        req,
        body.as_deref(),
        opts,
        key.as_deref(),
        Some(&replay.inner),
    )
    .map_err(js)
}

/// Parses an `Agent-Auth` challenge into JSON.
///
/// # Errors
/// `invalid_request` when it does not parse.
#[wasm_bindgen(js_name = parseAgentAuth)]
pub fn parse_agent_auth(value: &str) -> Result<String, JsValue> {
    api::parse_agent_auth(value).map_err(js)
}

/// Builds an `Agent-Auth` challenge from JSON.
///
/// # Errors
/// `invalid_request` for unrepresentable values.
#[wasm_bindgen(js_name = buildAgentAuth)]
pub fn build_agent_auth(challenge: &str) -> Result<String, JsValue> {
    api::build_agent_auth(challenge).map_err(js)
}

/// Decodes a compact JWT without verifying it: JSON `{header, payload}`.
///
/// # Errors
/// `invalid_token` when it is not a JWS.
#[wasm_bindgen(js_name = decodeToken)]
pub fn decode_token(token: &str) -> Result<String, JsValue> {
    api::decode_token(token).map_err(js)
}

/// Verifies and validates a token against a JWK Set (JSON). `opts` JSON:
/// `{type: "agent"|"auth"|"resource", now, issuer?, audience?, leeway?}`. Returns the
/// claims as JSON.
///
/// # Errors
/// `invalid_agent_token` / `invalid_auth_token` / `invalid_resource_token`, …
#[wasm_bindgen(js_name = verifyToken)]
pub fn verify_token(token: &str, jwks: &str, opts: &str) -> Result<String, JsValue> {
    api::verify_token(token, jwks, opts).map_err(js)
}

/// `Content-Digest` (`sha-256=:…:`) of a body.
#[wasm_bindgen(js_name = contentDigest)]
pub fn content_digest(body: &[u8]) -> String {
    aauth_core::content_digest::sha256(body)
}
