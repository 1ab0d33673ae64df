//! The replay cache behind the `Nonce` check (digest §2.4, L§10.5, checklist L-08), shared
//! by the requests a resource serves concurrently: the core's bounded
//! [`aauth_core::replay::ReplayCache`] behind a lock.

use std::sync::Mutex;

use aauth_core::replay::{self, NonceClaim, ReplayError};

pub use aauth_core::replay::DEFAULT_REPLAY_CAPACITY;

/// A bounded, thread-safe set of recently accepted nonces (see
/// [`aauth_core::replay::ReplayCache`] for how it stays bounded without ever accepting a
/// forgotten nonce).
#[derive(Debug)]
pub struct ReplayCache {
    inner: Mutex<replay::ReplayCache>,
}

impl ReplayCache {
    /// A cache holding at most `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(replay::ReplayCache::new(capacity)),
        }
    }

    /// Records `claim` at time `now` (seconds), or refuses it.
    ///
    /// # Errors
    /// [`ReplayError::Replayed`] when the same key was accepted and has not expired;
    /// [`ReplayError::Saturated`] when the cache may have forgotten it.
    pub fn check_and_insert(&self, claim: NonceClaim, now: u64) -> Result<(), ReplayError> {
        self.lock().check_and_insert(claim, now)
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.lock().capacity()
    }

    /// A poisoned lock only means another request panicked mid-update; the cache is still
    /// consistent enough to keep refusing replays.
    fn lock(&self) -> std::sync::MutexGuard<'_, replay::ReplayCache> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
