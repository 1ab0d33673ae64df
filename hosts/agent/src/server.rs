//! Agent-server mode: the routes an agent server publishes (digest §2.7) and the
//! `/callback` that receives authorization codes, plus agent-token minting for delegates.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aauth_core::token::AgentClaims;
use aauth_core::{AgentMetadata, Jwk, Jwks, Signer, SigningKey};
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::consent::ConsentError;
use crate::error::AgentError;

/// Pending waits: `state` → (wait id, sender). The id lets a dropped wait remove only its
/// own entry, not a newer one registered under the same `state`.
type Waiters = HashMap<String, (u64, oneshot::Sender<Result<String, ConsentError>>)>;

/// Consent waits keyed by `state`, completed by `GET /callback?code=…|error=…`.
///
/// Cloning shares the registry. A callback that names a `state` goes to that wait; one
/// without `state` goes to the only pending wait, and is refused when there are several
/// (the reference auth server drops `state`, so one pending consent at a time is what it
/// supports).
#[derive(Clone, Default)]
pub struct CallbackRegistry {
    waiters: Arc<Mutex<Waiters>>,
    next_id: Arc<AtomicU64>,
}

impl fmt::Debug for CallbackRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackRegistry")
            .field("pending", &self.pending())
            .finish()
    }
}

impl CallbackRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts waiting for the callback with `state`. Replaces an older wait with the same
    /// key (which then fails as `consent_failed`).
    pub fn register(&self, state: impl Into<String>) -> PendingCallback {
        let state = state.into();
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(state.clone(), (id, tx));
        PendingCallback {
            registry: self.clone(),
            state,
            id,
            rx,
        }
    }

    /// Delivers a callback result. Returns `false` when no wait matches.
    pub fn deliver(&self, state: Option<&str>, result: Result<String, ConsentError>) -> bool {
        let mut waiters = self.lock();
        let key = match state {
            Some(s) => Some(s.to_owned()),
            None if waiters.len() == 1 => waiters.keys().next().cloned(),
            None => None,
        };
        match key.and_then(|k| waiters.remove(&k)) {
            Some((_, tx)) => tx.send(result).is_ok(),
            None => false,
        }
    }

    /// How many consents are waiting.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One registered wait; dropping it unregisters it.
#[derive(Debug)]
pub struct PendingCallback {
    registry: CallbackRegistry,
    state: String,
    id: u64,
    rx: oneshot::Receiver<Result<String, ConsentError>>,
}

impl PendingCallback {
    /// The `state` this wait is keyed by.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Waits for the code, up to `timeout`.
    ///
    /// # Errors
    /// The callback's `error` (e.g. `access_denied`), `timeout`, or `consent_failed` when
    /// the wait was replaced.
    pub async fn wait(mut self, timeout: Duration) -> Result<String, ConsentError> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ConsentError::new("consent_failed", "consent wait replaced")),
            Err(_) => Err(ConsentError::new(
                "timeout",
                format!("no callback within {} s", timeout.as_secs()),
            )),
        }
    }
}

impl Drop for PendingCallback {
    fn drop(&mut self) {
        let mut waiters = self.registry.lock();
        if waiters
            .get(&self.state)
            .is_some_and(|(id, _)| *id == self.id)
        {
            waiters.remove(&self.state);
        }
    }
}

/// An agent server: its identifier, its signing key and its callback registry.
///
/// [`router`](Self::router) serves, relative to the identifier:
/// - `GET /.well-known/aauth-agent` → `{"agent": id, "jwks_uri": "{id}/jwks.json"}`
/// - `GET /jwks.json` → `{"keys": [{"kty","crv","x","kid"}]}`
/// - `GET /callback?code=…[&state=…]` or `?error=…&error_description=…` → completes a
///   wait in the [`CallbackRegistry`].
///
/// There is no HTTP minting endpoint: call [`mint_agent_token`](Self::mint_agent_token)
/// from code that has authenticated the delegate.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use aauth_agent::{AgentServer, generate_signing_key};
///
/// let key = Arc::new(generate_signing_key("key-1")?);
/// let server = AgentServer::new("http://127.0.0.1:9001", Arc::clone(&key));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// tokio::spawn(async move { axum::serve(listener, server.router()).await });
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentServer {
    id: String,
    key: Arc<SigningKey>,
    callbacks: CallbackRegistry,
    clock: Clock,
}

impl fmt::Debug for AgentServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentServer")
            .field("id", &self.id)
            .field("kid", &self.key.kid())
            .finish_non_exhaustive()
    }
}

impl AgentServer {
    /// An agent server with identifier `id` (no trailing slash) signing with `key`, with a
    /// new callback registry and the system clock.
    pub fn new(id: impl Into<String>, key: Arc<SigningKey>) -> Self {
        Self {
            id: id.into().trim_end_matches('/').to_owned(),
            key,
            callbacks: CallbackRegistry::new(),
            clock: Clock::system(),
        }
    }

    /// Uses `callbacks` (shared with a [`CallbackConsent`](crate::CallbackConsent)).
    #[must_use]
    pub fn with_callbacks(mut self, callbacks: CallbackRegistry) -> Self {
        self.callbacks = callbacks;
        self
    }

    /// Reads time from `clock` (agent-token `exp`).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The agent identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The redirect URI clients of this server use: `{id}/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.id)
    }

    /// The callback registry.
    pub fn callbacks(&self) -> &CallbackRegistry {
        &self.callbacks
    }

    /// The metadata document (`agent`, `jwks_uri` only, like the reference).
    pub fn metadata(&self) -> AgentMetadata {
        AgentMetadata::for_id(&self.id)
    }

    /// The public JWK Set.
    pub fn jwks(&self) -> Jwks {
        Jwks::new(vec![self.key.public_jwk()])
    }

    /// Mints an `agent+jwt` (digest §2.5) binding `delegate_jwk` to delegate `sub`, valid
    /// for `lifetime` from now, signed with the agent server key.
    ///
    /// # Errors
    /// [`AgentError::Token`] when signing fails, [`AgentError::Config`] when the delegate
    /// JWK carries private members.
    pub fn mint_agent_token(
        &self,
        sub: &str,
        delegate_jwk: Jwk,
        lifetime: Duration,
    ) -> Result<String, AgentError> {
        if delegate_jwk.has_private_members() {
            return Err(AgentError::Config("delegate_jwk has private members"));
        }
        let now = self.clock.now();
        let claims = AgentClaims::new(
            self.id.as_str(),
            sub,
            delegate_jwk,
            now.saturating_add(lifetime.as_secs()),
        )
        .with_iat(now);
        Ok(claims.sign(self.key.as_ref())?)
    }

    /// The agent-server routes (see the type docs), ready to `merge` or `serve`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/aauth-agent", get(metadata))
            .route("/jwks.json", get(jwks))
            .route("/callback", get(callback))
            .with_state(self.clone())
    }
}

async fn metadata(State(s): State<AgentServer>) -> Json<AgentMetadata> {
    Json(s.metadata())
}

async fn jwks(State(s): State<AgentServer>) -> Json<Jwks> {
    Json(s.jwks())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(s): State<AgentServer>, Query(q): Query<CallbackQuery>) -> Response {
    let result = match (q.code, q.error) {
        (_, Some(error)) => Err(ConsentError {
            error,
            error_description: q.error_description,
        }),
        (Some(code), None) => Ok(code),
        (None, None) => {
            return (StatusCode::BAD_REQUEST, "missing code or error").into_response();
        }
    };
    let ok = result.is_ok();
    if !s.callbacks.deliver(q.state.as_deref(), result) {
        return (StatusCode::BAD_REQUEST, "no pending authorization").into_response();
    }
    let text = if ok {
        "Authorization complete. You can close this window."
    } else {
        "Authorization was not granted. You can close this window."
    };
    Html(format!(
        "<!DOCTYPE html><html><body><p>{text}</p></body></html>"
    ))
    .into_response()
}
