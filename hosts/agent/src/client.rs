//! The signing client and its challenge handling (digest §2.2, §2.8).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::metadata::well_known_url;
use aauth_core::signature_key::{JwksRef, KeyScheme};
use aauth_core::token::UnverifiedToken;
use aauth_core::{AgentAuth, IssuerMetadata, Jwk, RequestParts, SigningKey, UnixTime};
use aauth_discovery::{EgressPolicy, PolicyResolver};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument as _;

use crate::clock::Clock;
use crate::consent::{ConsentError, ConsentHook, ConsentRequest};
use crate::error::AgentError;
use crate::trace::{Hop, Step, Trace, decode_jwt};

/// The signature label the early-2026 wire format requires.
const LABEL: &str = "sig1";
/// Largest token-endpoint or metadata response body read.
const MAX_PROTOCOL_BODY: usize = 1024 * 1024;
/// Sends per [`AgentClient::send`]: first try; a refreshed token; identity again after a
/// refused token was dropped; the retry with a newly acquired token.
const MAX_ATTEMPTS: usize = 4;

/// How the agent identifies itself when it has no auth token for a resource (digest §2.2,
/// "Agent response per level").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    /// An agent server: `Signature-Key: sig1=(scheme=jwks id="…" kid="…" well-known="…")`.
    /// The key's `kid` must be set and published in the JWKS behind the metadata.
    AgentServer {
        /// The agent identifier (an HTTPS URL; HTTP on loopback for development).
        id: String,
        /// The metadata document name, `aauth-agent`.
        well_known: String,
    },
    /// An agent delegate: `Signature-Key: sig1=(scheme=jwt jwt="<agent+jwt>")`; the agent
    /// token's `cnf.jwk` must be this client's key.
    Delegate {
        /// The `agent+jwt` minted by the agent server.
        agent_token: String,
    },
    /// No identity: `Signature-Key: sig1=(scheme=hwk …)` with the bare public key.
    Pseudonymous,
}

impl Identity {
    /// An agent server with the standard metadata name `aauth-agent`.
    pub fn agent_server(id: impl Into<String>) -> Self {
        Self::AgentServer {
            id: id.into().trim_end_matches('/').to_owned(),
            well_known: "aauth-agent".to_owned(),
        }
    }

    /// A resource acting as an agent towards a downstream resource (token exchange,
    /// digest §2.8(f)): identified by its own key published under
    /// `{id}/.well-known/aauth-resource`, which is where the auth server finds the key that
    /// must sign the exchange request.
    pub fn resource(id: impl Into<String>) -> Self {
        Self::AgentServer {
            id: id.into().trim_end_matches('/').to_owned(),
            well_known: "aauth-resource".to_owned(),
        }
    }

    /// An agent delegate presenting `agent_token`.
    pub fn delegate(agent_token: impl Into<String>) -> Self {
        Self::Delegate {
            agent_token: agent_token.into(),
        }
    }

    fn scheme(&self, key: &SigningKey) -> Result<KeyScheme, AgentError> {
        Ok(match self {
            Self::AgentServer { id, well_known } => KeyScheme::Jwks(JwksRef::Id {
                id: id.clone(),
                kid: key
                    .kid()
                    .ok_or(AgentError::Config("agent-server key needs a kid"))?
                    .to_owned(),
                well_known: Some(well_known.clone()),
            }),
            Self::Delegate { agent_token } => KeyScheme::Jwt {
                jwt: agent_token.clone(),
            },
            Self::Pseudonymous => KeyScheme::Hwk(Jwk::ed25519(&key.public_bytes(), None)),
        })
    }

    /// `{agent id}/callback`, the reference's redirect URI; `None` when pseudonymous.
    fn default_redirect_uri(&self) -> Option<String> {
        let id = match self {
            Self::AgentServer { id, .. } => id.clone(),
            Self::Delegate { agent_token } => UnverifiedToken::parse(agent_token)
                .ok()?
                .iss()?
                .trim_end_matches('/')
                .to_owned(),
            Self::Pseudonymous => return None,
        };
        Some(format!("{id}/callback"))
    }
}

/// The token cache key: origin, scope hint, upstream token (for exchanges).
type SlotKey = (String, Option<String>, Option<String>);

/// Cache entries kept before unused ones are pruned. A resource doing token exchange opens
/// one entry per caller token, so without a bound the cache would grow with its callers.
const MAX_SLOTS: usize = 4096;

/// Drops entries nobody is using whose token is absent or expired; if that frees nothing
/// (every token still live), drops every unused entry: losing a cached token costs one
/// token request, an unbounded cache costs memory.
fn prune(slots: &mut HashMap<SlotKey, SlotRef>, now: u64) {
    let idle = |slot: &SlotRef| Arc::strong_count(slot) == 1;
    let dead = |slot: &SlotRef| {
        slot.try_lock()
            .map(|s| s.token.as_ref().is_none_or(|t| t.exp <= now))
            .unwrap_or(false)
    };
    slots.retain(|_, slot| !(idle(slot) && dead(slot)));
    if slots.len() >= MAX_SLOTS {
        slots.retain(|_, slot| !idle(slot));
    }
}

/// A request to send: method, URL, headers, optional body, and an optional scope key.
///
/// `Signature`, `Signature-Input`, `Signature-Key` and `Content-Digest` headers set here
/// are dropped: the client computes them.
#[derive(Clone, Debug)]
pub struct AgentRequest {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    scope: Option<String>,
    upstream: Option<String>,
}

impl AgentRequest {
    /// A request without body.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: None,
            scope: None,
            upstream: None,
        }
    }

    /// `GET url`.
    ///
    /// # Errors
    /// [`AgentError::Config`] when `url` does not parse.
    pub fn get(url: &str) -> Result<Self, AgentError> {
        Ok(Self::new(Method::GET, parse_url(url)?))
    }

    /// `POST url` with a body of type `content_type`.
    ///
    /// # Errors
    /// [`AgentError::Config`] when `url` does not parse.
    pub fn post(
        url: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Result<Self, AgentError> {
        Ok(Self::new(Method::POST, parse_url(url)?).body(content_type, body))
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        const OURS: [&str; 4] = [
            "signature",
            "signature-input",
            "signature-key",
            "content-digest",
        ];
        if !OURS.iter().any(|o| name.eq_ignore_ascii_case(o)) {
            self.headers.push((name, value.into()));
        }
        self
    }

    /// Sets the body and its `Content-Type` (covered by the signature with
    /// `Content-Digest`).
    #[must_use]
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = Some(body.into());
        self
    }

    /// Acts on behalf of the caller of a resource (token exchange, digest §2.8(f)): when the
    /// downstream resource challenges, the auth token is obtained with
    /// `request_type=exchange`, presenting `auth_token` (the upstream caller's auth token)
    /// in `Signature-Key: sig1=(scheme=jwt jwt="…")` while signing with this client's key.
    /// Exchanged tokens are cached per upstream token. Use with [`Identity::resource`].
    #[must_use]
    pub fn upstream_token(mut self, auth_token: impl Into<String>) -> Self {
        self.upstream = Some(auth_token.into());
        self
    }

    /// Keys the token cache by `scope` as well as the origin: requests to one origin that
    /// need different authorizations (e.g. a user-consented scope) get separate tokens.
    /// Requests without a scope share the origin's default token.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
}

fn parse_url(url: &str) -> Result<Url, AgentError> {
    let url = Url::parse(url).map_err(|_| AgentError::Config("request URL does not parse"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AgentError::Config(
            "request URL must be http(s) with a host",
        ));
    }
    Ok(url)
}

/// The final response of [`AgentClient::send`] and, when tracing is on, every hop.
#[derive(Debug)]
#[non_exhaustive]
pub struct AgentResponse {
    /// The last response from the resource (status, headers, unread body).
    pub response: reqwest::Response,
    /// The hops, when the client was built with [`AgentClientBuilder::trace`].
    pub trace: Option<Trace>,
}

impl AgentResponse {
    /// The HTTP status of the final response.
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }
}

/// Adds trace-context headers (W3C `traceparent`, `tracestate`) to an outgoing request,
/// given the hop's `aauth.hop` span; set with [`AgentClientBuilder::propagate`]. The
/// headers are added after signing and are not covered by the signature.
pub type Propagator = Arc<dyn Fn(&tracing::Span, &mut HeaderMap) + Send + Sync>;

/// Configures an [`AgentClient`]; from [`AgentClient::builder`].
#[must_use]
pub struct AgentClientBuilder {
    key: Arc<SigningKey>,
    identity: Identity,
    redirect_uri: Option<String>,
    clock: Clock,
    consent: Option<Arc<dyn ConsentHook>>,
    refresh_margin: Duration,
    trace: bool,
    timeout: Duration,
    egress: Option<Arc<EgressPolicy>>,
    propagate: Option<Propagator>,
}

impl fmt::Debug for AgentClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClientBuilder")
            .field("identity", &self.identity)
            .field("redirect_uri", &self.redirect_uri)
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}

impl AgentClientBuilder {
    /// The redirect URI sent with `request_type=auth` and `code` (default
    /// `{agent id}/callback`).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The time source (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The consent hook called when the auth server answers with a `request_token`.
    /// Without one, such an answer fails with `consent_required`.
    pub fn consent(mut self, hook: impl ConsentHook + 'static) -> Self {
        self.consent = Some(Arc::new(hook));
        self
    }

    /// Refresh a cached token this long before its `exp` (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Record a [`Trace`] of every hop in each [`AgentResponse`] (default off).
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Per-request HTTP timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Refuse every URL the policy does not admit (scheme, IP literals) and connect only
    /// to resolved addresses it permits. Without a policy the client goes wherever it is
    /// sent; set one whenever URLs come from parties you do not trust, above all in a
    /// resource calling downstream, where a challenge names the auth server to contact
    /// (digest §5.2 S-22).
    pub fn egress(mut self, policy: EgressPolicy) -> Self {
        self.egress = Some(Arc::new(policy));
        self
    }

    /// Continue the caller's distributed trace across hops: every request (resource,
    /// token endpoint) runs in an `aauth.hop` span, and `propagator` writes that span's
    /// context into the request headers, e.g. with OpenTelemetry's W3C trace-context
    /// propagator. Without it no trace headers are sent (the spans still exist).
    pub fn propagate(mut self, propagator: Propagator) -> Self {
        self.propagate = Some(propagator);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`AgentError::Config`] when the identity cannot be expressed (an agent-server key
    /// without `kid`) or the HTTP client cannot be built;
    /// [`AgentError::SignatureKey`] when the `Signature-Key` value is not representable.
    pub fn build(self) -> Result<AgentClient, AgentError> {
        let identity_header = self.identity.scheme(&self.key)?.to_header(LABEL)?;
        let tls = crate::tls::config().map_err(|_| AgentError::Config("TLS setup"))?;
        let mut http = Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .user_agent(concat!("aauth-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(policy) = &self.egress {
            http = http.dns_resolver(Arc::new(PolicyResolver::new(Arc::clone(policy))));
        }
        let http = http
            .build()
            .map_err(|_| AgentError::Config("HTTP client"))?;
        let redirect_uri = self
            .redirect_uri
            .or_else(|| self.identity.default_redirect_uri());
        Ok(AgentClient {
            inner: Arc::new(Inner {
                http,
                key: self.key,
                identity: self.identity,
                identity_header,
                redirect_uri,
                clock: self.clock,
                consent: self.consent,
                refresh_margin: self.refresh_margin.as_secs(),
                trace: self.trace,
                slots: Mutex::default(),
                issuers: Mutex::default(),
                egress: self.egress,
                propagate: self.propagate,
            }),
        })
    }
}

/// An AAuth agent's HTTP client: signs every request (RFC 9421 profile, label `sig1`,
/// base64url signatures, `Content-Digest` for bodies) and answers `Agent-Auth`
/// challenges.
///
/// On a `401` with `Agent-Auth: httpsig; auth-token; resource_token="…";
/// auth_server="…"` it fetches the auth server's metadata, asks its token endpoint for an
/// auth token (`request_type=auth`), runs the consent hook and `request_type=code` when
/// the server wants user consent, and retries with `Signature-Key: sig1=(scheme=jwt
/// jwt="<auth token>")`. Tokens are cached per (resource origin, request scope) and
/// refreshed shortly before `exp` (`request_type=refresh`, falling back to a new `auth`
/// request); one acquisition runs at a time per cache entry, and concurrent callers wait
/// for it. Cloning is cheap and shares the cache.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use aauth_agent::{AgentClient, AgentRequest, FormConsent, Identity, generate_signing_key};
///
/// let key = Arc::new(generate_signing_key("key-1")?);
/// let client = AgentClient::builder(key, Identity::agent_server("https://agent.example"))
///     .consent(FormConsent::new("testuser", "testpass"))
///     .trace(true)
///     .build()?;
/// let res = client.send(AgentRequest::get("https://resource.example/data-auth")?).await?;
/// if let Some(trace) = &res.trace {
///     println!("{trace}");
/// }
/// println!("{}: {}", res.status(), res.response.text().await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClient")
            .field("identity", &self.inner.identity)
            .field("redirect_uri", &self.inner.redirect_uri)
            .finish_non_exhaustive()
    }
}

type SlotRef = Arc<tokio::sync::Mutex<Slot>>;

struct Inner {
    http: Client,
    key: Arc<SigningKey>,
    identity: Identity,
    identity_header: String,
    redirect_uri: Option<String>,
    clock: Clock,
    consent: Option<Arc<dyn ConsentHook>>,
    refresh_margin: u64,
    trace: bool,
    slots: Mutex<HashMap<SlotKey, SlotRef>>,
    issuers: Mutex<HashMap<String, IssuerMetadata>>,
    egress: Option<Arc<EgressPolicy>>,
    propagate: Option<Propagator>,
}

/// One cache entry. `generation` changes whenever `token` does, so a caller can tell that
/// someone else acquired a token while it waited.
#[derive(Default)]
struct Slot {
    generation: u64,
    token: Option<CachedToken>,
}

#[derive(Clone)]
struct CachedToken {
    auth_token: String,
    signature_key: String,
    exp: u64,
    refresh_token: Option<String>,
    token_endpoint: String,
}

#[derive(Default, Deserialize)]
struct TokenResponse {
    auth_token: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    request_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

impl AgentClient {
    /// Starts configuring a client that signs with `key` and identifies as `identity`.
    pub fn builder(key: Arc<SigningKey>, identity: Identity) -> AgentClientBuilder {
        AgentClientBuilder {
            key,
            identity,
            redirect_uri: None,
            clock: Clock::system(),
            consent: None,
            refresh_margin: Duration::from_secs(60),
            trace: false,
            timeout: Duration::from_secs(30),
            egress: None,
            propagate: None,
        }
    }

    /// The `Signature-Key` value used when no auth token applies.
    pub fn identity_signature_key(&self) -> &str {
        &self.inner.identity_header
    }

    /// The redirect URI sent to auth servers, if any.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.inner.redirect_uri.as_deref()
    }

    /// Sends `request`, answering `Agent-Auth` challenges as described on the type.
    ///
    /// Returns the resource's final response, whatever its status (a `401` the client
    /// could not resolve is returned, not an error).
    ///
    /// # Errors
    /// [`AgentError`] naming the failing hop: a transport failure, an auth-server error
    /// body ([`AgentError::Protocol`]), a refused consent ([`AgentError::Consent`]), an
    /// identity challenge for a pseudonymous client ([`AgentError::IdentityRequired`]), …
    pub async fn send(&self, request: AgentRequest) -> Result<AgentResponse, AgentError> {
        let mut trace = self.inner.trace.then(Trace::default);
        let slot = self.slot(&request);
        let (mut seen, mut token) = self.usable_token(&slot, &mut trace).await;
        let mut step = Step::Resource;
        let mut acquired = false;
        for attempt in 1..=MAX_ATTEMPTS {
            let sk = token
                .as_ref()
                .map_or(self.inner.identity_header.as_str(), |t| {
                    t.signature_key.as_str()
                });
            let response = self
                .signed(
                    step,
                    &request.method,
                    &request.url,
                    &request.headers,
                    request.body.as_deref(),
                    sk,
                    &mut trace,
                )
                .await?;
            if let (Some(hop), Some(t)) = (last_hop(&mut trace), &token) {
                hop.auth_token = decode_jwt(&t.auth_token);
            }
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(AgentResponse { response, trace });
            }
            let Some(raw) = response.headers().get("agent-auth") else {
                return Ok(AgentResponse { response, trace });
            };
            let url = request.url.to_string();
            let raw = raw.to_str().map_err(|_| AgentError::InvalidChallenge {
                url: url.clone(),
                source: None,
            })?;
            let challenge = AgentAuth::parse(raw).map_err(|e| AgentError::InvalidChallenge {
                url: url.clone(),
                source: Some(e),
            })?;
            if let Some(hop) = last_hop(&mut trace) {
                hop.challenge = Some(raw.to_owned());
                hop.resource_token = challenge.resource_token.as_deref().and_then(decode_jwt);
            }
            if challenge.auth_token {
                let pair = challenge
                    .resource_token
                    .as_deref()
                    .zip(challenge.auth_server.as_deref());
                if pair.is_none() && token.is_none() {
                    return Err(AgentError::InvalidChallenge { url, source: None });
                }
                if acquired || attempt == MAX_ATTEMPTS {
                    // A token fresh from the auth server was refused too: give the
                    // caller the resource's answer.
                    return Ok(AgentResponse { response, trace });
                }
                acquired = pair.is_some();
                (seen, token) = self
                    .acquire(
                        &slot,
                        seen,
                        token.as_ref(),
                        pair,
                        request.upstream.as_deref(),
                        &mut trace,
                    )
                    .await?;
                step = Step::Retry;
                continue;
            }
            if challenge.identity == Some(true)
                && matches!(self.inner.identity, Identity::Pseudonymous)
            {
                return Err(AgentError::IdentityRequired { url });
            }
            if let Some(interaction) = challenge.user_interaction {
                return Err(AgentError::UserInteractionRequired { url, interaction });
            }
            return Ok(AgentResponse { response, trace });
        }
        // Unreachable: the last attempt returns above.
        Err(AgentError::InvalidChallenge {
            url: request.url.to_string(),
            source: None,
        })
    }

    fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    fn slot(&self, request: &AgentRequest) -> SlotRef {
        let key = (
            request.url.origin().ascii_serialization(),
            request.scope.clone(),
            request.upstream.clone(),
        );
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= MAX_SLOTS && !slots.contains_key(&key) {
            prune(&mut slots, self.now().as_secs());
        }
        Arc::clone(slots.entry(key).or_default())
    }

    /// The cached token if it is usable, refreshing it first when it is within the
    /// refresh margin of `exp`. Returns the entry's generation with it.
    async fn usable_token(
        &self,
        slot: &SlotRef,
        trace: &mut Option<Trace>,
    ) -> (u64, Option<CachedToken>) {
        let mut s = slot.lock().await;
        let now = self.now().as_secs();
        let Some(t) = s.token.clone() else {
            return (s.generation, None);
        };
        if now.saturating_add(self.inner.refresh_margin) < t.exp {
            return (s.generation, Some(t));
        }
        if t.refresh_token.is_some() {
            if let Ok(fresh) = self.refresh(&t, trace).await {
                s.generation += 1;
                s.token = Some(fresh.clone());
                return (s.generation, Some(fresh));
            }
            // The failure is in the trace; don't retry the refresh on every send.
            if let Some(cached) = s.token.as_mut() {
                cached.refresh_token = None;
            }
        }
        if now < t.exp {
            return (s.generation, s.token.clone());
        }
        s.token = None;
        s.generation += 1;
        (s.generation, None)
    }

    /// Gets a token after the resource refused the last attempt: reuses one another caller
    /// just acquired, refreshes an expired one, or runs a new `auth` request with the
    /// challenge's resource token. Without a resource token, drops the refused token so
    /// the next attempt identifies the agent and gets a fresh challenge.
    async fn acquire(
        &self,
        slot: &SlotRef,
        seen: u64,
        used: Option<&CachedToken>,
        challenge: Option<(&str, &str)>,
        upstream: Option<&str>,
        trace: &mut Option<Trace>,
    ) -> Result<(u64, Option<CachedToken>), AgentError> {
        let mut s = slot.lock().await;
        let now = self.now().as_secs();
        if s.generation != seen
            && let Some(t) = s.token.as_ref().filter(|t| now < t.exp)
        {
            return Ok((s.generation, Some(t.clone())));
        }
        let expired = |u: &&CachedToken| {
            u.refresh_token.is_some() && u.exp <= now.saturating_add(self.inner.refresh_margin)
        };
        if let Some(used) = used.filter(expired)
            && let Ok(fresh) = self.refresh(used, trace).await
        {
            s.generation += 1;
            s.token = Some(fresh.clone());
            return Ok((s.generation, Some(fresh)));
        }
        let Some((resource_token, auth_server)) = challenge else {
            s.token = None;
            s.generation += 1;
            return Ok((s.generation, None));
        };
        let fresh = match upstream {
            Some(up) => {
                self.exchange(resource_token, auth_server, up, trace)
                    .await?
            }
            None => self.authorize(resource_token, auth_server, trace).await?,
        };
        s.generation += 1;
        s.token = Some(fresh.clone());
        Ok((s.generation, Some(fresh)))
    }

    /// `request_type=auth` (and consent + `request_type=code` when needed).
    async fn authorize(
        &self,
        resource_token: &str,
        auth_server: &str,
        trace: &mut Option<Trace>,
    ) -> Result<CachedToken, AgentError> {
        let md = self.issuer(auth_server, trace).await?;
        let endpoint = md.agent_token_endpoint.as_str();
        let mut fields = vec![("resource_token", resource_token)];
        if let Some(r) = self.inner.redirect_uri.as_deref() {
            fields.push(("redirect_uri", r));
        }
        let answer = self.token_request(endpoint, "auth", &fields, trace).await?;
        let answer = match (&answer.auth_token, &answer.request_token) {
            (Some(_), _) => answer,
            (None, Some(request_token)) => {
                let code = self.consent(&md, auth_server, request_token, trace).await?;
                let redirect = self
                    .inner
                    .redirect_uri
                    .as_deref()
                    .ok_or(AgentError::Config("redirect_uri"))?;
                let fields = [("code", code.as_str()), ("redirect_uri", redirect)];
                self.token_request(endpoint, "code", &fields, trace).await?
            }
            (None, None) => {
                return Err(AgentError::InvalidResponse {
                    step: Step::Token("auth"),
                    url: endpoint.to_owned(),
                    status: 200,
                    reason: "neither auth_token nor request_token",
                });
            }
        };
        self.cache_entry(answer, endpoint, "auth")
    }

    /// `request_type=exchange` (digest §2.8(f)): the upstream auth token travels in
    /// `Signature-Key` (L-25) while this client's key signs; the auth server finds that key
    /// through the resource token's `agent_jkt` in our published JWKS.
    async fn exchange(
        &self,
        resource_token: &str,
        auth_server: &str,
        upstream: &str,
        trace: &mut Option<Trace>,
    ) -> Result<CachedToken, AgentError> {
        let md = self.issuer(auth_server, trace).await?;
        let endpoint = md.agent_token_endpoint.as_str();
        let sk = KeyScheme::Jwt {
            jwt: upstream.to_owned(),
        }
        .to_header(LABEL)?;
        let fields = [("resource_token", resource_token)];
        let answer = self
            .token_request_as(endpoint, "exchange", &fields, &sk, trace)
            .await?;
        self.cache_entry(answer, endpoint, "exchange")
    }

    async fn consent(
        &self,
        md: &IssuerMetadata,
        auth_server: &str,
        request_token: &str,
        trace: &mut Option<Trace>,
    ) -> Result<String, AgentError> {
        let hook = self.inner.consent.as_ref().ok_or_else(|| {
            ConsentError::new(
                "consent_required",
                "the auth server requires user consent and no consent hook is configured",
            )
        })?;
        let redirect = self
            .inner
            .redirect_uri
            .as_deref()
            .ok_or(AgentError::Config("redirect_uri"))?;
        let mut url =
            Url::parse(&md.agent_auth_endpoint).map_err(|_| AgentError::InvalidResponse {
                step: Step::IssuerMetadata,
                url: md.agent_auth_endpoint.clone(),
                status: 200,
                reason: "agent_auth_endpoint is not a URL",
            })?;
        url.query_pairs_mut()
            .append_pair("request_token", request_token)
            .append_pair("redirect_uri", redirect);
        let request = ConsentRequest {
            url: url.to_string(),
            request_token: request_token.to_owned(),
            redirect_uri: redirect.to_owned(),
            auth_server: auth_server.to_owned(),
        };
        if let Some(t) = trace.as_mut() {
            t.hops.push(Hop::new(Step::Consent, "GET", url.as_str()));
        }
        let result = hook.authorize(&request).await;
        if let Some(hop) = last_hop(trace) {
            hop.response_body = Some(match &result {
                Ok(_) => serde_json::json!({ "code": "[received]" }),
                Err(e) => serde_json::json!({
                    "error": e.error, "error_description": e.error_description
                }),
            });
        }
        Ok(result?)
    }

    async fn refresh(
        &self,
        token: &CachedToken,
        trace: &mut Option<Trace>,
    ) -> Result<CachedToken, AgentError> {
        let refresh_token = token
            .refresh_token
            .as_deref()
            .ok_or(AgentError::Config("no refresh token"))?;
        let answer = self
            .token_request(
                &token.token_endpoint,
                "refresh",
                &[("refresh_token", refresh_token)],
                trace,
            )
            .await?;
        let mut fresh = self.cache_entry(answer, &token.token_endpoint, "refresh")?;
        // L§9.7: no new refresh token is issued; the existing one stays valid.
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = token.refresh_token.clone();
        }
        Ok(fresh)
    }

    fn cache_entry(
        &self,
        answer: TokenResponse,
        endpoint: &str,
        request_type: &'static str,
    ) -> Result<CachedToken, AgentError> {
        let invalid = |reason| AgentError::InvalidResponse {
            step: Step::Token(request_type),
            url: endpoint.to_owned(),
            status: 200,
            reason,
        };
        let auth_token = answer.auth_token.ok_or_else(|| invalid("no auth_token"))?;
        let exp = decode_jwt(&auth_token)
            .and_then(|v| v["payload"]["exp"].as_u64())
            .or_else(|| {
                answer
                    .expires_in
                    .map(|e| self.now().as_secs().saturating_add(e))
            })
            .ok_or_else(|| invalid("auth token without exp or expires_in"))?;
        let signature_key = KeyScheme::Jwt {
            jwt: auth_token.clone(),
        }
        .to_header(LABEL)?;
        Ok(CachedToken {
            auth_token,
            signature_key,
            exp,
            refresh_token: answer.refresh_token,
            token_endpoint: endpoint.to_owned(),
        })
    }

    /// `GET {auth_server}/.well-known/aauth-issuer`, cached per auth server.
    async fn issuer(
        &self,
        auth_server: &str,
        trace: &mut Option<Trace>,
    ) -> Result<IssuerMetadata, AgentError> {
        if let Some(md) = self
            .inner
            .issuers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(auth_server)
        {
            return Ok(md.clone());
        }
        let url_str = well_known_url(auth_server, "aauth-issuer");
        let invalid = |status, reason| AgentError::InvalidResponse {
            step: Step::IssuerMetadata,
            url: url_str.clone(),
            status,
            reason,
        };
        let url = parse_url(&url_str).map_err(|_| invalid(0, "auth_server is not a URL"))?;
        let header = self.inner.identity_header.clone();
        let response = self
            .signed(
                Step::IssuerMetadata,
                &Method::GET,
                &url,
                &[],
                None,
                &header,
                trace,
            )
            .await?;
        let status = response.status().as_u16();
        let body = read_body(response, Step::IssuerMetadata, &url_str).await?;
        if status != 200 {
            return Err(invalid(status, "issuer metadata not available"));
        }
        let md = IssuerMetadata::from_json(&body)
            .map_err(|_| invalid(status, "issuer metadata does not parse"))?;
        md.check_id(auth_server)
            .map_err(|_| invalid(status, "issuer does not match the challenge's auth_server"))?;
        self.inner
            .issuers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(auth_server.to_owned(), md.clone());
        Ok(md)
    }

    /// A signed form POST to the token endpoint, identified as this agent.
    async fn token_request(
        &self,
        endpoint: &str,
        request_type: &'static str,
        fields: &[(&str, &str)],
        trace: &mut Option<Trace>,
    ) -> Result<TokenResponse, AgentError> {
        let sk = self.inner.identity_header.clone();
        self.token_request_as(endpoint, request_type, fields, &sk, trace)
            .await
    }

    /// A signed form POST to the token endpoint with the given `Signature-Key`.
    async fn token_request_as(
        &self,
        endpoint: &str,
        request_type: &'static str,
        fields: &[(&str, &str)],
        sk: &str,
        trace: &mut Option<Trace>,
    ) -> Result<TokenResponse, AgentError> {
        let step = Step::Token(request_type);
        let invalid = |status, reason| AgentError::InvalidResponse {
            step,
            url: endpoint.to_owned(),
            status,
            reason,
        };
        let url = parse_url(endpoint).map_err(|_| invalid(0, "token endpoint is not a URL"))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("request_type", request_type)
            .extend_pairs(fields)
            .finish();
        let headers = [(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        let response = self
            .signed(
                step,
                &Method::POST,
                &url,
                &headers,
                Some(body.as_bytes()),
                sk,
                trace,
            )
            .await?;
        let status = response.status().as_u16();
        let bytes = read_body(response, step, endpoint).await?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if let Some(hop) = last_hop(trace) {
            hop.request_body = Some(redact_form(&body));
            hop.response_body = json.clone().map(redact_json);
            hop.auth_token = json
                .as_ref()
                .and_then(|j| j["auth_token"].as_str())
                .and_then(decode_jwt);
        }
        let json = json.ok_or_else(|| invalid(status, "response is not JSON"))?;
        if status != 200 || json.get("error").is_some() {
            let e: ErrorBody = serde_json::from_value(json)
                .map_err(|_| invalid(status, "error response without an error code"))?;
            return Err(AgentError::Protocol {
                step,
                url: endpoint.to_owned(),
                status,
                error: e.error,
                error_description: e.error_description,
            });
        }
        serde_json::from_value(json).map_err(|_| invalid(status, "token response does not parse"))
    }

    /// Signs and sends one request, recording the hop.
    #[allow(clippy::too_many_arguments)]
    async fn signed(
        &self,
        step: Step,
        method: &Method,
        url: &Url,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        signature_key: &str,
        trace: &mut Option<Trace>,
    ) -> Result<reqwest::Response, AgentError> {
        if let Some(policy) = &self.inner.egress
            && policy.check_url(url.as_str()).is_err()
        {
            return Err(AgentError::EgressDenied {
                step,
                url: url.to_string(),
            });
        }
        let host = url
            .host_str()
            .ok_or(AgentError::Config("URL without host"))?;
        // @authority is what reqwest sends as Host: host, plus the port unless default.
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        // Digest L§10.5: clients SHOULD send a `Nonce` on non-idempotent requests; the core
        // then covers it, and a resource that keeps a replay cache refuses a replay.
        let nonce = if wants_nonce(method)
            && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("nonce"))
        {
            Some(crate::keys::request_nonce().map_err(AgentError::Randomness)?)
        } else {
            None
        };
        // Copied only when a nonce is added; every other request signs the caller's slice.
        let headers: Cow<'_, [(String, String)]> = match nonce {
            Some(n) => {
                let mut owned = headers.to_vec();
                owned.push(("nonce".to_owned(), n));
                Cow::Owned(owned)
            }
            None => Cow::Borrowed(headers),
        };
        let parts_headers: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let mut parts = RequestParts::new(method.as_str(), &authority, target, &parts_headers)
            .with_scheme(url.scheme());
        if let Some(b) = body {
            parts = parts.with_body(b);
        }
        let sig = sign_request(
            &parts,
            signature_key,
            self.inner.key.as_ref(),
            &SignOptions::new(self.now()),
        )?;
        let mut builder = self.inner.http.request(method.clone(), url.clone());
        for (n, v) in headers.iter() {
            let name = HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| AgentError::Config("header name"))?;
            let value = HeaderValue::from_str(v).map_err(|_| AgentError::Config("header value"))?;
            builder = builder.header(name, value);
        }
        for (n, v) in sig.iter() {
            let value =
                HeaderValue::from_str(v).map_err(|_| AgentError::Config("signature header"))?;
            builder = builder.header(n, value);
        }
        if let Some(b) = body {
            builder = builder.body(b.to_vec());
        }
        let mut hop = trace
            .is_some()
            .then(|| Hop::new(step, method.as_str(), url.as_str()));
        if let Some(hop) = hop.as_mut() {
            hop.signature_headers = sig
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
        }
        // The path only: a query string may carry secrets, spans are exported.
        let span = tracing::info_span!(
            "aauth.hop",
            otel.name = %format_args!("aauth {step}"),
            otel.kind = "client",
            aauth.step = %step,
            http.request.method = %method,
            server.address = %authority,
            url.path = url.path(),
            http.response.status_code = tracing::field::Empty,
        );
        if let Some(propagate) = &self.inner.propagate {
            let mut extra = HeaderMap::new();
            propagate(&span, &mut extra);
            builder = builder.headers(extra);
        }
        let result = builder.send().instrument(span.clone()).await;
        if let Ok(r) = &result {
            span.record("http.response.status_code", r.status().as_u16());
        }
        if let (Some(t), Some(mut hop)) = (trace.as_mut(), hop) {
            hop.status = result.as_ref().ok().map(|r| r.status().as_u16());
            t.hops.push(hop);
        }
        result.map_err(|source| AgentError::Transport {
            step,
            url: url.to_string(),
            source,
        })
    }
}

/// The methods a client SHOULD send a `Nonce` on (digest L§10.5).
fn wants_nonce(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    )
}

fn last_hop(trace: &mut Option<Trace>) -> Option<&mut Hop> {
    trace.as_mut().and_then(|t| t.hops.last_mut())
}

async fn read_body(
    mut response: reqwest::Response,
    step: Step,
    url: &str,
) -> Result<Vec<u8>, AgentError> {
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|source| AgentError::Transport {
                step,
                url: url.to_owned(),
                source,
            })?;
        let Some(chunk) = chunk else { break };
        if body.len().saturating_add(chunk.len()) > MAX_PROTOCOL_BODY {
            return Err(AgentError::InvalidResponse {
                step,
                url: url.to_owned(),
                status: response.status().as_u16(),
                reason: "response body too large",
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The form body for traces, with `refresh_token` and `code` values elided.
fn redact_form(body: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        let secret = matches!(&*k, "refresh_token" | "code");
        out.append_pair(&k, if secret { "[elided]" } else { &v });
    }
    out.finish()
}

/// A token response for traces, with `refresh_token` elided.
fn redact_json(mut v: Value) -> Value {
    if let Some(rt) = v.get_mut("refresh_token") {
        *rt = Value::String("[elided]".to_owned());
    }
    v
}

#[cfg(test)]
mod tests {

    fn slot(token_exp: Option<u64>) -> SlotRef {
        Arc::new(tokio::sync::Mutex::new(Slot {
            generation: 0,
            token: token_exp.map(|exp| CachedToken {
                auth_token: String::new(),
                signature_key: String::new(),
                exp,
                refresh_token: None,
                token_endpoint: String::new(),
            }),
        }))
    }

    #[test]
    fn the_token_cache_stays_bounded() {
        let key = |i: usize| {
            (
                format!("https://r{i}.example"),
                None,
                Some(format!("up-{i}")),
            )
        };
        let mut slots: HashMap<SlotKey, SlotRef> = HashMap::new();
        let held = slot(Some(100));
        slots.insert(key(0), Arc::clone(&held)); // in use by a caller: never dropped
        for i in 1..MAX_SLOTS {
            slots.insert(key(i), slot(if i % 2 == 0 { Some(100) } else { Some(5) }));
        }
        // At now = 10 the odd entries are expired: pruning drops exactly those.
        prune(&mut slots, 10);
        assert_eq!(slots.len(), MAX_SLOTS / 2);
        assert!(slots.contains_key(&key(0)));
        // Everything live and the map still full: every idle entry goes, held ones stay.
        for i in MAX_SLOTS..2 * MAX_SLOTS {
            slots.insert(key(i), slot(Some(100)));
        }
        prune(&mut slots, 10);
        assert_eq!(slots.len(), 1);
        assert!(Arc::ptr_eq(&slots[&key(0)], &held));
    }

    use super::*;

    #[test]
    fn trace_bodies_elide_secrets() {
        let body = "request_type=code&code=abc&redirect_uri=http%3A%2F%2Fa%2Fcallback";
        assert_eq!(
            redact_form(body),
            "request_type=code&code=%5Belided%5D&redirect_uri=http%3A%2F%2Fa%2Fcallback"
        );
        let v = redact_json(serde_json::json!({"auth_token": "t", "refresh_token": "r"}));
        assert_eq!(
            v,
            serde_json::json!({"auth_token": "t", "refresh_token": "[elided]"})
        );
    }

    #[test]
    fn request_drops_signature_headers_and_checks_urls() {
        let req = AgentRequest::post("http://127.0.0.1:9/x?y=1", "application/json", "{}")
            .unwrap()
            .header("Signature", "sig1=:AA:")
            .header("content-digest", "sha-256=:AA:")
            .header("x-trace", "1");
        let names: Vec<&str> = req.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "x-trace"]);
        assert!(matches!(
            AgentRequest::get("file:///etc/passwd"),
            Err(AgentError::Config(_))
        ));
    }

    #[test]
    fn identity_headers() {
        let key = SigningKey::from_seed(&[1; 32]);
        assert_eq!(
            Identity::agent_server("http://a.test/")
                .scheme(&key)
                .err()
                .map(|e| e.to_string()),
            Some("agent client configuration: agent-server key needs a kid".to_owned())
        );
        let key = key.with_kid("key-1");
        let h = Identity::agent_server("http://a.test/")
            .scheme(&key)
            .unwrap()
            .to_header(LABEL)
            .unwrap();
        assert_eq!(
            h,
            r#"sig1=(scheme=jwks id="http://a.test" kid="key-1" well-known="aauth-agent")"#
        );
        assert_eq!(
            Identity::agent_server("http://a.test").default_redirect_uri(),
            Some("http://a.test/callback".to_owned())
        );
        assert_eq!(Identity::Pseudonymous.default_redirect_uri(), None);
    }
}
