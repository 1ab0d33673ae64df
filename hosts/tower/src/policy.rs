//! The authorization policy: buffer, verify, enforce, challenge.

use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;

use aauth_core::UnixTime;
use aauth_core::replay;
use aauth_core::token::TokenType;
use aauth_core::verify::{
    self, Identity, TokenCache as _, TokenPolicy, VerifiedRequest, VerifyError,
};
use aauth_http::{
    ChallengeIssuer, Refusal, RequestView, presents_auth_token, verification_challenge,
};
use axum::body::{Body, HttpBody};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::Request;
use http::header::{CONTENT_LENGTH, HeaderName};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::auth::AsyncAuthorizeRequest;
use tracing::Instrument as _;

use crate::config::{KeyFetcher, MAX_AUTH_SERVERS, ResourceConfig};
use crate::rejection::{Rejection, Unmet};
use crate::requirement::Requirement;
use crate::verified::VerifiedAgent;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// Header names looked up on every request, as `HeaderName`s: a `&str` name is parsed
// (validated, lower-cased, matched against the standard names) on each lookup.
const NONCE: HeaderName = HeaderName::from_static("nonce");
const SIGNATURE: HeaderName = HeaderName::from_static("signature");
const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
const SIGNATURE_KEY: HeaderName = HeaderName::from_static("signature-key");

/// The boxed future of [`AAuthPolicy::authorize`](AsyncAuthorizeRequest::authorize).
pub type AuthorizeFuture =
    Pin<Box<dyn Future<Output = Result<Request<Body>, Response>> + Send + 'static>>;

/// A [`tower_http::auth::AsyncAuthorizeRequest`] that verifies AAuth-signed requests
/// against one [`Requirement`]. Usually obtained through [`ResourceConfig::require`].
///
/// For each request it buffers the body (bounded; `413` beyond the limit), verifies the
/// signature and any token with `aauth-core` (resolving keys through the configured
/// [`KeyFetcher`]), enforces the requirement, and on success inserts a
/// [`VerifiedAgent`] into the request extensions; otherwise it answers with a
/// [`Rejection`].
pub struct AAuthPolicy<K> {
    config: ResourceConfig<K>,
    route: Arc<Route>,
}

impl<K> Clone for AAuthPolicy<K> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            route: Arc::clone(&self.route),
        }
    }
}

impl<K> core::fmt::Debug for AAuthPolicy<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AAuthPolicy")
            .field("requirement", &self.route.requirement)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Route {
    requirement: Requirement,
}

impl<K: KeyFetcher> AAuthPolicy<K> {
    /// A policy enforcing `requirement` with `config`.
    pub fn new(config: ResourceConfig<K>, requirement: Requirement) -> Self {
        Self {
            config,
            route: Arc::new(Route { requirement }),
        }
    }

    /// The requirement enforced.
    pub fn requirement(&self) -> &Requirement {
        &self.route.requirement
    }

    /// Buffers, verifies and enforces; on success the request carries a
    /// [`VerifiedAgent`] and the buffered body.
    ///
    /// # Errors
    /// The [`Rejection`] to answer with.
    pub async fn check<B>(&self, req: Request<B>) -> Result<Request<Body>, Rejection>
    where
        B: HttpBody + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let cfg = &self.config.inner;
        let (mut parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cfg.body_limit as u64) {
            return Err(Rejection::BodyTooLarge {
                limit: cfg.body_limit,
            });
        }
        // A body that has already ended (a GET, say) holds nothing to buffer: no frame to
        // collect, and an empty body is handed on without boxing one.
        let body = if body.is_end_stream() {
            Bytes::new()
        } else {
            match Limited::new(body, cfg.body_limit).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) if e.is::<LengthLimitError>() => {
                    return Err(Rejection::BodyTooLarge {
                        limit: cfg.body_limit,
                    });
                }
                Err(_) => return Err(Rejection::BodyUnreadable),
            }
        };
        let now = (cfg.clock)();
        let signed = [SIGNATURE, SIGNATURE_INPUT, SIGNATURE_KEY]
            .iter()
            .any(|h| parts.headers.contains_key(h));
        if !signed {
            return Err(self.challenge_before_verification(Unmet::Signature));
        }
        // A span per verification (key discovery nests under it) for operators' traces.
        let span = tracing::info_span!("aauth.verify", aauth.requirement = ?self.route.requirement);
        let (verified, scheme) = self.verify(&parts, &body, now).instrument(span).await?;
        self.check_replay(&parts, &verified, now)?;
        self.enforce(&verified, now)?;
        parts
            .extensions
            .insert(VerifiedAgent::new(verified, scheme));
        let body = if body.is_empty() {
            Body::empty()
        } else {
            Body::from(body)
        };
        Ok(Request::from_parts(parts, body))
    }

    async fn verify(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        now: UnixTime,
    ) -> Result<(VerifiedRequest, &'static str), Rejection> {
        let cfg = &self.config.inner;
        let view = RequestView::new(parts, Some(body), &cfg.authority, &cfg.scheme);
        let req = view.parts();
        // The trusted issuers as `&[&str]` without allocating per request.
        let issuers: [&str; MAX_AUTH_SERVERS] =
            core::array::from_fn(|i| cfg.auth_servers.get(i).map_or("", String::as_str));
        let issuers = &issuers[..cfg.auth_servers.len().min(MAX_AUTH_SERVERS)];
        let tokens = TokenPolicy::new(&cfg.resource_id)
            .with_trusted_issuers(issuers)
            .with_leeway(cfg.leeway);
        let policy = &cfg.verify_policy;

        let early = |e: VerifyError| {
            let auth = presents_auth_token(&e);
            failed(e, auth)
        };
        let mut checked = verify::begin_headers(&req, policy, now).map_err(early)?;
        let scheme = checked.signature_key().scheme.name();
        // A token verified before skips its decoding, the issuer key lookup and its own
        // verification; the request signature is still checked (aauth_core::verify::TokenCache).
        // A disabled cache (capacity 0) is not consulted: no token hash, no lookup, and the
        // token is not prepared for remembering (its thumbprint is not hashed).
        let cache = &cfg.token_cache;
        let caching = cache.capacity() > 0;
        let digest = caching.then(|| checked.token_digest()).flatten();
        if let Some(hit) = digest.and_then(|d| cache.get(&d, now)) {
            let auth = matches!(hit.identity(), Identity::Authorized { .. });
            return checked
                .finish_cached(&req, &hit, policy, &tokens, now)
                .map(|v| (v, scheme))
                .map_err(|e| failed(e, auth));
        }
        let pending = checked.decode_token(&tokens).map_err(early)?;
        let auth = pending.token().and_then(|t| t.token_type()) == Some(TokenType::Auth);
        let resolved = match pending.key_request() {
            Some(kr) => match cfg.fetcher.fetch(&kr).await {
                Ok(k) => Some(k),
                Err(_) => return Err(failed(VerifyError::KeyUnavailable, auth)),
            },
            None => None,
        };
        let key = resolved.as_deref();
        let (verified, remembered) = if caching {
            pending.finish_remembering(&req, key, policy, &tokens, now)
        } else {
            pending
                .finish(&req, key, policy, &tokens, now)
                .map(|v| (v, None))
        }
        .map_err(|e| failed(e, auth))?;
        if let Some(t) = remembered {
            cache.insert(Arc::new(t), now);
        }
        Ok((verified, scheme))
    }

    /// L§10.5: a verified request whose (authority, key, `Nonce`) was seen within the
    /// window is a replay.
    fn check_replay(
        &self,
        parts: &http::request::Parts,
        v: &VerifiedRequest,
        now: UnixTime,
    ) -> Result<(), Rejection> {
        let cfg = &self.config.inner;
        let nonces = parts.headers.get_all(NONCE).iter().map(|h| h.as_bytes());
        let claim = replay::nonce_claim(
            parts.method.as_str(),
            nonces,
            &cfg.authority,
            v,
            cfg.verify_policy.window,
            cfg.replay_scope,
        )
        .map_err(Rejection::Replay)?;
        match claim {
            Some(c) => cfg
                .replay
                .check_and_insert(c, now.as_secs())
                .map_err(Rejection::Replay),
            None => Ok(()),
        }
    }

    fn enforce(&self, v: &VerifiedRequest, now: UnixTime) -> Result<(), Rejection> {
        let cfg = &self.config.inner;
        let issuer = ChallengeIssuer {
            resource_id: &cfg.resource_id,
            auth_server: cfg.auth_servers.first().map_or("", String::as_str),
            key: &cfg.signing_key,
            lifetime: cfg.resource_token_lifetime,
        };
        aauth_http::enforce(v, &self.route.requirement, &issuer, now).map_err(Rejection::from)
    }

    /// The challenge for a caller that has not shown enough to get a resource token.
    fn challenge_before_verification(&self, unmet: Unmet) -> Rejection {
        Refusal::before_verification(&self.route.requirement, unmet).into()
    }
}

/// A verification failure: `Agent-Auth: httpsig`, plus `auth-token` when the request
/// presented an auth token (the reference resource's replies, reference notes §5).
fn failed(error: VerifyError, auth_token: bool) -> Rejection {
    Rejection::Verification {
        error,
        challenge: Box::new(verification_challenge(auth_token)),
    }
}

impl<B, K> AsyncAuthorizeRequest<B> for AAuthPolicy<K>
where
    B: HttpBody + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    K: KeyFetcher,
{
    type RequestBody = Body;
    type ResponseBody = Body;
    type Future = AuthorizeFuture;

    fn authorize(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            this.check(request)
                .await
                .map_err(IntoResponse::into_response)
        })
    }
}
