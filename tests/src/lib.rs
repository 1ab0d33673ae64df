//! Shared helpers for the cross-crate tests: where the vectors live and how to turn them
//! into core inputs.

use std::path::PathBuf;

use aauth_core::{Jwk, RequestParts, SigningKey};
use serde_json::Value;

/// `../shared` beside the repository (present locally and in CI).
pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// `tests/vectors` of this repository.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Reads a JSON file.
///
/// # Panics
/// When the file is missing or not JSON: a test that cannot read its data must fail.
pub fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The `aauth-0.1.0` suite of the Python reference's vectors.
pub fn reference_suite() -> Value {
    let v = read_json(&shared_dir().join("interop/python-ref/vectors.json"));
    v["suites"]["aauth-0.1.0"].clone()
}

/// The reference's cases, by id.
///
/// # Panics
/// When the id does not exist.
pub fn reference_case(id: &str) -> Value {
    reference_suite()["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no reference case {id}"))
}

/// A fixed test key of `keys.json` by role (`agent`, `resource`, `auth`, …), as a private key.
///
/// # Panics
/// When the role is unknown.
pub fn reference_key(role: &str) -> SigningKey {
    let keys = read_json(&shared_dir().join("interop/python-ref/keys.json"));
    let jwk = &keys["keys"][role];
    let d = jwk["d"].as_str().unwrap_or_else(|| panic!("no key {role}"));
    let public: Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
    SigningKey::from_private_jwk(&public, d).expect("valid test key")
}

/// An owned request, turned into [`RequestParts`] on demand.
#[derive(Clone, Debug, Default)]
pub struct OwnedRequest {
    /// Method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// Path and query.
    pub target: String,
    /// Header fields.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body.
    pub body: Option<Vec<u8>>,
}

impl OwnedRequest {
    /// Splits an absolute URI into scheme, authority and target.
    ///
    /// # Panics
    /// When the URI is not absolute.
    pub fn new(method: &str, uri: &str) -> Self {
        let (scheme, rest) = uri.split_once("://").expect("absolute URI");
        let (authority, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        Self {
            method: method.into(),
            scheme: scheme.into(),
            authority: authority.into(),
            target: target.into(),
            ..Self::default()
        }
    }

    /// Adds a header field.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.as_bytes().to_vec()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Removes every field with this name.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces (or adds) a header field.
    #[must_use]
    pub fn set(self, name: &str, value: &str) -> Self {
        self.without(name).header(name, value)
    }

    /// Calls `f` with borrowed parts.
    pub fn with_parts<R>(&self, f: impl FnOnce(&RequestParts<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let mut parts = RequestParts::new(&self.method, &self.authority, &self.target, &headers)
            .with_scheme(&self.scheme);
        if let Some(b) = &self.body {
            parts = parts.with_body(b);
        }
        f(&parts)
    }
}
