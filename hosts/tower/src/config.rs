//! Resource configuration: identity, keys, trusted auth servers, policy, clock.

use core::fmt;
use core::future::Future;
use std::sync::Arc;

use aauth_core::httpsig::VerifyPolicy;
use aauth_core::metadata::ResourceMetadata;
use aauth_core::replay::ReplayScope;
use aauth_core::verify::{KeyRequest, ResolvedKey};
use aauth_core::{Jwks, Signer, SigningKey, UnixTime};
use aauth_http::{BoundedTokenCache, DEFAULT_TOKEN_CACHE_CAPACITY, TokenCacheStats};
use bytes::Bytes;
use tower_http::auth::AsyncRequireAuthorizationLayer;

use crate::policy::AAuthPolicy;
use crate::replay::{DEFAULT_REPLAY_CAPACITY, ReplayCache};
use crate::requirement::Requirement;

/// Most trusted auth servers a resource may name; the verify path keeps them on the stack.
pub const MAX_AUTH_SERVERS: usize = 16;

/// Default bound on a buffered request body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default resource-token lifetime in seconds.
pub const DEFAULT_RESOURCE_TOKEN_LIFETIME: u64 = 300;

/// Resolves the keys named by core [`KeyRequest`]s: an agent's JWKS (`scheme=jwks`), an
/// agent server's key for an agent token, an auth server's key for an auth token.
///
/// Implemented for [`aauth_discovery::Discovery`] (feature `discovery`, on by default),
/// which caches; tests implement it over a map. Implementations should answer warm
/// lookups without I/O: the middleware calls this on every request that needs a key.
pub trait KeyFetcher: Send + Sync + 'static {
    /// Why a key could not be resolved. Not sent to the client (it may describe the
    /// resource's network); the client sees `invalid_signature`.
    type Error: fmt::Display + Send;

    /// The key for `req`.
    fn fetch(
        &self,
        req: &KeyRequest<'_>,
    ) -> impl Future<Output = Result<Arc<ResolvedKey>, Self::Error>> + Send;
}

#[cfg(feature = "discovery")]
impl KeyFetcher for aauth_discovery::Discovery {
    type Error = aauth_discovery::DiscoveryError;

    fn fetch(
        &self,
        req: &KeyRequest<'_>,
    ) -> impl Future<Output = Result<Arc<ResolvedKey>, Self::Error>> + Send {
        self.resolve(req)
    }
}

/// The time source: seconds since the epoch.
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The only place this crate reads the wall clock (STYLE 1: hosts read the clock, once).
fn system_clock() -> UnixTime {
    UnixTime::now()
}

/// Why a [`ResourceConfigBuilder`] refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configured value cannot appear in an `Agent-Auth` header (not printable ASCII).
    Unrepresentable(&'static str),
    /// The resource identifier is not `http(s)://authority[/…]`.
    InvalidResourceId,
    /// The canonical scheme is neither `http` nor `https`, or the authority is empty.
    InvalidCanonicalAuthority,
    /// The signing key has no `kid`; auth servers select the resource key by `kid`.
    MissingKid,
    /// No trusted auth server was configured.
    NoAuthServer,
    /// More than [`MAX_AUTH_SERVERS`] auth servers were configured.
    TooManyAuthServers,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unrepresentable(what) => write!(f, "{what} is not printable ASCII"),
            Self::InvalidResourceId => f.write_str("the resource id is not an http(s) URL"),
            Self::InvalidCanonicalAuthority => f.write_str("invalid canonical scheme or authority"),
            Self::MissingKid => f.write_str("the resource signing key has no kid"),
            Self::NoAuthServer => f.write_str("no trusted auth server configured"),
            Self::TooManyAuthServers => write!(f, "more than {MAX_AUTH_SERVERS} auth servers"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A resource's AAuth configuration, cheap to clone (one `Arc`).
///
/// Build it with [`ResourceConfig::builder`], then protect routes with
/// [`ResourceConfig::require`] and serve the metadata with
/// [`ResourceConfig::metadata_router`](crate::ResourceConfig::metadata_router).
pub struct ResourceConfig<K> {
    pub(crate) inner: Arc<Inner<K>>,
}

impl<K> Clone for ResourceConfig<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K> fmt::Debug for ResourceConfig<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceConfig")
            .field("resource_id", &self.inner.resource_id)
            .field("scheme", &self.inner.scheme)
            .field("authority", &self.inner.authority)
            .field("auth_servers", &self.inner.auth_servers)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<K> {
    pub(crate) resource_id: String,
    pub(crate) scheme: String,
    pub(crate) authority: String,
    pub(crate) signing_key: SigningKey,
    pub(crate) auth_servers: Vec<String>,
    pub(crate) resource_token_lifetime: u64,
    pub(crate) verify_policy: VerifyPolicy,
    pub(crate) leeway: u64,
    pub(crate) body_limit: usize,
    pub(crate) fetcher: K,
    pub(crate) clock: Clock,
    pub(crate) replay_scope: ReplayScope,
    pub(crate) replay: ReplayCache,
    pub(crate) token_cache: BoundedTokenCache,
    pub(crate) metadata_json: Bytes,
    pub(crate) jwks_json: Bytes,
}

impl<K: KeyFetcher> ResourceConfig<K> {
    /// Starts a configuration for the resource `resource_id` (e.g.
    /// `https://resource.example`, or `http://127.0.0.1:9002` in development), signing
    /// resource tokens with `signing_key` (which must carry a `kid`) and resolving agent and
    /// auth-server keys with `fetcher`.
    ///
    /// The canonical scheme and authority used for `@authority` default to those of
    /// `resource_id`; see [`ResourceConfigBuilder::canonical_authority`].
    pub fn builder(
        resource_id: impl Into<String>,
        signing_key: SigningKey,
        fetcher: K,
    ) -> ResourceConfigBuilder<K> {
        ResourceConfigBuilder {
            resource_id: resource_id.into(),
            canonical: None,
            signing_key,
            auth_servers: Vec::new(),
            resource_token_lifetime: DEFAULT_RESOURCE_TOKEN_LIFETIME,
            verify_policy: VerifyPolicy::default(),
            leeway: 0,
            body_limit: DEFAULT_BODY_LIMIT,
            supported_scopes: Vec::new(),
            fetcher,
            clock: None,
            replay_scope: ReplayScope::default(),
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
        }
    }

    /// A tower layer enforcing `requirement` on the routes it wraps (a
    /// [`tower_http::auth::AsyncRequireAuthorization`] over an [`AAuthPolicy`]).
    pub fn require(
        &self,
        requirement: Requirement,
    ) -> AsyncRequireAuthorizationLayer<AAuthPolicy<K>> {
        AsyncRequireAuthorizationLayer::new(AAuthPolicy::new(self.clone(), requirement))
    }
}

impl<K> ResourceConfig<K> {
    /// The resource identifier (`iss` of resource tokens, required `aud` of auth tokens).
    pub fn resource_id(&self) -> &str {
        &self.inner.resource_id
    }

    /// The canonical `(scheme, authority)` that requests are verified against.
    pub fn canonical_authority(&self) -> (&str, &str) {
        (&self.inner.scheme, &self.inner.authority)
    }

    /// The trusted auth servers; the first is named in challenges.
    pub fn auth_servers(&self) -> &[String] {
        &self.inner.auth_servers
    }

    /// The `Nonce` replay cache (e.g. to read its size).
    pub fn replay_cache(&self) -> &ReplayCache {
        &self.inner.replay
    }

    /// The key fetcher (e.g. to read [`aauth_discovery::Discovery::stats`]).
    pub fn fetcher(&self) -> &K {
        &self.inner.fetcher
    }

    /// The counters of the verified-token cache
    /// ([`ResourceConfigBuilder::token_cache_capacity`]).
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.inner.token_cache.stats()
    }
}

/// Builder for [`ResourceConfig`].
#[must_use]
pub struct ResourceConfigBuilder<K> {
    resource_id: String,
    canonical: Option<(String, String)>,
    signing_key: SigningKey,
    auth_servers: Vec<String>,
    resource_token_lifetime: u64,
    verify_policy: VerifyPolicy,
    leeway: u64,
    body_limit: usize,
    supported_scopes: Vec<String>,
    fetcher: K,
    clock: Option<Clock>,
    replay_scope: ReplayScope,
    replay_capacity: usize,
    token_cache_capacity: usize,
}

impl<K> fmt::Debug for ResourceConfigBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceConfigBuilder")
            .field("resource_id", &self.resource_id)
            .field("auth_servers", &self.auth_servers)
            .finish_non_exhaustive()
    }
}

impl<K: KeyFetcher> ResourceConfigBuilder<K> {
    /// Adds a trusted auth server. The first one added is the `auth_server` named in
    /// challenges and the `aud` of resource tokens; auth tokens from any of them are
    /// accepted.
    pub fn auth_server(mut self, id: impl Into<String>) -> Self {
        self.auth_servers.push(id.into());
        self
    }

    /// The scheme (`https`, or `http` for loopback development) and authority
    /// (`host[:port]`) requests are signed for, when they differ from the resource id's
    /// (e.g. behind a reverse proxy). Never taken from `Host` (digest §5.1 L-10).
    pub fn canonical_authority(
        mut self,
        scheme: impl Into<String>,
        authority: impl Into<String>,
    ) -> Self {
        self.canonical = Some((scheme.into(), authority.into()));
        self
    }

    /// Resource-token lifetime in seconds (default 300).
    pub fn resource_token_lifetime(mut self, secs: u64) -> Self {
        self.resource_token_lifetime = secs;
        self
    }

    /// The HTTP signature policy (default: the AAuth profile, `created` within 60 s).
    pub fn verify_policy(mut self, policy: VerifyPolicy) -> Self {
        self.verify_policy = policy;
        self
    }

    /// Clock leeway for token `exp`/`nbf`/`iat`, in seconds (the core caps it at 60).
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Largest request body buffered for `Content-Digest` checking (default 1 MiB);
    /// larger bodies are answered with `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The `supported_scopes` of the metadata document.
    pub fn supported_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.supported_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The `Nonce` replay check (digest §2.4, L§10.5): which methods are checked when the
    /// request carries a `Nonce` (default [`ReplayScope::Unsafe`]: all but `GET`, `HEAD`,
    /// `OPTIONS`, `TRACE`) and how many nonces are remembered (default
    /// [`DEFAULT_REPLAY_CAPACITY`]). A replay within the `created` window is answered `401`
    /// `invalid_signature`.
    pub fn replay_protection(mut self, scope: ReplayScope, capacity: usize) -> Self {
        self.replay_scope = scope;
        self.replay_capacity = capacity;
        self
    }

    /// How many verified `scheme=jwt` tokens to remember (default
    /// [`DEFAULT_TOKEN_CACHE_CAPACITY`]; 0 turns the cache off: it is then never consulted,
    /// so its counters stay at zero). A remembered token is not
    /// verified again, and its issuer key not looked up, until its `exp`; the request
    /// signature, the token's time bounds and audience are still checked on every request
    /// (see [`aauth_core::verify::CheckedHeaders::finish_cached`]).
    pub fn token_cache_capacity(mut self, tokens: usize) -> Self {
        self.token_cache_capacity = tokens;
        self
    }

    /// Replaces the wall clock (tests move time by hand).
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks and freezes the configuration.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn build(self) -> Result<ResourceConfig<K>, ConfigError> {
        let (scheme, authority) = match self.canonical {
            Some(c) => c,
            None => split_origin(&self.resource_id).ok_or(ConfigError::InvalidResourceId)?,
        };
        let authority = authority.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https")
            || authority.is_empty()
            || !printable(&authority)
        {
            return Err(ConfigError::InvalidCanonicalAuthority);
        }
        if !printable(&self.resource_id) {
            return Err(ConfigError::Unrepresentable("the resource id"));
        }
        if self.auth_servers.is_empty() {
            return Err(ConfigError::NoAuthServer);
        }
        if self.auth_servers.len() > MAX_AUTH_SERVERS {
            return Err(ConfigError::TooManyAuthServers);
        }
        if !self.auth_servers.iter().all(|s| printable(s)) {
            return Err(ConfigError::Unrepresentable("an auth server id"));
        }
        if self.signing_key.kid().is_none() {
            return Err(ConfigError::MissingKid);
        }
        let mut metadata = ResourceMetadata::for_id(&self.resource_id);
        if !self.supported_scopes.is_empty() {
            metadata.supported_scopes = Some(self.supported_scopes);
        }
        let metadata_json = serde_json::to_vec(&metadata).unwrap_or_default().into();
        let jwks = Jwks::new(vec![self.signing_key.public_jwk()]);
        let jwks_json = serde_json::to_vec(&jwks).unwrap_or_default().into();
        Ok(ResourceConfig {
            inner: Arc::new(Inner {
                resource_id: self.resource_id,
                scheme,
                authority,
                signing_key: self.signing_key,
                auth_servers: self.auth_servers,
                resource_token_lifetime: self.resource_token_lifetime,
                verify_policy: self.verify_policy,
                leeway: self.leeway,
                body_limit: self.body_limit,
                fetcher: self.fetcher,
                clock: self.clock.unwrap_or_else(|| Arc::new(system_clock)),
                replay_scope: self.replay_scope,
                replay: ReplayCache::new(self.replay_capacity),
                token_cache: BoundedTokenCache::new(self.token_cache_capacity),
                metadata_json,
                jwks_json,
            }),
        })
    }
}

/// `scheme://authority[/…]` → `(scheme, authority)`.
fn split_origin(id: &str) -> Option<(String, String)> {
    let (scheme, rest) = id.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some((scheme.to_ascii_lowercase(), authority.into()))
}

/// Printable ASCII: what an sf-string in `Agent-Auth` can carry.
fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_split_from_the_resource_id() {
        assert_eq!(
            split_origin("http://127.0.0.1:9002/api"),
            Some(("http".into(), "127.0.0.1:9002".into()))
        );
        assert_eq!(split_origin("resource.example"), None);
    }
}
