//! The parties' keys and the signed requests the load generator replays.

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::token::AuthClaims;
use aauth_core::{KeyScheme, RequestParts, Signer as _, SigningKey, UnixTime};
use http::{HeaderName, HeaderValue};

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

/// A request ready to send: target and headers.
#[derive(Clone, Debug)]
pub(crate) struct Signed {
    pub(crate) target: String,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
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
    let mut headers = Vec::with_capacity(4);
    for (n, v) in sig.iter() {
        headers.push((
            HeaderName::from_bytes(n.as_bytes())?,
            HeaderValue::from_str(v)?,
        ));
    }
    Ok(Signed {
        target: target.into(),
        headers,
    })
}
