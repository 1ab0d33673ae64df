//! The parties' keys and the signed requests the load generator replays.

use aauth_core::httpsig::{SignOptions, SignatureHeaders, sign_request};
use aauth_core::signature_key::JwksRef;
use aauth_core::token::{AuthClaims, ResourceClaims};
use aauth_core::{KeyScheme, RequestParts, Signer as _, SigningKey, UnixTime};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use http_body_util::Full;

use crate::Error;

/// The agent: signs requests, bound into auth tokens as `cnf.jwk`.
pub(crate) fn agent_key() -> SigningKey {
    SigningKey::from_seed(&[1; 32]).with_kid("key-1")
}

/// The auth server.
pub(crate) fn auth_key() -> SigningKey {
    SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1")
}

/// The resource (signs resource tokens in challenges).
pub(crate) fn resource_key() -> SigningKey {
    SigningKey::from_seed(&[3; 32]).with_kid("resource-key-1")
}

/// Auth token number `n` from `auth` for `resource`, valid for an hour from `now`; tokens
/// differ by `jti`, so each is a distinct cache entry.
pub(crate) fn auth_token(auth: &str, resource: &str, n: usize, now: UnixTime) -> String {
    AuthClaims::new(
        auth,
        resource,
        agent_key().public_jwk(),
        now.saturating_add(3600),
    )
    .with_agent("https://agent.example")
    .with_scope("data.read")
    .with_jti(format!("bench-{n}"))
    .sign(&auth_key())
    .expect("an auth token always signs")
}

/// A resource token from `resource` (signed with [`resource_key`]) for the agent `agent`
/// ([`agent_key`]) to present to `auth`, asking for `scope`; valid for five minutes.
pub(crate) fn resource_token(
    resource: &str,
    auth: &str,
    agent: &str,
    scope: &str,
    now: UnixTime,
) -> Result<String, Error> {
    let jkt = agent_key().public_jwk().thumbprint()?;
    Ok(
        ResourceClaims::with_scope(resource, auth, agent, jkt, scope, now.saturating_add(300))
            .sign(&resource_key())?,
    )
}

/// A request ready to send: method, target, headers and body.
#[derive(Clone, Debug)]
pub(crate) struct Signed {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

impl Signed {
    /// The HTTP/1.1 request to send: these fields, with `Host: host`.
    pub(crate) fn request(&self, host: HeaderValue) -> http::Request<Full<Bytes>> {
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(self.target.as_str())
            .body(Full::new(self.body.clone()))
            .expect("a request with an origin-form target always builds");
        let headers = req.headers_mut();
        headers.insert(http::header::HOST, host);
        for (n, v) in &self.headers {
            headers.insert(n.clone(), v.clone());
        }
        req
    }
}

fn header_list(
    sig: &SignatureHeaders,
    extra: &[(&str, &str)],
) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
    let mut headers = Vec::with_capacity(extra.len() + 4);
    for (n, v) in extra.iter().copied() {
        headers.push((
            HeaderName::from_bytes(n.as_bytes())?,
            HeaderValue::from_str(v)?,
        ));
    }
    for (n, v) in sig.iter() {
        headers.push((
            HeaderName::from_bytes(n.as_bytes())?,
            HeaderValue::from_str(v)?,
        ));
    }
    Ok(headers)
}

/// `GET target` to `authority` (http), signed at `now` by the agent with `scheme=jwt`
/// carrying `token`.
///
/// # Errors
/// When a header value is not representable (never for these inputs).
pub(crate) fn sign_get(
    authority: &str,
    target: &str,
    token: &str,
    now: UnixTime,
) -> Result<Signed, Error> {
    let sk = KeyScheme::Jwt { jwt: token.into() }.to_header("sig1")?;
    let req = RequestParts::new("GET", authority, target, &[]).with_scheme("http");
    let sig = sign_request(&req, &sk, &agent_key(), &SignOptions::new(now))?;
    Ok(Signed {
        method: Method::GET,
        target: target.into(),
        headers: header_list(&sig, &[])?,
        body: Bytes::new(),
    })
}

/// `POST /agent/token` to the auth server at `authority` (http): `request_type=auth`
/// with `resource_token`, signed at `now` by the agent server `agent` with
/// `scheme=jwks` (its key `key-1` published at `{agent}/.well-known/aauth-agent`), as
/// the agent library signs it (L§9.3): `Content-Type` and `Content-Digest` covered.
///
/// # Errors
/// When a header value is not representable (never for these inputs).
pub(crate) fn sign_token_request(
    authority: &str,
    agent: &str,
    resource_token: &str,
    now: UnixTime,
) -> Result<Signed, Error> {
    const CT: &str = "application/x-www-form-urlencoded";
    let body = format!(
        "request_type=auth&resource_token={}&redirect_uri={}",
        form_encode(resource_token),
        form_encode(&format!("{agent}/callback")),
    );
    let sk = KeyScheme::Jwks(JwksRef::Id {
        id: agent.into(),
        kid: "key-1".into(),
        well_known: Some("aauth-agent".into()),
    })
    .to_header("sig1")?;
    let headers = [("content-type", CT.as_bytes())];
    let req = RequestParts::new("POST", authority, "/agent/token", &headers)
        .with_scheme("http")
        .with_body(body.as_bytes());
    let sig = sign_request(&req, &sk, &agent_key(), &SignOptions::new(now))?;
    Ok(Signed {
        method: Method::POST,
        target: "/agent/token".into(),
        headers: header_list(&sig, &[("content-type", CT)])?,
        body: Bytes::from(body),
    })
}

/// `application/x-www-form-urlencoded` value encoding: every byte but the unreserved
/// ones (RFC 3986 §2.3) percent-encoded.
fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
