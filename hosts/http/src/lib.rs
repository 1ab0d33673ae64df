//! # aauth-http
//!
//! The `http` 1.x glue shared by every AAuth host (the tower/axum middleware, the Spin
//! edge host, the agent client): it converts between `http` types and the borrowed,
//! framework-free values of [`aauth_core`].
//!
//! - [`RequestView`] / [`with_request_parts`]: an [`http::request::Parts`] plus the body
//!   bytes and the **configured** canonical authority and scheme become a core
//!   [`RequestParts`]. The authority is never read from `Host`, `Forwarded` or
//!   `X-Forwarded-Host` (digest §5.1 L-10): the caller passes what it was configured with.
//! - [`apply_signature_headers`]: the [`SignatureHeaders`] returned by
//!   [`aauth_core::httpsig::sign_request`] go into an [`http::HeaderMap`].
//! - [`error_response`], [`challenge_response`] and [`json_error`]: a protocol error
//!   becomes a response with the JSON body `{"error","error_description"}` (digest §2.9)
//!   and, when given, an `Agent-Auth` challenge (digest §2.2).
//! - [`BoundedTokenCache`]: the bounded cache of verified `scheme=jwt` tokens every
//!   resource host consults between [`aauth_core::verify::begin`] and the issuer key
//!   lookup ([`aauth_core::verify::TokenCache`]).
//! - [`Requirement`], [`enforce`] and the challenge helpers: what a route requires, and
//!   the `Agent-Auth` challenge (with a fresh resource token) when a verified request
//!   falls short. Shared by the tower middleware and the Spin component.
//! - [`Freshness`]: what a fetched document's `Cache-Control` says about how long it may
//!   be reused (RFC 9111 §5.2.2). Shared by the native key discovery and the Spin
//!   component.
//!
//! The crate has no runtime dependency (no tokio): `http`, `bytes` and `serde_json` only.
//!
//! ```
//! use aauth_core::{AgentAuth, ErrorCode, UnixTime};
//! use aauth_http::{challenge_response, with_request_parts};
//!
//! let req = http::Request::get("/data?x=1")
//!     .header("host", "evil.example")
//!     .body(())
//!     .unwrap();
//! let (parts, ()) = req.into_parts();
//! let (authority, path) = with_request_parts(&parts, None, "resource.example", "https", |p| {
//!     (p.authority.to_owned(), p.path().to_owned())
//! });
//! assert_eq!(authority, "resource.example"); // the Host header is ignored
//! assert_eq!(path, "/data");
//!
//! let resp = challenge_response(&AgentAuth::identity(), None);
//! assert_eq!(resp.status(), 401);
//! assert_eq!(resp.headers()["agent-auth"], "httpsig; identity=?1");
//! ```
#![forbid(unsafe_code)]
#![warn(
    clippy::unwrap_used,
    clippy::missing_errors_doc,
    clippy::missing_panics_doc
)]

mod freshness;
mod requirement;

use core::fmt;

pub use freshness::Freshness;
pub use requirement::{
    ChallengeIssuer, Refusal, Requirement, Unmet, enforce, grants, presents_auth_token,
    verification_challenge,
};

use aauth_core::httpsig::SignatureHeaders;
use aauth_core::{AgentAuth, ErrorCode, ProtocolError, RequestParts};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde::Serialize;

mod token_cache;

pub use token_cache::{BoundedTokenCache, DEFAULT_TOKEN_CACHE_CAPACITY, TokenCacheStats};

/// The `Agent-Auth` response header (digest §2.2).
pub const AGENT_AUTH: HeaderName = HeaderName::from_static("agent-auth");

/// A borrowed view of an HTTP request with its header list built once, from which core
/// [`RequestParts`] are taken as often as needed (for example before and after an async
/// key lookup).
///
/// ```
/// use aauth_http::RequestView;
///
/// let (parts, ()) = http::Request::post("/data").header("content-type", "text/plain")
///     .body(()).unwrap().into_parts();
/// let view = RequestView::new(&parts, Some(b"hi"), "127.0.0.1:9002", "http");
/// let p = view.parts();
/// assert_eq!((p.method, p.scheme, p.target), ("POST", "http", "/data"));
/// assert_eq!(p.header("Content-Type"), Some(b"text/plain".as_slice()));
/// assert!(p.has_body());
/// ```
#[derive(Clone, Debug)]
pub struct RequestView<'a> {
    method: &'a str,
    scheme: &'a str,
    authority: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, &'a [u8])>,
    body: Option<&'a [u8]>,
}

impl<'a> RequestView<'a> {
    /// Borrows `parts` and `body`. `authority` (`host[:port]`) and `scheme` (`https`, or
    /// `http` on loopback in development) are the host's configuration, never request
    /// headers. The target is the URI's path and query (`/` when the URI has none), so an
    /// absolute-form request target is reduced to origin form.
    pub fn new(
        parts: &'a http::request::Parts,
        body: Option<&'a [u8]>,
        authority: &'a str,
        scheme: &'a str,
    ) -> Self {
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        Self {
            method: parts.method.as_str(),
            scheme,
            authority,
            target: parts.uri.path_and_query().map_or("/", |pq| pq.as_str()),
            headers,
            body,
        }
    }

    /// The core view of the request.
    pub fn parts(&self) -> RequestParts<'_> {
        let parts = RequestParts::new(self.method, self.authority, self.target, &self.headers)
            .with_scheme(self.scheme);
        match self.body {
            Some(b) => parts.with_body(b),
            None => parts,
        }
    }
}

/// Calls `f` with the core [`RequestParts`] of an `http` request; see [`RequestView::new`]
/// for the meaning of the arguments. Use [`RequestView`] when the parts must live across
/// an `.await`.
pub fn with_request_parts<R>(
    parts: &http::request::Parts,
    body: Option<&[u8]>,
    authority: &str,
    scheme: &str,
    f: impl FnOnce(&RequestParts<'_>) -> R,
) -> R {
    let view = RequestView::new(parts, body, authority, scheme);
    f(&view.parts())
}

/// A header value that `http` refuses (control characters, non-ASCII).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidHeader {
    /// The header's name.
    pub name: &'static str,
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a valid header value", self.name)
    }
}

impl std::error::Error for InvalidHeader {}

/// Inserts the signature headers (`Content-Digest` when computed, `Signature-Key`,
/// `Signature-Input`, `Signature`) into `headers`, replacing any previous values.
///
/// ```
/// use aauth_core::httpsig::{sign_request, SignOptions};
/// use aauth_core::{KeyScheme, RequestParts, Signer, SigningKey, UnixTime};
///
/// let key = SigningKey::from_seed(&[1; 32]);
/// let sk = KeyScheme::Hwk(key.public_jwk()).to_header("sig1").unwrap();
/// let req = RequestParts::new("GET", "resource.example", "/data", &[]);
/// let sig = sign_request(&req, &sk, &key, &SignOptions::new(UnixTime::from_secs(1))).unwrap();
/// let mut headers = http::HeaderMap::new();
/// aauth_http::apply_signature_headers(&mut headers, &sig).unwrap();
/// assert_eq!(headers.len(), 3);
/// assert!(headers["signature-input"].to_str().unwrap().starts_with("sig1=("));
/// ```
///
/// # Errors
/// [`InvalidHeader`] when a value is not a valid header value; `headers` is then left
/// unchanged.
pub fn apply_signature_headers(
    headers: &mut HeaderMap,
    sig: &SignatureHeaders,
) -> Result<(), InvalidHeader> {
    let mut values = Vec::with_capacity(4);
    for (name, value) in sig.iter() {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidHeader { name })?;
        let v = HeaderValue::from_str(value).map_err(|_| InvalidHeader { name })?;
        values.push((n, v));
    }
    for (n, v) in values {
        headers.insert(n, v);
    }
    Ok(())
}

/// The JSON error body of digest §2.9 (RFC 6749 §5.2 style).
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// A JSON error response: `{"error": code, "error_description": description}` with
/// `status`, plus `Agent-Auth` when `challenge` is given.
///
/// This is the single place where AAuth hosts turn an error into HTTP; [`error_response`]
/// and [`challenge_response`] choose the status and call it. If the challenge cannot be
/// written as a header (a configured value is not printable ASCII), the response is a
/// `500 server_error` instead.
pub fn json_error(
    status: StatusCode,
    code: ErrorCode,
    description: &str,
    challenge: Option<&AgentAuth>,
) -> Response<Bytes> {
    let header = match challenge.map(AgentAuth::to_header).transpose() {
        Ok(h) => h.and_then(|h| HeaderValue::from_str(&h).ok()),
        Err(_) => None,
    };
    if challenge.is_some() && header.is_none() {
        return json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "the challenge could not be encoded",
            None,
        );
    }
    let body = serde_json::to_vec(&ErrorBody {
        error: code.as_str(),
        error_description: description,
    })
    .unwrap_or_default();
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(h) = header {
        headers.insert(AGENT_AUTH, h);
    }
    resp
}

/// Renders a protocol error with the status its code maps to
/// ([`ErrorCode::http_status`]) and, when given, an `Agent-Auth` challenge.
///
/// ```
/// use aauth_core::httpsig::SignatureError;
/// let resp = aauth_http::error_response(&SignatureError::BadSignature, None);
/// assert_eq!(resp.status(), 401);
/// assert_eq!(
///     resp.body().as_ref(),
///     br#"{"error":"invalid_signature","error_description":"signature verification failed"}"#
/// );
/// ```
pub fn error_response(error: &dyn ProtocolError, challenge: Option<&AgentAuth>) -> Response<Bytes> {
    let code = error.code();
    let status =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_error(status, code, &error.to_string(), challenge)
}

/// Renders an `Agent-Auth` challenge as a `401 Unauthorized` (L§4.5), with the JSON body
/// of `error` when given, or `{"error":"invalid_request","error_description":"…"}` naming
/// what the challenge asks for.
pub fn challenge_response(
    challenge: &AgentAuth,
    error: Option<&dyn ProtocolError>,
) -> Response<Bytes> {
    match error {
        Some(e) => json_error(
            StatusCode::UNAUTHORIZED,
            e.code(),
            &e.to_string(),
            Some(challenge),
        ),
        None => {
            let what = if challenge.auth_token {
                "an auth token is required"
            } else if challenge.identity == Some(true) {
                "agent identity is required"
            } else {
                "a signed request is required"
            };
            json_error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRequest,
                what,
                Some(challenge),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrepresentable_challenge_is_a_server_error() {
        let c = AgentAuth::auth_token("t", "https://auth.example/\u{e9}");
        let resp = challenge_response(&c, None);
        assert_eq!(resp.status(), 500);
        assert!(resp.headers().get(AGENT_AUTH).is_none());
    }

    #[test]
    fn absolute_form_target_is_reduced_to_origin_form() {
        let (parts, ()) = http::Request::get("http://other.example/a/b?c=d")
            .body(())
            .unwrap()
            .into_parts();
        with_request_parts(&parts, None, "resource.example", "https", |p| {
            assert_eq!(p.target, "/a/b?c=d");
            assert_eq!(p.authority, "resource.example");
        });
    }

    #[test]
    fn challenge_body_names_the_requirement() {
        let resp = challenge_response(&AgentAuth::pseudonymous(), None);
        assert_eq!(resp.headers()[AGENT_AUTH], "httpsig");
        assert_eq!(
            resp.body().as_ref(),
            br#"{"error":"invalid_request","error_description":"a signed request is required"}"#
        );
    }
}
