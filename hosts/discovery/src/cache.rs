//! The key cache: bounded, single-flight, with a refetch floor and negative caching.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aauth_core::Jwks;
use aauth_core::crypto::KeyError;
use aauth_core::verify::{KeyRequest, KeySource, ResolvedKey};
use aauth_http::Freshness;
use reqwest::Url;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::clock::{Clock, SystemClock};
use crate::egress::EgressPolicy;
use crate::error::DiscoveryError;
use crate::fetch::Fetcher;
use crate::location::{JwksLocation, same_origin};

/// The refetch floor the specification demands: "MUST NOT refetch a given issuer's JWKS
/// more frequently than once per minute" (digest S-23).
const FLOOR: Duration = Duration::from_secs(60);

/// Limits and lifetimes of a [`Discovery`]. Start from [`Default`] and set fields:
///
/// ```
/// use std::time::Duration;
/// use aauth_discovery::DiscoveryConfig;
///
/// let mut config = DiscoveryConfig::default();
/// config.max_entries = 1_000;
/// config.timeout = Duration::from_secs(2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryConfig {
    /// Accept a metadata `jwks_uri` on another origin than the identifier. Default `false`.
    pub allow_cross_origin_jwks_uri: bool,
    /// Connection establishment limit (TCP and TLS). Default 2 s.
    pub connect_timeout: Duration,
    /// Lifetime when a response has no usable `Cache-Control`. Default 5 min.
    pub default_ttl: Duration,
    /// Maximum number of cached locations; the least recently used is evicted beyond it
    /// (digest S-24). Default 10 000; at least 1.
    pub max_entries: usize,
    /// Maximum size of a metadata or JWKS response, enforced while reading. Default
    /// 256 KiB.
    pub max_body_bytes: usize,
    /// Maximum number of keys in a JWKS; a bigger set is refused as
    /// [`InvalidDocument`](DiscoveryError::InvalidDocument). Default 64.
    pub max_keys: usize,
    /// Upper clamp of a `Cache-Control: max-age`. Default 24 h.
    pub max_ttl: Duration,
    /// Lower clamp of a `max-age`, and the lifetime of `no-store`/`no-cache` answers.
    /// Default 60 s; values below the 60 s refetch floor are raised to it.
    pub min_ttl: Duration,
    /// How long a failed discovery is remembered before the location is tried again.
    /// Default 60 s; values below the 60 s refetch floor are raised to it.
    pub negative_ttl: Duration,
    /// Refuse metadata that carries no identifying member (`issuer`, or the legacy
    /// `agent`/`resource`) with [`IssuerMissing`](DiscoveryError::IssuerMissing), as
    /// signature-key -09 requires. Default `false`: the legacy generation (digest §2.7)
    /// does not always carry one. A member that is present must always equal `id`.
    pub require_issuer: bool,
    /// Total time for one request, from connect to the last body byte. Default 5 s.
    pub timeout: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            allow_cross_origin_jwks_uri: false,
            connect_timeout: Duration::from_secs(2),
            default_ttl: Duration::from_secs(300),
            max_entries: 10_000,
            max_body_bytes: 256 * 1024,
            max_keys: 64,
            max_ttl: Duration::from_secs(24 * 3600),
            min_ttl: FLOOR,
            negative_ttl: FLOOR,
            require_issuer: false,
            timeout: Duration::from_secs(5),
        }
    }
}

impl DiscoveryConfig {
    /// The cache lifetime `freshness` gives, clamped to the configured bounds.
    pub(crate) fn ttl(&self, freshness: Freshness) -> Duration {
        let ttl = match freshness {
            Freshness::Absent => self.default_ttl,
            Freshness::MaxAge(s) => Duration::from_secs(s),
            Freshness::NoStore => self.min_ttl,
        };
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

/// Counters of a [`Discovery`], for tests, metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryStats {
    /// Lookups answered with a key without this lookup fetching anything (including
    /// lookups that waited for a concurrent lookup's fetch).
    pub cache_hits: u64,
    /// Entries evicted to keep the cache within `max_entries`.
    pub evictions: u64,
    /// JWKS requests sent (admitted by the egress policy).
    pub jwks_fetches: u64,
    /// Metadata requests sent (admitted by the egress policy).
    pub metadata_fetches: u64,
    /// Lookups answered with an error from the cache (a remembered failure, or an unknown
    /// `kid` within the refetch floor) without any fetch.
    pub negative_hits: u64,
}

/// Asynchronous key discovery with an egress policy and a bounded cache.
///
/// Cheap to clone (an [`Arc`] inside); share one per process. Each location is fetched at
/// most by one task at a time (single flight), and lookups of a known `kid` within the
/// cache lifetime do no I/O, no JSON parsing and no key decoding.
///
/// Strict default policy:
/// ```no_run
/// use aauth_discovery::{Discovery, EgressPolicy, JwksLocation};
///
/// # async fn run() -> Result<(), aauth_discovery::DiscoveryError> {
/// let discovery = Discovery::new(EgressPolicy::default())?;
/// let agent = JwksLocation::well_known("https://agent.example", "aauth-agent");
/// let key = discovery.key(&agent, Some("key-1")).await?;
/// # let _ = key; Ok(()) }
/// ```
///
/// Development policy against a local demo server, with a manual clock:
/// ```no_run
/// use std::sync::Arc;
/// use aauth_discovery::{Discovery, DiscoveryConfig, EgressPolicy, JwksLocation, ManualClock};
///
/// # async fn run() -> Result<(), aauth_discovery::DiscoveryError> {
/// let clock = Arc::new(ManualClock::new());
/// let discovery = Discovery::builder(EgressPolicy::dev().allow_host("127.0.0.1:8001"))
///     .config(DiscoveryConfig::default())
///     .clock(clock.clone())
///     .build()?;
/// let agent = JwksLocation::well_known("http://127.0.0.1:8001", "aauth-agent");
/// let key = discovery.key(&agent, None).await?;
/// assert_eq!(discovery.stats().jwks_fetches, 1);
/// # let _ = key; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Discovery {
    inner: Arc<Inner>,
}

/// Builds a [`Discovery`] with a configuration and a clock.
#[derive(Debug)]
#[must_use]
pub struct DiscoveryBuilder {
    policy: EgressPolicy,
    config: DiscoveryConfig,
    clock: Arc<dyn Clock>,
}

impl DiscoveryBuilder {
    /// Replaces the [`DiscoveryConfig`].
    pub fn config(mut self, config: DiscoveryConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the clock (default [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the HTTP client and the cache.
    ///
    /// # Errors
    /// [`DiscoveryError::Network`] when the TLS configuration cannot be built (the
    /// platform's root certificates cannot be loaded).
    pub fn build(self) -> Result<Discovery, DiscoveryError> {
        let mut config = self.config;
        config.max_entries = config.max_entries.max(1);
        config.min_ttl = config.min_ttl.max(FLOOR);
        config.negative_ttl = config.negative_ttl.max(FLOOR);
        let fetcher = Fetcher::new(self.policy, &config)?;
        Ok(Discovery {
            inner: Arc::new(Inner {
                fetcher,
                clock: self.clock,
                entries: Mutex::new(Lru::new(config.max_entries)),
                config,
                counters: Counters::default(),
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    fetcher: Fetcher,
    config: DiscoveryConfig,
    clock: Arc<dyn Clock>,
    entries: Mutex<Lru>,
    counters: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    cache_hits: AtomicU64,
    evictions: AtomicU64,
    jwks_fetches: AtomicU64,
    metadata_fetches: AtomicU64,
    negative_hits: AtomicU64,
}

/// One cached location. `slot` is only held briefly and never across an await;
/// `fetch` is held for the whole fetch so concurrent misses coalesce into one request.
#[derive(Debug, Default)]
struct Entry {
    slot: Mutex<Slot>,
    fetch: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The `jwks_uri` from metadata (well-known locations) and when it expires.
    meta: Option<(Url, Instant)>,
    keys: Option<KeySet>,
    failure: Option<(DiscoveryError, Instant)>,
    /// The start of the last fetch, successful or not (refetch floor).
    last_attempt: Option<Instant>,
    /// A fetch is running: callers without an answer wait for it.
    in_flight: bool,
}

impl Slot {
    /// The answer when there is nothing better to say and no fetch may start.
    fn settled(&self) -> DiscoveryError {
        self.failure.map_or(DiscoveryError::UnknownKid, |(e, _)| e)
    }
}

/// A key of a fetched set, by `kid`; unusable keys are kept so their `kid` still answers.
type CachedKey = (Option<String>, Result<Arc<ResolvedKey>, KeyError>);

#[derive(Debug)]
struct KeySet {
    keys: Vec<CachedKey>,
    expires: Instant,
}

impl KeySet {
    /// The same selection as [`Jwks::find`]: by `kid`, or the only key without one.
    fn select(&self, kid: Option<&str>) -> Result<Arc<ResolvedKey>, DiscoveryError> {
        let mut it = self
            .keys
            .iter()
            .filter(|(k, _)| kid.is_none() || k.as_deref() == kid);
        let (_, first) = it.next().ok_or(DiscoveryError::UnknownKid)?;
        if it.next().is_some() {
            return Err(if kid.is_some() {
                DiscoveryError::AmbiguousKid
            } else {
                DiscoveryError::UnknownKid
            });
        }
        first.clone().map_err(DiscoveryError::Key)
    }
}

enum Decision {
    Hit(Arc<ResolvedKey>),
    Fail(DiscoveryError),
    /// No answer yet: fetch (after taking the flight lock).
    Fetch,
    /// No answer and no fetch allowed now: wait for a running fetch, if any.
    Wait,
}

impl Discovery {
    /// Discovery with `policy`, the default [`DiscoveryConfig`] and the system clock.
    ///
    /// # Errors
    /// See [`DiscoveryBuilder::build`].
    pub fn new(policy: EgressPolicy) -> Result<Self, DiscoveryError> {
        Self::builder(policy).build()
    }

    /// A builder to set the configuration and clock.
    pub fn builder(policy: EgressPolicy) -> DiscoveryBuilder {
        DiscoveryBuilder {
            policy,
            config: DiscoveryConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Resolves a core [`KeyRequest`]: a JWKS URL, or `{id}/.well-known/{name}` →
    /// `jwks_uri` → JWKS, by `kid`. This is the async half of
    /// [`aauth_core::verify::begin`] → [`finish`](aauth_core::verify::PendingRequest::finish).
    ///
    /// # Errors
    /// As [`Discovery::key`].
    pub async fn resolve(&self, req: &KeyRequest<'_>) -> Result<Arc<ResolvedKey>, DiscoveryError> {
        let location = match req.source {
            KeySource::Metadata { id, well_known } => JwksLocation::well_known(id, well_known),
            KeySource::Jwks(url) => JwksLocation::url(url),
            _ => return Err(DiscoveryError::InvalidLocation),
        };
        self.key(&location, req.kid).await
    }

    /// The verification key with this `kid` at `location` (without a `kid`, the JWKS must
    /// hold exactly one key).
    ///
    /// Served from the cache while it is fresh. A miss fetches the metadata (well-known
    /// locations, unless its `jwks_uri` is still cached) and the JWKS, once for all
    /// concurrent callers. An unknown `kid` in a fresh JWKS triggers one refetch, at most
    /// once per minute per location; failures are remembered for
    /// [`negative_ttl`](DiscoveryConfig::negative_ttl).
    ///
    /// Must be called within a Tokio runtime (fetches run on it).
    ///
    /// # Errors
    /// [`DiscoveryError`]: a malformed location (checked before anything is cached), an
    /// egress refusal, an HTTP or document failure, an unknown or ambiguous `kid`, or an
    /// unusable key.
    pub async fn key(
        &self,
        location: &JwksLocation,
        kid: Option<&str>,
    ) -> Result<Arc<ResolvedKey>, DiscoveryError> {
        let inner = &*self.inner;
        let entry = inner.entry(location)?;
        match inner.decide(&lock(&entry.slot), kid) {
            Decision::Hit(k) => return Ok(inner.hit(k)),
            Decision::Fail(e) => return Err(inner.negative(e)),
            Decision::Fetch | Decision::Wait => {}
        }
        let flight = Arc::clone(&entry.fetch).lock_owned().await;
        // Another caller may have fetched while this one waited.
        match inner.decide(&lock(&entry.slot), kid) {
            Decision::Hit(k) => return Ok(inner.hit(k)),
            Decision::Fail(e) => return Err(inner.negative(e)),
            Decision::Wait => return Err(inner.negative(lock(&entry.slot).settled())),
            Decision::Fetch => {}
        }
        if inner.refuse_early(location, &entry) {
            return Err(lock(&entry.slot).settled());
        }
        // The fetch runs in its own task holding the flight lock, so a caller that is
        // cancelled (a client hanging up) neither cancels it nor lets the next caller start
        // another one: the refetch floor counts every fetch that was started.
        let task = tokio::spawn({
            let (inner, entry, location) = (
                Arc::clone(&self.inner),
                Arc::clone(&entry),
                location.clone(),
            );
            async move {
                inner.refresh(&location, &entry).await;
                drop(flight);
            }
            // The fetch belongs to the caller's trace (the first caller's, when shared).
            .in_current_span()
        });
        if task.await.is_err() {
            return Err(DiscoveryError::Network);
        }
        let slot = lock(&entry.slot);
        match inner.decide(&slot, kid) {
            Decision::Hit(k) => Ok(k),
            Decision::Fail(e) => Err(e),
            Decision::Fetch | Decision::Wait => Err(slot.settled()),
        }
    }

    /// Forgets everything cached for `location`, including the refetch floor: the next
    /// lookup fetches again. For out-of-band signals of key rotation; never call it on
    /// behalf of unauthenticated callers.
    pub fn invalidate(&self, location: &JwksLocation) {
        lock(&self.inner.entries).remove(location);
    }

    /// The number of cached locations (never more than
    /// [`max_entries`](DiscoveryConfig::max_entries)).
    pub fn len(&self) -> usize {
        lock(&self.inner.entries).map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters so far.
    pub fn stats(&self) -> DiscoveryStats {
        let c = &self.inner.counters;
        DiscoveryStats {
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            jwks_fetches: c.jwks_fetches.load(Ordering::Relaxed),
            metadata_fetches: c.metadata_fetches.load(Ordering::Relaxed),
            negative_hits: c.negative_hits.load(Ordering::Relaxed),
        }
    }

    /// The configuration in effect (after clamping).
    pub fn config(&self) -> &DiscoveryConfig {
        &self.inner.config
    }
}

impl Inner {
    fn entry(&self, location: &JwksLocation) -> Result<Arc<Entry>, DiscoveryError> {
        if let Some(e) = lock(&self.entries).touch(location) {
            return Ok(e);
        }
        location.validate()?;
        let (entry, evicted) = lock(&self.entries).insert(location);
        if evicted > 0 {
            self.counters
                .evictions
                .fetch_add(evicted, Ordering::Relaxed);
        }
        Ok(entry)
    }

    fn hit(&self, key: Arc<ResolvedKey>) -> Arc<ResolvedKey> {
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        key
    }

    fn negative(&self, e: DiscoveryError) -> DiscoveryError {
        self.counters.negative_hits.fetch_add(1, Ordering::Relaxed);
        e
    }

    fn decide(&self, slot: &Slot, kid: Option<&str>) -> Decision {
        let now = self.clock.now();
        let may_fetch = slot
            .last_attempt
            .is_none_or(|t| now.saturating_duration_since(t) >= FLOOR);
        if let Some(keys) = slot.keys.as_ref().filter(|k| now < k.expires) {
            return match keys.select(kid) {
                Ok(k) => Decision::Hit(k),
                Err(DiscoveryError::UnknownKid) if may_fetch => Decision::Fetch,
                Err(DiscoveryError::UnknownKid) if slot.in_flight => Decision::Wait,
                Err(e) => Decision::Fail(e),
            };
        }
        match slot.failure {
            Some((e, until)) if now < until && !slot.in_flight => Decision::Fail(e),
            _ if may_fetch => Decision::Fetch,
            _ => Decision::Wait,
        }
    }

    /// Fetches what is stale for `location` and records the outcome. Called with the
    /// entry's fetch lock held.
    async fn refresh(&self, location: &JwksLocation, entry: &Entry) {
        let now = self.clock.now();
        let cached_meta = {
            let mut slot = lock(&entry.slot);
            slot.last_attempt = Some(now);
            slot.in_flight = true;
            slot.meta
                .clone()
                .filter(|(_, exp)| now < *exp)
                .map(|(u, _)| u)
        };
        let result = self.fetch(location, cached_meta, entry).await;
        self.record(entry, result);
    }

    /// Refuses a location whose first URL the egress policy refuses, without a task or
    /// any I/O. The failure is cached like any other (one entry, negative TTL).
    fn refuse_early(&self, location: &JwksLocation, entry: &Entry) -> bool {
        let Err(e) = location.target().and_then(|t| self.fetcher.admit(&t)) else {
            return false;
        };
        lock(&entry.slot).last_attempt = Some(self.clock.now());
        self.record(entry, Err(e));
        true
    }

    fn record(&self, entry: &Entry, result: Result<KeySet, DiscoveryError>) {
        let now = self.clock.now();
        let mut slot = lock(&entry.slot);
        slot.in_flight = false;
        match result {
            Ok(keys) => {
                slot.keys = Some(keys);
                slot.failure = None;
            }
            Err(e) => {
                // Keys still fresh stay usable (a failed unknown-kid refresh must not take
                // known keys down); otherwise the failure is what this location answers.
                if slot.keys.as_ref().is_none_or(|k| now >= k.expires) {
                    slot.keys = None;
                }
                slot.failure = Some((e, later(now, self.config.negative_ttl)));
            }
        }
    }

    async fn fetch(
        &self,
        location: &JwksLocation,
        cached_meta: Option<Url>,
        entry: &Entry,
    ) -> Result<KeySet, DiscoveryError> {
        let jwks_url = match (location, cached_meta) {
            (JwksLocation::WellKnown { .. }, Some(url)) => url,
            (JwksLocation::WellKnown { id, well_known }, None) => {
                let target = location.target()?;
                let doc = self
                    .fetcher
                    .get(&target, &self.counters.metadata_fetches)
                    .await?;
                let url = self.jwks_uri_from_metadata(id, well_known, &target, &doc.body)?;
                let expires = later(self.clock.now(), self.config.ttl(doc.freshness));
                lock(&entry.slot).meta = Some((url.clone(), expires));
                url
            }
            (JwksLocation::Url(_) | JwksLocation::Direct { .. }, _) => location.target()?,
        };
        let doc = self
            .fetcher
            .get(&jwks_url, &self.counters.jwks_fetches)
            .await?;
        let jwks = Jwks::from_json(&doc.body).map_err(|_| DiscoveryError::InvalidDocument)?;
        if jwks.keys.len() > self.config.max_keys {
            return Err(DiscoveryError::InvalidDocument);
        }
        let keys = jwks
            .keys
            .iter()
            .map(|jwk| {
                let key = ResolvedKey::from_jwk(jwk.clone()).map(Arc::new);
                (jwk.kid.clone(), key)
            })
            .collect();
        Ok(KeySet {
            keys,
            expires: later(self.clock.now(), self.config.ttl(doc.freshness)),
        })
    }

    /// Checks a metadata document (digest §2.7, S-15, §6.2) and returns its `jwks_uri`.
    fn jwks_uri_from_metadata(
        &self,
        id: &str,
        well_known: &str,
        metadata_url: &Url,
        body: &[u8],
    ) -> Result<Url, DiscoveryError> {
        let doc: Map<String, Value> =
            serde_json::from_slice(body).map_err(|_| DiscoveryError::InvalidDocument)?;
        let mut identified = false;
        for member in JwksLocation::identifying_members(well_known) {
            match doc.get(*member) {
                None => {}
                Some(Value::String(v)) if v == id => identified = true,
                Some(Value::String(_)) => return Err(DiscoveryError::IssuerMismatch),
                Some(_) => return Err(DiscoveryError::InvalidDocument),
            }
        }
        if self.config.require_issuer && !identified {
            return Err(DiscoveryError::IssuerMissing);
        }
        let Some(Value::String(jwks_uri)) = doc.get("jwks_uri") else {
            return Err(DiscoveryError::InvalidDocument);
        };
        let url = Url::parse(jwks_uri).map_err(|_| DiscoveryError::InvalidDocument)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DiscoveryError::InvalidDocument);
        }
        if !self.config.allow_cross_origin_jwks_uri && !same_origin(metadata_url, &url) {
            return Err(DiscoveryError::CrossOriginJwksUri);
        }
        Ok(url)
    }
}

/// `now + d`, saturating instead of panicking on absurd configured durations.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A map with least-recently-used eviction: `order` maps a use tick to its location.
#[derive(Debug)]
struct Lru {
    map: HashMap<Arc<JwksLocation>, (Arc<Entry>, u64)>,
    order: BTreeMap<u64, Arc<JwksLocation>>,
    tick: u64,
    cap: usize,
}

impl Lru {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            cap,
        }
    }

    fn touch(&mut self, location: &JwksLocation) -> Option<Arc<Entry>> {
        self.tick += 1;
        let tick = self.tick;
        let (entry, used) = self.map.get_mut(location)?;
        if let Some(key) = self.order.remove(used) {
            self.order.insert(tick, key);
        }
        *used = tick;
        Some(Arc::clone(entry))
    }

    /// Inserts `location` unless present (a concurrent caller may have inserted it) and
    /// returns its entry and the number of entries evicted to make room.
    fn insert(&mut self, location: &JwksLocation) -> (Arc<Entry>, u64) {
        if let Some(e) = self.touch(location) {
            return (e, 0);
        }
        let mut evicted = 0;
        while self.map.len() >= self.cap {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
            evicted += 1;
        }
        let key = Arc::new(location.clone());
        let entry = Arc::new(Entry::default());
        self.map
            .insert(Arc::clone(&key), (Arc::clone(&entry), self.tick));
        self.order.insert(self.tick, key);
        (entry, evicted)
    }

    fn remove(&mut self, location: &JwksLocation) {
        if let Some((_, used)) = self.map.remove(location) {
            self.order.remove(&used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_from_cache_control() {
        let c = DiscoveryConfig::default();
        assert_eq!(c.ttl(Freshness::Absent), Duration::from_secs(300));
        assert_eq!(c.ttl(Freshness::MaxAge(1)), Duration::from_secs(60));
        assert_eq!(
            c.ttl(Freshness::MaxAge(u64::MAX)),
            Duration::from_secs(86_400)
        );
        assert_eq!(c.ttl(Freshness::NoStore), Duration::from_secs(60));
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut lru = Lru::new(2);
        let a = JwksLocation::url("https://a.example/j");
        let b = JwksLocation::url("https://b.example/j");
        let c = JwksLocation::url("https://c.example/j");
        lru.insert(&a);
        lru.insert(&b);
        assert!(lru.touch(&a).is_some());
        assert_eq!(lru.insert(&c).1, 1);
        assert!(lru.touch(&b).is_none());
        assert!(lru.touch(&a).is_some());
        assert!(lru.touch(&c).is_some());
        lru.remove(&a);
        assert_eq!((lru.map.len(), lru.order.len()), (1, 1));
    }
}
