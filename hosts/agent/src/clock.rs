//! The time source, read in one place per component.

use std::fmt;
use std::sync::Arc;

use aauth_core::UnixTime;

/// Where the client and agent server read `now` from: the system clock by default, or
/// any function (tests advance a counter by hand instead of sleeping).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use aauth_agent::Clock;
/// use aauth_core::UnixTime;
///
/// let t = Arc::new(AtomicU64::new(1_000));
/// let t2 = Arc::clone(&t);
/// let clock = Clock::from_fn(move || UnixTime::from_secs(t2.load(Ordering::Relaxed)));
/// t.store(1_060, Ordering::Relaxed);
/// assert_eq!(clock.now().as_secs(), 1_060);
/// ```
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> UnixTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(UnixTime::now))
    }

    /// A clock that calls `f`.
    pub fn from_fn(f: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The current time.
    pub fn now(&self) -> UnixTime {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}
