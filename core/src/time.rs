//! Time as an input: the core never reads the clock.

use core::fmt;

/// Seconds since the Unix epoch, supplied by the host on every time-sensitive call.
///
/// The core compares `created`, `expires`, `exp`, `nbf` and `iat` against this value and
/// nothing else, so tests can move time by hand.
///
/// ```
/// use aauth_core::UnixTime;
/// let t = UnixTime::from_secs(1_768_785_919);
/// assert_eq!(t.as_secs(), 1_768_785_919);
/// assert_eq!(t.saturating_add(60).as_secs(), 1_768_785_979);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// A time `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// `self + secs`, saturating at the end of time.
    #[must_use]
    pub const fn saturating_add(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// `self - secs`, saturating at the epoch.
    #[must_use]
    pub const fn saturating_sub(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }

    /// The current wall-clock time. Only hosts call this; the core takes `now` as a parameter.
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        extern crate std;
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(d.as_secs())
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
