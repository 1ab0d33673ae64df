//! `POST /agent/token`: `request_type` `auth`, `code`, `refresh` and `exchange` (digest
//! §2.8(c)).

use std::collections::HashMap;

use aauth_core::httpsig::SignatureError;
use aauth_core::token::{Actor, TokenErrorKind, TokenType};
use aauth_core::verify::{Identity, KeyPurpose, TokenPolicy, VerifyError, begin};
use aauth_core::{
    AuthClaims, ErrorCode, Jwk, ProtocolError, RequestParts, ResourceClaims, UnixTime,
    UnverifiedToken, Validation, WellKnown,
};
use aauth_discovery::JwksLocation;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument as _;

use crate::error::Error;
use crate::server::{Inner, Issuer, random_token};
use crate::store::{AuthorizationRequest, REQUEST_TOKEN_TTL, RefreshGrant, Store, StoreError};

/// The signed request as the core sees it, plus the parsed form.
struct Call<'a> {
    req: RequestParts<'a>,
    form: HashMap<String, String>,
    now: UnixTime,
}

impl Call<'_> {
    /// A form parameter; empty values count as absent (as in the reference).
    fn param(&self, name: &str) -> Option<&str> {
        self.form
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Who signed a token request (agent server or agent delegate), with the key that signed.
struct Requester {
    agent: String,
    delegate: Option<String>,
    jwk: Jwk,
    jkt: String,
    /// A delegate's agent token `exp`: the agent server vouches for the delegate's key
    /// only until then, so a token bound to that key must not outlive it.
    not_after: Option<u64>,
}

pub(crate) async fn handle<S: Store>(
    State(issuer): State<Issuer<S>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let inner = &*issuer.inner;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge,
        _ => Error::invalid_request("Failed to read request body"),
    })?;
    let form = parse_form(&body)?;
    let header_list: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let req = RequestParts::new(
        method.as_str(),
        inner.config.authority(),
        target,
        &header_list,
    )
    .with_scheme(inner.config.scheme())
    .with_body(&body);
    let call = Call {
        req,
        form,
        now: inner.now(),
    };
    // One span per token request (verification and key discovery nest under it); the
    // error code is recorded, never the token or the request.
    let span = tracing::info_span!(
        "aauth.token",
        aauth.request_type = tracing::field::Empty,
        error = tracing::field::Empty,
    );
    if let Some(t) = call.param("request_type") {
        span.record("aauth.request_type", t.chars().take(16).collect::<String>());
    }
    let result = dispatch(inner, &call).instrument(span.clone()).await;
    if let Err(e) = &result {
        span.record("error", e.code());
    }
    let body = result?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response())
}

/// Parses `application/x-www-form-urlencoded`, tolerating the reference agent's unescaped
/// `k=v&k=v` bodies (a JWT, an `http://` URL and a space-separated scope survive that).
/// A parameter given twice is refused rather than silently picking one.
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, Error> {
    if std::str::from_utf8(body).is_err() {
        return Err(Error::invalid_request(
            "Failed to parse request body: not UTF-8",
        ));
    }
    let pairs =
        aauth_core::form::parse_unique(body).map_err(|e| Error::invalid_request(e.to_string()))?;
    Ok(pairs.into_iter().collect())
}

/// Verifies the request signature of `auth`, `code` and `refresh` calls: `scheme=jwks`
/// (agent server) or `scheme=jwt` with an `agent+jwt` (delegate). `hwk` is refused: a
/// pseudonymous key has no agent identifier to bind a grant to.
async fn authenticate<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<Requester, Error> {
    let config = &inner.config;
    let mut tokens = TokenPolicy::new(config.issuer());
    tokens.accept_auth_tokens = false;
    let policy = &config.verify_policy;
    let pending = begin(&call.req, policy, &tokens, call.now).map_err(|e| match e {
        VerifyError::TokenTypeNotAccepted => Error::unauthenticated(
            ErrorCode::InvalidRequest,
            "Auth tokens should be used with request_type=exchange",
        ),
        e => verify_error(e),
    })?;
    let resolved = match pending.key_request() {
        None => {
            return Err(Error::unauthenticated(
                ErrorCode::InvalidRequest,
                "Pseudonymous (hwk) signatures cannot request tokens: sign with scheme=jwks \
                 or scheme=jwt carrying an agent token",
            ));
        }
        Some(kr) => {
            let purpose = kr.purpose;
            config.discovery.resolve(&kr).await.map_err(|e| {
                if purpose == KeyPurpose::AgentToken {
                    Error::unauthenticated(
                        ErrorCode::InvalidToken,
                        format!("Invalid agent token: agent server key unavailable: {e}"),
                    )
                } else {
                    Error::unauthenticated(
                        ErrorCode::InvalidSignature,
                        format!("Signing key unavailable: {e}"),
                    )
                }
            })?
        }
    };
    let verified = pending
        .finish(&call.req, Some(&resolved), policy, &tokens, call.now)
        .map_err(verify_error)?;
    let agent = verified.agent().ok_or_else(|| {
        Error::unauthenticated(
            ErrorCode::InvalidRequest,
            "Could not extract agent identifier",
        )
    })?;
    Ok(Requester {
        agent: agent.to_owned(),
        delegate: verified.agent_delegate().map(str::to_owned),
        jwk: verified.signer_jwk().clone(),
        jkt: verified.signer_thumbprint().to_owned(),
        not_after: match verified.identity() {
            Identity::Delegate { token } => Some(token.exp),
            _ => None,
        },
    })
}

/// The 401 for a failed request verification, in the reference's vocabulary: malformed
/// signature material is `invalid_request`, a bad token `invalid_token`, the rest
/// `invalid_signature`.
fn verify_error(e: VerifyError) -> Error {
    let code = match &e {
        VerifyError::Signature(SignatureError::MissingHeader(_))
        | VerifyError::SignatureKey(_)
        | VerifyError::TokenTypeNotAccepted
        | VerifyError::UnsupportedScheme => ErrorCode::InvalidRequest,
        VerifyError::Token(_) | VerifyError::UntrustedIssuer => ErrorCode::InvalidToken,
        VerifyError::Signature(s) => s.code(),
        _ => ErrorCode::InvalidSignature,
    };
    Error::unauthenticated(code, e.to_string())
}

/// L§6.5 / L-18: a resource token addressed to this issuer, signed with a key published
/// at `{iss}/.well-known/aauth-resource`, unexpired; with `agent` and `agent_jkt` equal to
/// the requester's when they are known.
async fn verify_resource_token<S: Store>(
    inner: &Inner<S>,
    token: &str,
    requester: Option<&Requester>,
    now: UnixTime,
) -> Result<ResourceClaims, Error> {
    let bad = |msg: String| Error::invalid_resource_token(format!("Invalid resource token: {msg}"));
    let t = UnverifiedToken::parse(token).map_err(|e| bad(e.to_string()))?;
    if t.token_type() != Some(TokenType::Resource) {
        return Err(bad("typ must be resource+jwt".into()));
    }
    let iss = t.iss().ok_or_else(|| bad("missing iss".into()))?;
    let location = JwksLocation::well_known(iss, WellKnown::RESOURCE);
    let key = inner
        .config
        .discovery
        .key(&location, t.kid())
        .await
        .map_err(|e| bad(format!("resource key unavailable: {e}")))?;
    let validation = Validation::issuer(iss).with_audience(inner.config.issuer());
    let claims = t
        .verify::<ResourceClaims>(&key.key, &validation, now)
        .map_err(|e| bad(e.to_string()))?
        .into_claims();
    if let Some(r) = requester {
        if claims.agent != r.agent {
            return Err(Error::invalid_resource_token(format!(
                "Agent claim mismatch: expected {}, got {}",
                r.agent, claims.agent
            )));
        }
        if claims.agent_jkt != r.jkt {
            return Err(Error::invalid_resource_token(
                "agent_jkt mismatch: token was issued for different key",
            ));
        }
    }
    Ok(claims)
}

/// Normalizes a space-separated scope and checks each scope token (RFC 6749 §3.3).
fn normalize_scope(scope: &str) -> Result<String, Error> {
    let ok =
        |c: char| c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c);
    let parts: Vec<&str> = scope.split_whitespace().collect();
    if parts.iter().any(|s| !s.chars().all(ok)) || parts.len() > 64 {
        return Err(Error::Client(
            ErrorCode::InvalidScope,
            "Invalid scope value".into(),
        ));
    }
    Ok(parts.join(" "))
}

/// `redirect_uri` must be an absolute http(s) URL without fragment (L§9.3).
fn check_redirect_uri(uri: &str) -> Result<(), Error> {
    match url::Url::parse(uri) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some()
                && u.fragment().is_none()
                && uri.len() <= 2048 =>
        {
            Ok(())
        }
        _ => Err(Error::invalid_request(
            "redirect_uri must be an absolute http(s) URL without fragment",
        )),
    }
}

/// What an auth token says besides the fixed claims.
struct Grant<'a> {
    resource: &'a str,
    /// `None` when the agent is the resource (L§7.3: `agent` omitted).
    agent: Option<&'a str>,
    delegate: Option<&'a str>,
    cnf: &'a Jwk,
    scope: &'a str,
    sub: Option<String>,
    act: Option<Actor>,
    nbf: bool,
    /// The latest `exp` the token may carry: a token must not outlive the credential it
    /// was derived from. An exchanged token is derived from the upstream auth token, which
    /// L§9.10 requires to be unexpired at exchange time; without a cap, an upstream token
    /// about to expire would buy a fresh full-lifetime token and stretch the upstream
    /// server's grant. A delegate's token binds a key that only its agent token vouches
    /// for (the later drafts state this cap outright: digest N-13, N-21). Refresh stays
    /// usable across delegate rotation (L§9.7): a refresh signed under a new agent token
    /// is capped by that one.
    not_after: Option<u64>,
}

/// A signed auth token with its lifetime in seconds (`expires_in`).
struct Issued {
    token: String,
    expires_in: u64,
}

async fn issue<S: Store>(inner: &Inner<S>, g: Grant<'_>, now: UnixTime) -> Result<Issued, Error> {
    let config = &inner.config;
    let mut exp = now.saturating_add(config.token_ttl).as_secs();
    if let Some(cap) = g.not_after {
        exp = exp.min(cap);
    }
    let mut claims = AuthClaims::new(
        config.issuer(),
        g.resource,
        g.cnf.clone(),
        UnixTime::from_secs(exp),
    )
    .with_iat(now);
    if !g.scope.is_empty() {
        claims = claims.with_scope(g.scope);
    }
    if let Some(a) = g.agent {
        claims = claims.with_agent(a);
    }
    if let Some(sub) = g.sub {
        claims = claims.with_sub(sub);
    }
    if let Some(d) = g.delegate {
        claims = claims.with_agent_delegate(d);
    }
    if let Some(act) = g.act {
        claims = claims.with_act(act);
    }
    if g.nbf {
        claims = claims.with_nbf(now);
    }
    let signer = inner.signer().await?;
    let token = claims
        .sign(&signer)
        .map_err(|_| Error::Internal("auth token signing failed"))?;
    Ok(Issued {
        token,
        expires_in: exp.saturating_sub(now.as_secs()),
    })
}

fn jwk_json(jwk: &Jwk) -> Result<String, Error> {
    serde_json::to_string(jwk).map_err(|_| Error::Internal("jwk serialization"))
}

async fn new_refresh_token<S: Store>(
    inner: &Inner<S>,
    grant: &RefreshGrant,
    now: UnixTime,
) -> Result<String, Error> {
    let token = random_token();
    let expires = inner.config.refresh_ttl.map(|t| now.as_secs() + t);
    inner
        .store
        .create_refresh_token(&token, grant, expires, now.as_secs())
        .await?;
    Ok(token)
}

/// Runs the `request_type` the call names.
async fn dispatch<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<serde_json::Value, Error> {
    match call.param("request_type") {
        None => Err(Error::invalid_request("Missing request_type parameter")),
        Some("auth") => auth(inner, call).await,
        Some("code") => code(inner, call).await,
        Some("refresh") => refresh(inner, call).await,
        Some("exchange") => exchange(inner, call).await,
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            Err(Error::Client(
                ErrorCode::UnsupportedRequestType,
                format!("Unsupported request_type: {shown}").into(),
            ))
        }
    }
}

/// `request_type=auth` (L§9.3–9.4).
async fn auth<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<serde_json::Value, Error> {
    let requester = authenticate(inner, call).await?;
    let redirect_uri = call.param("redirect_uri").ok_or_else(|| {
        Error::invalid_request("Missing redirect_uri parameter (required per spec)")
    })?;
    check_redirect_uri(redirect_uri)?;
    let (rtok, scope, aru) = (
        call.param("resource_token"),
        call.param("scope"),
        call.param("auth_request_url"),
    );
    if [rtok.is_some(), scope.is_some(), aru.is_some()]
        .iter()
        .filter(|b| **b)
        .count()
        != 1
    {
        return Err(Error::invalid_request(
            "Must provide exactly one of: resource_token, scope, or auth_request_url",
        ));
    }
    // With `scope` or `auth_request_url` the agent is the resource (SSO, L§9.4): the
    // token's audience is the agent itself and it carries no `agent` claim. Auth Request
    // Documents are not fetched: such a request grants no scope.
    let (resource, scope) = match rtok {
        Some(t) => {
            let rc = verify_resource_token(inner, t, Some(&requester), call.now).await?;
            (rc.iss, rc.scope.unwrap_or_default())
        }
        None => (
            requester.agent.clone(),
            scope.unwrap_or_default().to_owned(),
        ),
    };
    let scope = normalize_scope(&scope)?;
    let agent_is_resource = resource == requester.agent;
    let jwk = jwk_json(&requester.jwk)?;
    if inner.config.consent.needs_consent(&scope) {
        let token = random_token();
        let request = AuthorizationRequest {
            agent_id: requester.agent.clone(),
            agent_delegate: requester.delegate.clone(),
            agent_jwk: jwk,
            agent_jkt: requester.jkt.clone(),
            resource_id: resource,
            scope,
            redirect_uri: redirect_uri.to_owned(),
            state: call.param("state").map(str::to_owned),
        };
        inner
            .store
            .create_pending(&token, &request, call.now.as_secs())
            .await?;
        return Ok(json!({ "request_token": token, "expires_in": REQUEST_TOKEN_TTL }));
    }
    let auth_token = issue(
        inner,
        Grant {
            resource: &resource,
            agent: (!agent_is_resource).then_some(requester.agent.as_str()),
            delegate: requester.delegate.as_deref(),
            cnf: &requester.jwk,
            scope: &scope,
            sub: None,
            act: None,
            nbf: false,
            not_after: requester.not_after,
        },
        call.now,
    )
    .await?;
    let grant = RefreshGrant {
        agent_id: requester.agent,
        agent_delegate: requester.delegate,
        user: None,
        resource_id: resource,
        scope,
        agent_jwk: jwk,
    };
    let refresh_token = new_refresh_token(inner, &grant, call.now).await?;
    Ok(token_response(auth_token, Some(refresh_token)))
}

fn token_response(issued: Issued, refresh: Option<String>) -> serde_json::Value {
    let mut v = json!({
        "auth_token": issued.token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
    });
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    v
}

/// `request_type=code` (L§9.5–9.6).
async fn code<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<serde_json::Value, Error> {
    let code = call
        .param("code")
        .ok_or_else(|| Error::invalid_request("Missing code parameter"))?;
    let redirect_uri = call
        .param("redirect_uri")
        .ok_or_else(|| Error::invalid_request("Missing redirect_uri parameter"))?;
    // Authenticate before touching the code, so unauthenticated callers cannot burn codes.
    let requester = authenticate(inner, call).await?;
    let c = match inner.store.redeem_code(code, call.now.as_secs()).await {
        Ok(c) => c,
        Err(StoreError::Expired { .. }) => {
            return Err(Error::invalid_grant("Authorization code expired"));
        }
        Err(StoreError::NotFound | StoreError::Conflict | StoreError::InvalidInput(_)) => {
            return Err(Error::invalid_grant(
                "Invalid or expired authorization code",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let r = &c.request;
    if r.redirect_uri != redirect_uri {
        return Err(Error::invalid_grant("redirect_uri mismatch"));
    }
    if r.agent_id != requester.agent || r.agent_delegate != requester.delegate {
        return Err(Error::invalid_grant("Agent mismatch"));
    }
    let sub = c.user.to_string();
    let auth_token = issue(
        inner,
        Grant {
            resource: &r.resource_id,
            agent: (r.resource_id != r.agent_id).then_some(r.agent_id.as_str()),
            delegate: requester.delegate.as_deref(),
            cnf: &requester.jwk,
            scope: &r.scope,
            sub: Some(sub),
            act: None,
            nbf: false,
            not_after: requester.not_after,
        },
        call.now,
    )
    .await?;
    let grant = RefreshGrant {
        agent_id: requester.agent,
        agent_delegate: requester.delegate,
        user: Some(c.user),
        resource_id: r.resource_id.clone(),
        scope: r.scope.clone(),
        agent_jwk: jwk_json(&requester.jwk)?,
    };
    let refresh_token = new_refresh_token(inner, &grant, call.now).await?;
    Ok(token_response(auth_token, Some(refresh_token)))
}

/// `request_type=refresh` (L§9.7): bound to the agent (and delegate), not to a key; the
/// new token binds the key that signed this request. No new refresh token.
async fn refresh<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<serde_json::Value, Error> {
    let token = call
        .param("refresh_token")
        .ok_or_else(|| Error::invalid_request("Missing refresh_token parameter"))?;
    let requester = authenticate(inner, call).await?;
    let rt = inner
        .store
        .refresh_token(token, call.now.as_secs())
        .await?
        .ok_or_else(|| Error::invalid_grant("Invalid or expired refresh token"))?;
    let g = &rt.grant;
    if g.agent_id != requester.agent || g.agent_delegate != requester.delegate {
        return Err(Error::invalid_grant(
            "Refresh token was issued to another agent",
        ));
    }
    let auth_token = issue(
        inner,
        Grant {
            resource: &g.resource_id,
            agent: (g.resource_id != g.agent_id).then_some(g.agent_id.as_str()),
            delegate: g.agent_delegate.as_deref(),
            cnf: &requester.jwk,
            scope: &g.scope,
            sub: g.user.map(|u| u.to_string()),
            act: None,
            nbf: false,
            not_after: requester.not_after,
        },
        call.now,
    )
    .await?;
    Ok(token_response(auth_token, None))
}

fn act_depth(act: Option<&Actor>) -> usize {
    let mut depth = 0;
    let mut cur = act;
    while let Some(a) = cur {
        depth += 1;
        cur = a.act.as_deref();
    }
    depth
}

/// `request_type=exchange` (L§9.10, digest §2.8(f)).
///
/// The `Signature-Key` carries the upstream auth token (`scheme=jwt`), but, like the
/// reference (digest D9), the HTTP signature is verified with the requester's own key: the
/// key in `{resource_token.agent}/.well-known/aauth-resource` whose thumbprint is the
/// resource token's `agent_jkt`. The upstream token's `cnf.jwk` belongs to the previous
/// agent and cannot have signed.
async fn exchange<S: Store>(inner: &Inner<S>, call: &Call<'_>) -> Result<serde_json::Value, Error> {
    let config = &inner.config;
    let rtok = call
        .param("resource_token")
        .ok_or_else(|| Error::invalid_request("Missing resource_token parameter"))?;
    let trusted: Vec<&str> = config
        .trusted_upstreams
        .iter()
        .map(String::as_str)
        .collect();
    let mut tokens = TokenPolicy::new(config.issuer()).with_trusted_issuers(&trusted);
    tokens.accept_agent_tokens = false;
    let policy = &config.verify_policy;
    let need_jwt = || {
        Error::unauthenticated(
            ErrorCode::InvalidRequest,
            "Token exchange requires scheme=jwt with upstream auth token",
        )
    };
    let pending = begin(&call.req, policy, &tokens, call.now).map_err(|e| match e {
        VerifyError::UntrustedIssuer => {
            Error::unauthenticated(ErrorCode::InvalidToken, "Upstream auth server not trusted")
        }
        VerifyError::TokenTypeNotAccepted => need_jwt(),
        e => verify_error(e),
    })?;
    let (Some(upstream), Some(kr)) = (pending.token(), pending.key_request()) else {
        return Err(need_jwt());
    };
    let upstream_key = config.discovery.resolve(&kr).await.map_err(|e| {
        Error::unauthenticated(
            ErrorCode::InvalidToken,
            format!("Failed to verify upstream token: key unavailable: {e}"),
        )
    })?;
    let rc = verify_resource_token(inner, rtok, None, call.now).await?;
    let requester = rc.agent.as_str();
    let validation = Validation::issuers(&trusted).with_audience(requester);
    let up = upstream
        .verify::<AuthClaims>(&upstream_key.key, &validation, call.now)
        .map_err(|e| {
            let msg = match e.kind() {
                TokenErrorKind::AudienceMismatch => {
                    format!("Upstream token audience mismatch: expected {requester}")
                }
                TokenErrorKind::Expired { .. } => "Upstream token has expired".to_owned(),
                _ => format!("Failed to verify upstream token: {e}"),
            };
            Error::unauthenticated(ErrorCode::InvalidToken, msg)
        })?
        .into_claims();
    if act_depth(up.act.as_ref()) + 1 > config.max_act_depth {
        return Err(Error::Client(
            ErrorCode::AccessDenied,
            "Delegation chain exceeds the maximum depth".into(),
        ));
    }
    let up_agent = up
        .effective_agent()
        .ok_or_else(|| {
            Error::unauthenticated(ErrorCode::InvalidToken, "Upstream token names no agent")
        })?
        .to_owned();
    // D9: the requester's key, selected by `agent_jkt`. Discovery selects by `kid`; the
    // signature's `keyid` parameter is used when present, otherwise the requester's JWKS
    // must hold exactly one key.
    let location = JwksLocation::well_known(requester, WellKnown::RESOURCE);
    let keyid = pending.signed().params().keyid.as_deref();
    let not_found = || {
        Error::unauthenticated(
            ErrorCode::InvalidRequest,
            "Signing key not found in requesting resource's JWKS",
        )
    };
    let key = config
        .discovery
        .key(&location, keyid)
        .await
        .map_err(|_| not_found())?;
    if key.jwk.thumbprint().ok().as_deref() != Some(rc.agent_jkt.as_str()) {
        return Err(not_found());
    }
    pending
        .signed()
        .verify(&call.req, &key.key, policy)
        .map_err(|e| {
            Error::unauthenticated(
                ErrorCode::InvalidSignature,
                format!("HTTPSig signature verification failed: {e}"),
            )
        })?;
    let mut act = Actor::new(up_agent);
    if let Some(d) = &up.agent_delegate {
        act = act.with_agent_delegate(d.clone());
    }
    if let Some(s) = &up.sub {
        act = act.with_sub(s.clone());
    }
    if let Some(a) = up.act {
        act = act.with_act(a);
    }
    let scope = normalize_scope(rc.scope.as_deref().unwrap_or_default())?;
    let auth_token = issue(
        inner,
        Grant {
            resource: &rc.iss,
            agent: Some(requester),
            delegate: None,
            cnf: &key.jwk,
            scope: &scope,
            sub: up.sub.clone(),
            act: Some(act),
            nbf: true,
            not_after: Some(up.exp),
        },
        call.now,
    )
    .await?;
    // No refresh token for an exchanged grant (L§9.10), so nothing can extend it later.
    Ok(json!({ "auth_token": auth_token.token, "expires_in": auth_token.expires_in }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tolerates_unescaped_bodies_and_refuses_duplicates() {
        let f =
            parse_form(b"request_type=auth&redirect_uri=http://127.0.0.1:8001/callback&scope=a b")
                .unwrap();
        assert_eq!(f["redirect_uri"], "http://127.0.0.1:8001/callback");
        assert_eq!(f["scope"], "a b");
        assert!(parse_form(b"a=1&a=2").is_err());
        assert!(parse_form(&[0xff, 0xfe]).is_err());
        assert!(parse_form(b"%%%&&&===").is_ok());
    }

    #[test]
    fn scope_normalization() {
        assert_eq!(normalize_scope("  a   b.c ").unwrap(), "a b.c");
        assert!(normalize_scope("a\"b").is_err());
        assert!(normalize_scope("caf\u{e9}").is_err());
    }

    #[test]
    fn act_depth_counts_nested_actors() {
        assert_eq!(act_depth(None), 0);
        let a = Actor::new("a").with_act(Actor::new("b").with_act(Actor::new("c")));
        assert_eq!(act_depth(Some(&a)), 3);
    }
}
