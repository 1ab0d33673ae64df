//! Where a party's keys are published.

use reqwest::Url;

use crate::error::DiscoveryError;

/// Where to find a JWKS. It is also the cache key: two locations share cached keys only
/// when they are equal byte for byte (URLs are never canonicalized, digest S-16).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JwksLocation {
    /// The JWKS URL itself (e.g. a `jwks_uri` taken from configuration).
    Url(String),
    /// A party identified by `id` that publishes metadata at
    /// `{id}/.well-known/{well_known}` whose `jwks_uri` names the JWKS (Signature-Key
    /// `jwks_uri` scheme with `id` and `dwk`, digest §2.7 and S-15).
    WellKnown {
        /// The party's identifier, an `https` URL without query, fragment or trailing slash,
        /// e.g. `https://agent.example`.
        id: String,
        /// The well-known name, one path segment: `aauth-agent`, `aauth-issuer`,
        /// `aauth-resource`, `aauth-agent.json`, …
        well_known: String,
    },
    /// A party whose identifier is the URL of its JWKS.
    Direct {
        /// The identifier, which is the JWKS URL.
        id: String,
    },
}

impl JwksLocation {
    /// A JWKS at this URL.
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url(url.into())
    }

    /// A JWKS found through the metadata at `{id}/.well-known/{well_known}`.
    pub fn well_known(id: impl Into<String>, well_known: impl Into<String>) -> Self {
        Self::WellKnown {
            id: id.into(),
            well_known: well_known.into(),
        }
    }

    /// A party whose identifier is its JWKS URL.
    pub fn direct(id: impl Into<String>) -> Self {
        Self::Direct { id: id.into() }
    }

    /// Checks the location's syntax without any I/O. [`Discovery`](crate::Discovery) does
    /// this before it creates a cache entry.
    ///
    /// # Errors
    /// [`DiscoveryError::InvalidLocation`] when a URL is not absolute `http(s)`, an `id` has
    /// a query, fragment or trailing slash, or `well_known` is not a safe path segment
    /// (`[A-Za-z0-9._-]{1,128}`, not `.` or `..`).
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        self.target().map(|_| ())
    }

    /// The first URL to fetch: the metadata URL for [`WellKnown`](Self::WellKnown), the
    /// JWKS URL otherwise.
    pub(crate) fn target(&self) -> Result<Url, DiscoveryError> {
        match self {
            Self::Url(u) | Self::Direct { id: u } => parse_http_url(u),
            Self::WellKnown { id, well_known } => {
                let id_url = parse_http_url(id)?;
                if id.ends_with('/') || id_url.query().is_some() || id_url.fragment().is_some() {
                    return Err(DiscoveryError::InvalidLocation);
                }
                if !is_safe_segment(well_known) {
                    return Err(DiscoveryError::InvalidLocation);
                }
                parse_http_url(&format!("{id}/.well-known/{well_known}"))
            }
        }
    }

    /// The metadata members that must equal `id` when present: `issuer` always, plus the
    /// legacy identifying member of the document (`agent` for `aauth-agent`, `resource` for
    /// `aauth-resource`; digest §2.7).
    pub(crate) fn identifying_members(well_known: &str) -> &'static [&'static str] {
        match well_known {
            "aauth-agent" => &["agent", "issuer"],
            "aauth-resource" => &["resource", "issuer"],
            _ => &["issuer"],
        }
    }
}

fn parse_http_url(s: &str) -> Result<Url, DiscoveryError> {
    let url = Url::parse(s).map_err(|_| DiscoveryError::InvalidLocation)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(DiscoveryError::InvalidLocation);
    }
    Ok(url)
}

fn is_safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// True when both URLs have the same scheme, host and port (RFC 6454 origin).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_targets() {
        let l = JwksLocation::well_known("https://agent.example", "aauth-agent");
        assert_eq!(
            l.target().unwrap().as_str(),
            "https://agent.example/.well-known/aauth-agent"
        );
        let l = JwksLocation::well_known("https://kc.example/realms/a", "aauth-issuer.json");
        assert_eq!(
            l.target().unwrap().as_str(),
            "https://kc.example/realms/a/.well-known/aauth-issuer.json"
        );
        for (id, wk) in [
            ("https://agent.example/", "aauth-agent"),
            ("https://agent.example?x=1", "aauth-agent"),
            ("https://agent.example#f", "aauth-agent"),
            ("agent.example", "aauth-agent"),
            ("ftp://agent.example", "aauth-agent"),
            ("https://agent.example", ""),
            ("https://agent.example", ".."),
            ("https://agent.example", "a/b"),
            ("https://agent.example", "a%2fb"),
            ("https://agent.example", "a?b"),
            ("https://agent.example", "a b"),
        ] {
            assert_eq!(
                JwksLocation::well_known(id, wk).validate(),
                Err(DiscoveryError::InvalidLocation),
                "{id} {wk}"
            );
        }
        assert!(
            JwksLocation::url("https://a.example/jwks.json")
                .validate()
                .is_ok()
        );
        assert!(JwksLocation::direct("mailto:x@y").validate().is_err());
    }

    #[test]
    fn origins() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://a.example"),
            &u("https://a.example:443/jwks")
        ));
        assert!(!same_origin(
            &u("https://a.example"),
            &u("https://b.a.example/jwks")
        ));
        assert!(!same_origin(
            &u("https://a.example"),
            &u("http://a.example/jwks")
        ));
        assert!(!same_origin(
            &u("https://a.example"),
            &u("https://a.example:8443/jwks")
        ));
    }
}
