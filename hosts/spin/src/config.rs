//! Configuration from environment variables (`wasi:cli/environment`).
//!
//! Spin maps component variables to `environment` in `spin.toml`; a bare `wasi:http` host
//! (`wasmtime serve --env`, an embedding's `WasiCtxBuilder::env`) sets them directly. No
//! `spin:variables` import is used, so both kinds of host can run the component.

use std::fmt;

use aauth_core::{Jwks, ResourceMetadata, Signer, SigningKey};

/// What a path prefix requires of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Any valid signature (pseudonymous `hwk` included).
    Signature,
    /// An identified agent (`jwks`, an agent token, or an auth token).
    Identified,
    /// An auth token from a trusted auth server granting every listed scope.
    AuthToken(Vec<String>),
}

/// The parsed configuration.
pub struct Config {
    /// `AAUTH_RESOURCE_ID`: the resource identifier (`iss` of resource tokens, `aud` of
    /// auth tokens).
    pub resource_id: String,
    /// Canonical scheme for `@scheme`/`@target-uri` (from the id unless
    /// `AAUTH_CANONICAL_AUTHORITY` is a `scheme://authority`).
    pub scheme: String,
    /// Canonical `@authority`: `AAUTH_CANONICAL_AUTHORITY`, or the id's authority.
    /// Never taken from `Host`.
    pub authority: String,
    /// `AAUTH_AUTH_SERVERS`: comma-separated trusted auth servers; the first is named in
    /// challenges.
    pub auth_servers: Vec<String>,
    /// `AAUTH_ROUTES`: `prefix=requirement` pairs separated by `;`, the requirement being
    /// `signature`, `identified` or `auth:scope1 scope2`. Longest prefix wins; paths
    /// matching no prefix require an auth token with no particular scope.
    pub routes: Vec<(String, Requirement)>,
    /// `AAUTH_UPSTREAM`: base URL to forward verified requests to; without it the built-in
    /// protected handler answers.
    pub upstream: Option<String>,
    /// `AAUTH_RESOURCE_KEY_SEED` (64 hex digits, a secret) with kid
    /// `AAUTH_RESOURCE_KEY_ID` (default `resource-key-1`): signs resource tokens.
    pub signing_key: SigningKey,
    /// `AAUTH_EGRESS_ALLOW`: comma-separated `host` or `host:port` entries that key
    /// discovery may reach over plain `http` and on private or loopback addresses (dev).
    pub egress_allow: Vec<String>,
    /// `AAUTH_CACHE_TTL`: seconds a fetched metadata document or JWKS is reused (300).
    pub cache_ttl: u64,
    /// `AAUTH_RESOURCE_TOKEN_TTL`: resource-token lifetime in seconds (300).
    pub resource_token_ttl: u64,
    /// `AAUTH_LEEWAY`: clock leeway for tokens in seconds (0; the core caps it at 60).
    pub leeway: u64,
    /// `AAUTH_BODY_LIMIT`: largest request body buffered, in bytes (1 MiB).
    pub body_limit: usize,
    /// The `/.well-known/aauth-resource` document, serialized once.
    pub metadata_json: Vec<u8>,
    /// The resource JWKS, serialized once.
    pub jwks_json: Vec<u8>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("resource_id", &self.resource_id)
            .field("authority", &self.authority)
            .field("auth_servers", &self.auth_servers)
            .field("routes", &self.routes)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// A missing or malformed variable (named; values, which may be secrets, are not shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is missing or invalid", self.0)
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (tests pass a map).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |k: &'static str| get(k).filter(|v| !v.trim().is_empty());
        let num = |k: &'static str, d: u64| -> Result<u64, ConfigError> {
            nonempty(k).map_or(Ok(d), |v| v.trim().parse().map_err(|_| ConfigError(k)))
        };
        let resource_id = nonempty("AAUTH_RESOURCE_ID")
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .ok_or(ConfigError("AAUTH_RESOURCE_ID"))?;
        let (id_scheme, id_authority) =
            split_origin(&resource_id).ok_or(ConfigError("AAUTH_RESOURCE_ID"))?;
        let (scheme, authority) = match nonempty("AAUTH_CANONICAL_AUTHORITY") {
            Some(v) => match split_origin(v.trim()) {
                Some(o) => o,
                None => (id_scheme, v.trim().to_owned()),
            },
            None => (id_scheme, id_authority),
        };
        let authority = authority.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https")
            || authority.is_empty()
            || !printable(&authority)
            || !printable(&resource_id)
        {
            return Err(ConfigError("AAUTH_CANONICAL_AUTHORITY"));
        }
        let auth_servers: Vec<String> = list(&get("AAUTH_AUTH_SERVERS").unwrap_or_default())
            .map(|s| s.trim_end_matches('/').to_owned())
            .collect();
        if auth_servers.is_empty()
            || auth_servers.len() > 16
            || !auth_servers.iter().all(|s| printable(s))
        {
            return Err(ConfigError("AAUTH_AUTH_SERVERS"));
        }
        let routes = parse_routes(&get("AAUTH_ROUTES").unwrap_or_default())
            .ok_or(ConfigError("AAUTH_ROUTES"))?;
        let upstream =
            nonempty("AAUTH_UPSTREAM").map(|u| u.trim().trim_end_matches('/').to_owned());
        if upstream
            .as_deref()
            .is_some_and(|u| split_origin(u).is_none())
        {
            return Err(ConfigError("AAUTH_UPSTREAM"));
        }
        let seed = nonempty("AAUTH_RESOURCE_KEY_SEED")
            .and_then(|s| parse_seed(s.trim()))
            .ok_or(ConfigError("AAUTH_RESOURCE_KEY_SEED"))?;
        let kid = nonempty("AAUTH_RESOURCE_KEY_ID").unwrap_or_else(|| "resource-key-1".into());
        let signing_key = SigningKey::from_seed(&seed).with_kid(kid.trim());
        let egress_allow = list(&get("AAUTH_EGRESS_ALLOW").unwrap_or_default())
            .map(str::to_ascii_lowercase)
            .collect();

        let mut metadata = ResourceMetadata::for_id(&resource_id);
        let mut scopes: Vec<String> = routes
            .iter()
            .filter_map(|(_, r)| match r {
                Requirement::AuthToken(s) => Some(s.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        scopes.sort();
        scopes.dedup();
        if !scopes.is_empty() {
            metadata.supported_scopes = Some(scopes);
        }
        let metadata_json = serde_json::to_vec(&metadata).unwrap_or_default();
        let jwks_json =
            serde_json::to_vec(&Jwks::new(vec![signing_key.public_jwk()])).unwrap_or_default();
        Ok(Self {
            resource_id,
            scheme,
            authority,
            auth_servers,
            routes,
            upstream,
            signing_key,
            egress_allow,
            cache_ttl: num("AAUTH_CACHE_TTL", 300)?,
            resource_token_ttl: num("AAUTH_RESOURCE_TOKEN_TTL", 300)?,
            leeway: num("AAUTH_LEEWAY", 0)?,
            body_limit: usize::try_from(num("AAUTH_BODY_LIMIT", 1024 * 1024)?)
                .map_err(|_| ConfigError("AAUTH_BODY_LIMIT"))?,
            metadata_json,
            jwks_json,
        })
    }

    /// The requirement for `path`: the longest matching prefix, else an auth token.
    pub fn requirement(&self, path: &str) -> Requirement {
        self.routes
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(Requirement::AuthToken(Vec::new()), |(_, r)| r.clone())
    }
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `/a=signature;/b=identified;/c=auth:s1 s2`.
fn parse_routes(s: &str) -> Option<Vec<(String, Requirement)>> {
    let mut out = Vec::new();
    for entry in s.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (prefix, req) = entry.split_once('=')?;
        let prefix = prefix.trim();
        if !prefix.starts_with('/') {
            return None;
        }
        let req = match req.trim() {
            "signature" => Requirement::Signature,
            "identified" => Requirement::Identified,
            other => {
                let scopes = other.strip_prefix("auth")?;
                let scopes = scopes.strip_prefix(':').unwrap_or(scopes);
                let scopes: Vec<String> = scopes.split_ascii_whitespace().map(Into::into).collect();
                if !scopes.iter().all(|s| printable(s) && !s.contains('"')) {
                    return None;
                }
                Requirement::AuthToken(scopes)
            }
        };
        out.push((prefix.to_owned(), req));
    }
    Some(out)
}

/// 64 hex digits → 32 bytes.
fn parse_seed(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// `scheme://authority[/…]` → lower-cased `(scheme, authority)`; `None` unless http(s).
pub(crate) fn split_origin(id: &str) -> Option<(String, String)> {
    let (scheme, rest) = id.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !matches!(scheme.as_str(), "http" | "https") || authority.is_empty() {
        return None;
    }
    Some((scheme, authority.to_ascii_lowercase()))
}

/// Printable ASCII: what an sf-string in `Agent-Auth` can carry.
fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_seed() {
        let r = parse_routes("/data-auth=auth:data.read; /data=identified;/=signature").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].1, Requirement::AuthToken(vec!["data.read".into()]));
        assert!(parse_routes("data=signature").is_none());
        assert!(parse_seed(&"0a".repeat(32)).is_some());
        assert!(parse_seed("zz").is_none());
    }
}
