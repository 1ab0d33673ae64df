//! The verified caller, as handlers see it.

use std::sync::Arc;

use aauth_core::AgentAuth;
use aauth_core::token::Actor;
use aauth_core::verify::{Identity, VerifiedRequest};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::rejection::{Rejection, Unmet};

/// The verified signer of a request, inserted into the request extensions by the AAuth
/// layer and extracted by handlers. Cheap to clone (one `Arc`).
///
/// As an extractor it rejects with `401` and `Agent-Auth: httpsig` when the request did not
/// pass through the layer (a route left unprotected by mistake). `Option<VerifiedAgent>`
/// never rejects.
#[derive(Clone, Debug)]
pub struct VerifiedAgent {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    request: VerifiedRequest,
    scheme: &'static str,
}

impl VerifiedAgent {
    pub(crate) fn new(request: VerifiedRequest, scheme: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner { request, scheme }),
        }
    }

    /// The auth token this caller presented, to hand on as the upstream token when this
    /// resource calls a downstream resource on the caller's behalf (token exchange, L§9.10:
    /// the upstream auth token goes in `Signature-Key` with `scheme=jwt`; see
    /// `aauth_agent::AgentRequest::upstream_token`). `None` unless the request was verified
    /// as carrying an auth token. Read from `headers` (the request's) on demand, so the
    /// layer copies nothing per request for the few handlers that need it.
    ///
    /// ```
    /// use aauth_tower::VerifiedAgent;
    /// use http::HeaderMap;
    ///
    /// async fn chain(agent: VerifiedAgent, headers: HeaderMap) -> String {
    ///     match agent.presented_auth_token(&headers) {
    ///         Some(token) => format!("{} bytes to exchange", token.len()),
    ///         None => "no auth token to exchange".into(),
    ///     }
    /// }
    /// ```
    pub fn presented_auth_token(&self, headers: &http::HeaderMap) -> Option<String> {
        if !matches!(self.inner.request.identity(), Identity::Authorized { .. }) {
            return None;
        }
        let value = headers.get("signature-key")?.to_str().ok()?;
        match aauth_core::signature_key::SignatureKey::parse(value)
            .ok()?
            .scheme
        {
            aauth_core::KeyScheme::Jwt { jwt } => Some(jwt),
            _ => None,
        }
    }

    /// The agent identifier: the `jwks` signer's id, the agent token's `iss`, or the auth
    /// token's `agent`; `None` for pseudonymous (`hwk`) signers.
    pub fn agent(&self) -> Option<&str> {
        self.inner.request.agent()
    }

    /// The agent delegate: the agent token's `sub`, or the auth token's `agent_delegate`.
    pub fn agent_delegate(&self) -> Option<&str> {
        self.inner.request.agent_delegate()
    }

    /// The user the auth token was granted for (`sub`), if any.
    pub fn sub(&self) -> Option<&str> {
        self.inner.request.auth_token()?.sub.as_deref()
    }

    /// The auth token's `scope` string, if any.
    pub fn scope(&self) -> Option<&str> {
        self.inner.request.auth_token()?.scope.as_deref()
    }

    /// The granted scopes (empty without an auth token).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope().unwrap_or_default().split_ascii_whitespace()
    }

    /// Whether the auth token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The delegation chain (`act`) of an exchanged auth token.
    pub fn act(&self) -> Option<&Actor> {
        self.inner.request.auth_token()?.act.as_ref()
    }

    /// The `Signature-Key` scheme: `hwk`, `jwks` or `jwt`.
    pub fn scheme(&self) -> &'static str {
        self.inner.scheme
    }

    /// The `typ` of the token in `scheme=jwt`: `agent+jwt` or `auth+jwt`.
    pub fn token_type(&self) -> Option<&'static str> {
        match self.inner.request.identity() {
            Identity::Delegate { .. } => Some("agent+jwt"),
            Identity::Authorized { .. } => Some("auth+jwt"),
            _ => None,
        }
    }

    /// RFC 7638 thumbprint of the key that signed the request (`agent_jkt`).
    pub fn signer_thumbprint(&self) -> &str {
        self.inner.request.signer_thumbprint()
    }

    /// Everything the core verified.
    pub fn request(&self) -> &VerifiedRequest {
        &self.inner.request
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedAgent {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Rejection::Challenge {
                challenge: Box::new(AgentAuth::pseudonymous()),
                unmet: Unmet::Signature,
            })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedAgent {
    type Rejection = core::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned())
    }
}
