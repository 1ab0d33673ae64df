//! How long a fetched metadata document or JWKS may be reused, as its server's
//! `Cache-Control` says (RFC 9111 §5.2.2). Shared by the native key discovery and the Spin
//! component, so that a key rotation announced with a short `max-age` reaches both alike.

use http::HeaderMap;
use http::header::CACHE_CONTROL;

/// What `Cache-Control` said about a response's freshness.
///
/// ```
/// use aauth_http::Freshness;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cache-control", "public, max-age=600".parse().unwrap());
/// let f = Freshness::from_headers(&headers);
/// assert_eq!(f, Freshness::MaxAge(600));
/// assert_eq!(f.lifetime(300, 60, 3_600), 600);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// No usable directive.
    Absent,
    /// `max-age=N` seconds.
    MaxAge(u64),
    /// `no-store` or `no-cache`: keep it as briefly as allowed.
    NoStore,
}

impl Freshness {
    /// The freshness stated by every `Cache-Control` field line of a response.
    ///
    /// `no-store` and `no-cache` win over any `max-age`: the most restrictive directive is
    /// honoured (RFC 9111 §4.2.1). A `max-age` without a valid delta-seconds makes the
    /// response stale (§4.2.1), which here means as short-lived as `no-store`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut out = Self::Absent;
        for value in headers.get_all(CACHE_CONTROL) {
            let Ok(value) = value.to_str() else { continue };
            for directive in value.split(',') {
                let (name, arg) = match directive.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (directive.trim(), None),
                };
                // RFC 9111 §5.2.2.4 (no-cache: revalidate before reuse) and §5.2.2.5.
                if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                    return Self::NoStore;
                }
                // RFC 9111 §5.2.2.1.
                if name.eq_ignore_ascii_case("max-age") {
                    // RFC 9111 §1.2.2: a delta-seconds too large to represent is "infinity".
                    match arg.filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())) {
                        Some(a) => out = Self::MaxAge(a.parse().unwrap_or(u64::MAX)),
                        None => return Self::NoStore,
                    }
                }
            }
        }
        out
    }

    /// The cache lifetime in seconds: `default` when [`Absent`](Self::Absent), `min` for
    /// [`NoStore`](Self::NoStore), else the `max-age`, always within `min..=max` (`max`
    /// below `min` counts as `min`).
    ///
    /// ```
    /// use aauth_http::Freshness;
    ///
    /// assert_eq!(Freshness::MaxAge(5).lifetime(300, 60, 3_600), 60);
    /// assert_eq!(Freshness::MaxAge(u64::MAX).lifetime(300, 60, 3_600), 3_600);
    /// assert_eq!(Freshness::NoStore.lifetime(300, 60, 3_600), 60);
    /// assert_eq!(Freshness::Absent.lifetime(300, 60, 3_600), 300);
    /// ```
    pub fn lifetime(self, default: u64, min: u64, max: u64) -> u64 {
        let secs = match self {
            Self::Absent => default,
            Self::MaxAge(s) => s,
            Self::NoStore => min,
        };
        secs.clamp(min, max.max(min))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn fresh(values: &[&str]) -> Freshness {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        Freshness::from_headers(&h)
    }

    #[test]
    fn cache_control() {
        assert_eq!(fresh(&[]), Freshness::Absent);
        assert_eq!(fresh(&["public, max-age=600"]), Freshness::MaxAge(600));
        assert_eq!(fresh(&["max-age=\"120\""]), Freshness::MaxAge(120));
        assert_eq!(fresh(&["MAX-AGE=7"]), Freshness::MaxAge(7));
        assert_eq!(
            fresh(&["max-age=99999999999999999999999"]),
            Freshness::MaxAge(u64::MAX)
        );
        assert_eq!(fresh(&["max-age=-1"]), Freshness::NoStore);
        assert_eq!(fresh(&["max-age"]), Freshness::NoStore);
        assert_eq!(fresh(&["max-age=600", "no-store"]), Freshness::NoStore);
        assert_eq!(fresh(&["private"]), Freshness::Absent);
    }

    #[test]
    fn lifetime_clamps() {
        assert_eq!(Freshness::Absent.lifetime(300, 60, 86_400), 300);
        assert_eq!(Freshness::MaxAge(1).lifetime(300, 60, 86_400), 60);
        assert_eq!(
            Freshness::MaxAge(u64::MAX).lifetime(300, 60, 86_400),
            86_400
        );
        assert_eq!(Freshness::NoStore.lifetime(300, 60, 86_400), 60);
        // A ceiling below the floor: the floor wins, as in discovery's clamp.
        assert_eq!(Freshness::MaxAge(600).lifetime(300, 60, 10), 60);
        assert_eq!(Freshness::Absent.lifetime(0, 0, 0), 0);
    }
}
