//! The shared state, the router, signing-key bootstrap and the runner.

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::time::Instant;

use aauth_core::crypto::Signer;
use aauth_core::{IssuerMetadata, Jwk, SigningKey, UnixTime};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use password_hash::rand_core::{OsRng, RngCore};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::config::IssuerConfig;
use crate::error::Error;
use crate::login_throttle::LoginThrottle;
use crate::store::{NewSigningKey, Store, StoreError};
use crate::{consent, token_endpoint};

/// A running auth server's state: configuration plus store. Cheap to clone.
///
/// Create it with [`Issuer::new`], which also makes sure a signing key exists, then mount
/// [`router`].
///
/// ```no_run
/// use aauth_discovery::{Discovery, EgressPolicy};
/// use aauth_issuer::store::SqliteStore;
/// use aauth_issuer::{Issuer, IssuerConfig, router};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let discovery = Discovery::new(EgressPolicy::dev())?;
/// let config = IssuerConfig::new("http://127.0.0.1:8003", discovery)?;
/// let store = SqliteStore::open("issuer.db").await?;
/// let app = router(Issuer::new(config, store).await?);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8003").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
pub struct Issuer<S> {
    pub(crate) inner: Arc<Inner<S>>,
}

pub(crate) struct Inner<S> {
    pub(crate) config: IssuerConfig,
    pub(crate) store: S,
    /// Failed sign-ins per user name, for this process only.
    pub(crate) login_throttle: LoginThrottle,
}

impl<S> Clone for Issuer<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> fmt::Debug for Issuer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.inner.config.issuer())
            .finish_non_exhaustive()
    }
}

impl<S: Store> Issuer<S> {
    /// Wraps `config` and `store`. On first start (no active key in the store) it generates
    /// an Ed25519 signing key from the OS RNG and persists it; later starts reuse it.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read or written.
    pub async fn new(config: IssuerConfig, store: S) -> Result<Self, StoreError> {
        let now = config.clock.now().as_secs();
        if store.active_key().await?.is_none() {
            // Atomic "insert if none": instances starting together on one empty database
            // agree on one key instead of each rotating in its own.
            let key = GeneratedKey::new()?;
            if store.bootstrap_key(&key.as_new(), now).await? {
                tracing::info!(kid = key.kid, "first signing key");
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                login_throttle: LoginThrottle::new(config.login_throttle),
                config,
                store,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &IssuerConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }
}

impl<S: Store> Inner<S> {
    /// The time for this request: the clock is read here and nowhere else.
    pub(crate) fn now(&self) -> UnixTime {
        self.config.clock.now()
    }

    /// The active signing key as a core signer.
    pub(crate) async fn signer(&self) -> Result<SigningKey, Error> {
        let key = self
            .store
            .active_key()
            .await?
            .ok_or(Error::Internal("no active signing key"))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            key.private_seed
                .as_slice()
                .try_into()
                .map_err(|_| Error::Internal("stored signing key is not an Ed25519 seed"))?,
        );
        Ok(SigningKey::from_seed(&seed).with_kid(key.kid))
    }
}

/// `n` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// Generates an Ed25519 signing key from the OS RNG and makes it the active one; the
/// previous keys stay in the JWKS (and keep verifying the tokens they signed) until they are
/// retired with [`Store::retire`]. A running server sharing the store signs with the new key
/// from its next token on: it reads the active key per issuance. Returns the new `kid`.
///
/// ```no_run
/// # async fn demo() -> Result<(), aauth_issuer::store::StoreError> {
/// use aauth_issuer::store::SqliteStore;
/// let store = SqliteStore::open("/var/lib/aauth/issuer.db").await?;
/// let kid = aauth_issuer::rotate_signing_key(&store, 1_768_785_919).await?;
/// println!("new active key {kid}");
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn rotate_signing_key<S: Store>(store: &S, now: u64) -> Result<String, StoreError> {
    let key = GeneratedKey::new()?;
    store.rotate(&key.as_new(), now).await?;
    tracing::info!(kid = key.kid, "new active signing key");
    Ok(key.kid)
}

/// A fresh Ed25519 signing key from the OS RNG, ready to be stored.
struct GeneratedKey {
    seed: Zeroizing<[u8; 32]>,
    /// `auth-` and the first 16 characters of the RFC 7638 thumbprint.
    kid: String,
    public_jwk: String,
}

impl GeneratedKey {
    fn new() -> Result<Self, StoreError> {
        let seed = Zeroizing::new(random_bytes::<32>());
        let key = SigningKey::from_seed(&seed);
        let thumb = key
            .public_jwk()
            .thumbprint()
            .map_err(|_| StoreError::InvalidInput("signing key"))?;
        let kid = format!("auth-{}", &thumb[..16]);
        let jwk = Jwk::ed25519(&key.public_bytes(), Some(kid.clone()));
        let public_jwk =
            serde_json::to_string(&jwk).map_err(|_| StoreError::InvalidInput("jwk"))?;
        Ok(Self {
            seed,
            kid,
            public_jwk,
        })
    }

    fn as_new(&self) -> NewSigningKey<'_> {
        NewSigningKey {
            kid: &self.kid,
            alg: "EdDSA",
            private_seed: &self.seed[..],
            public_jwk: &self.public_jwk,
        }
    }
}

/// A 256-bit random secret, base64url without padding (43 characters): request tokens,
/// codes, refresh tokens, session ids, CSRF tokens.
pub(crate) fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The auth server's routes:
///
/// | route | what |
/// |---|---|
/// | `GET /.well-known/aauth-issuer` | metadata (the reference's exact shape) |
/// | `GET /jwks.json` | every non-retired signing key |
/// | `POST /agent/token` | `request_type` `auth`, `code`, `refresh`, `exchange` |
/// | `GET`/`POST /agent/auth` | login and consent pages |
///
/// Every request is logged with one `tracing` line (method, path, status, duration).
///
/// ```no_run
/// # use aauth_discovery::{Discovery, EgressPolicy};
/// # use aauth_issuer::store::SqliteStore;
/// # use aauth_issuer::{Issuer, IssuerConfig};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let config = IssuerConfig::new("http://127.0.0.1:8003", Discovery::new(EgressPolicy::dev())?)?;
/// let issuer = Issuer::new(config, SqliteStore::open("issuer.db").await?).await?;
/// let app: axum::Router = aauth_issuer::router(issuer);
/// # let _ = app; Ok(()) }
/// ```
pub fn router<S: Store + 'static>(issuer: Issuer<S>) -> Router {
    let max_body = issuer.inner.config.max_body;
    Router::new()
        .route("/.well-known/aauth-issuer", get(metadata::<S>))
        .route("/jwks.json", get(jwks::<S>))
        .route("/agent/token", post(token_endpoint::handle::<S>))
        .route(
            "/agent/auth",
            get(consent::get_auth::<S>).post(consent::post_auth::<S>),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(log_request))
        .with_state(issuer)
}

async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let start = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(
        %method,
        path,
        status = resp.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

async fn metadata<S: Store>(State(issuer): State<Issuer<S>>) -> Response {
    let doc = IssuerMetadata::for_id(issuer.inner.config.issuer());
    axum::Json(doc).into_response()
}

async fn jwks<S: Store>(State(issuer): State<Issuer<S>>) -> Result<Response, Error> {
    let keys = issuer.inner.store.verification_keys().await?;
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok((
        [(header::CACHE_CONTROL, "max-age=300")],
        axum::Json(serde_json::json!({ "keys": keys })),
    )
        .into_response())
}

/// Why [`serve`] stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The store failed while starting (reading or creating the signing key).
    Store(StoreError),
    /// The listener failed.
    Io(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Io(e) => write!(f, "listener: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::Io(e) => Some(e),
        }
    }
}

/// Runs the auth server on `listener` until `shutdown` completes, then finishes the
/// requests in flight and returns.
///
/// ```no_run
/// use aauth_discovery::{Discovery, EgressPolicy};
/// use aauth_issuer::store::SqliteStore;
/// use aauth_issuer::{IssuerConfig, serve};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = IssuerConfig::new("http://127.0.0.1:8003", Discovery::new(EgressPolicy::dev())?)?;
/// let store = SqliteStore::open("issuer.db").await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8003").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop);
/// serve(config, store, listener, async {
///     let _ = stopped.await; // e.g. fired by a signal handler
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ServeError`].
pub async fn serve<S, F>(
    config: IssuerConfig,
    store: S,
    listener: TcpListener,
    shutdown: F,
) -> Result<(), ServeError>
where
    S: Store + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let issuer = Issuer::new(config, store)
        .await
        .map_err(ServeError::Store)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, issuer = issuer.config().issuer(), "auth server listening");
    }
    axum::serve(listener, router(issuer))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_matches_rfc4648_vectors() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(random_token().len(), 43);
        assert_ne!(random_token(), random_token());
    }
}
