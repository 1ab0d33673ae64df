//! Configuration: the `AAUTH_*` variables of [`VARIABLES`].
//!
//! The default build reads them from the environment (`wasi:cli/environment`), which a
//! bare `wasi:http` host sets directly (`wasmtime serve --env`, an embedding's
//! `WasiCtxBuilder::env`). Built with the `spin-variables` feature (part of `spin`, what
//! `spin.toml`'s build command turns on), the component first asks Spin's variables interface for each one
//! under its [`spin_name`] (`AAUTH_RESOURCE_ID` → `resource_id`), so operators set them as
//! application variables, secrets included, and falls back to the environment. Spin does
//! not expand `{{ variable }}` templates in a component's `environment`, hence the
//! variables interface.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use aauth_core::replay::ReplayScope;
use aauth_core::{Jwks, ResourceMetadata, Signer, SigningKey};
pub use aauth_http::Requirement;

/// Every variable the configuration reads (and nothing else is read).
pub const VARIABLES: [&str; 17] = [
    "AAUTH_RESOURCE_ID",
    "AAUTH_CANONICAL_AUTHORITY",
    "AAUTH_AUTH_SERVERS",
    "AAUTH_ROUTES",
    "AAUTH_UPSTREAM",
    "AAUTH_RESOURCE_KEY_SEED",
    "AAUTH_RESOURCE_KEY_ID",
    "AAUTH_EGRESS_ALLOW",
    "AAUTH_CACHE_TTL",
    "AAUTH_RESOURCE_TOKEN_TTL",
    "AAUTH_LEEWAY",
    "AAUTH_BODY_LIMIT",
    "AAUTH_FETCH_TIMEOUT",
    "AAUTH_UPSTREAM_TIMEOUT",
    "AAUTH_KV_STORE",
    "AAUTH_REPLAY_SCOPE",
    "AAUTH_REPLAY_STORE",
];

/// The Spin variable name of an `AAUTH_*` variable: without the prefix, lower-cased.
///
/// ```
/// assert_eq!(aauth_spin::config::spin_name("AAUTH_RESOURCE_KEY_SEED"), "resource_key_seed");
/// ```
pub fn spin_name(var: &str) -> String {
    var.strip_prefix("AAUTH_")
        .unwrap_or(var)
        .to_ascii_lowercase()
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
    /// `AAUTH_CACHE_TTL`: the longest a fetched metadata document or JWKS is reused, in
    /// seconds (300; at most 86 400, the upper clamp key discovery applies elsewhere; 0
    /// disables caching), in the instance and in the key-value store alike. A document is
    /// kept for its server's `Cache-Control: max-age` within this ceiling, and for the whole
    /// TTL when the server sends none ([`crate::keys::lifetime`]).
    pub cache_ttl: u64,
    /// `AAUTH_RESOURCE_TOKEN_TTL`: resource-token lifetime in seconds (300).
    pub resource_token_ttl: u64,
    /// `AAUTH_LEEWAY`: clock leeway for tokens in seconds (0; the core caps it at 60).
    pub leeway: u64,
    /// `AAUTH_BODY_LIMIT`: largest request body buffered, in bytes (1 MiB).
    pub body_limit: usize,
    /// `AAUTH_FETCH_TIMEOUT`: seconds one key-discovery fetch (metadata or JWKS, body
    /// included) may take (5): a slow or silent server fails the request instead of
    /// holding it.
    pub fetch_timeout: Duration,
    /// `AAUTH_UPSTREAM_TIMEOUT`: seconds the upstream may take to answer, body included
    /// (30); beyond, `504`.
    pub upstream_timeout: Duration,
    /// `AAUTH_KV_STORE`: label of the Spin key-value store that caches fetched documents
    /// (`spin-kv` build) and holds the nonces of the replay check (`spin-replay` build)
    /// (`default`; the label must be in the component's `key_value_stores`).
    pub kv_store: String,
    /// `AAUTH_REPLAY_SCOPE`: which requests with a `Nonce` are checked for replays
    /// (L§10.5, [`crate::replay`]): `unsafe` (default: all but `GET`, `HEAD`, `OPTIONS`,
    /// `TRACE`, as aauth-tower), `all`, or `off`. A checked request is refused with `503`
    /// when the store cannot be used (always so in a build without `spin-replay`).
    pub replay_scope: ReplayScope,
    /// `AAUTH_REPLAY_STORE`: label of the store holding the replay check's nonces (default
    /// `AAUTH_KV_STORE`'s). A store of their own keeps each sweep's key listing
    /// (Spin lists a whole store at once) to the nonces, away from the key cache.
    pub replay_store: String,
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
        let get = |k: &'static str| {
            debug_assert!(VARIABLES.contains(&k), "{k} is not listed in VARIABLES");
            get(k)
        };
        let nonempty = |k: &'static str| get(k).filter(|v| !v.trim().is_empty());
        let num = |k: &'static str, d: u64| -> Result<u64, ConfigError> {
            nonempty(k).map_or(Ok(d), |v| v.trim().parse().map_err(|_| ConfigError(k)))
        };
        // A number that must lie in `range`.
        let ranged = |k: &'static str, d: u64, range: RangeInclusive<u64>| {
            num(k, d).and_then(|t| {
                if range.contains(&t) {
                    Ok(t)
                } else {
                    Err(ConfigError(k))
                }
            })
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
        // A store label as Spin's runtime config names it: short and printable.
        let label = |k: &'static str, default: &str| {
            let v = nonempty(k).map_or_else(|| default.to_owned(), |s| s.trim().to_owned());
            if v.len() > 64 || !printable(&v) {
                return Err(ConfigError(k));
            }
            Ok(v)
        };
        let kv_store = label("AAUTH_KV_STORE", "default")?;
        let replay_store = label("AAUTH_REPLAY_STORE", &kv_store)?;
        let replay_scope = match nonempty("AAUTH_REPLAY_SCOPE")
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("unsafe") => ReplayScope::Unsafe,
            Some("all") => ReplayScope::All,
            Some("off") => ReplayScope::Off,
            Some(_) => return Err(ConfigError("AAUTH_REPLAY_SCOPE")),
        };
        let egress_allow = list(&get("AAUTH_EGRESS_ALLOW").unwrap_or_default())
            .map(str::to_ascii_lowercase)
            .collect();

        let mut metadata = ResourceMetadata::for_id(&resource_id);
        let mut scopes: Vec<String> = routes
            .iter()
            .filter_map(|(_, r)| match r {
                Requirement::AuthToken { scopes } => Some(scopes.iter().cloned()),
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
            cache_ttl: ranged("AAUTH_CACHE_TTL", 300, 0..=MAX_CACHE_TTL)?,
            resource_token_ttl: num("AAUTH_RESOURCE_TOKEN_TTL", 300)?,
            leeway: num("AAUTH_LEEWAY", 0)?,
            body_limit: usize::try_from(num("AAUTH_BODY_LIMIT", 1024 * 1024)?)
                .map_err(|_| ConfigError("AAUTH_BODY_LIMIT"))?,
            fetch_timeout: Duration::from_secs(ranged("AAUTH_FETCH_TIMEOUT", 5, TIMEOUT_SECS)?),
            upstream_timeout: Duration::from_secs(ranged(
                "AAUTH_UPSTREAM_TIMEOUT",
                30,
                TIMEOUT_SECS,
            )?),
            kv_store,
            replay_scope,
            replay_store,
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
            .map_or_else(
                || Requirement::AuthToken { scopes: Vec::new() },
                |(_, r)| r.clone(),
            )
    }
}

/// Longest `AAUTH_CACHE_TTL`: a day, the upper clamp `aauth-discovery` applies to a
/// server's `max-age`.
pub const MAX_CACHE_TTL: u64 = 24 * 60 * 60;

/// Shortest time a fetched document is kept when its server asks for less (`max-age`
/// below it, `no-store`, `no-cache`): a minute, the floor `aauth-discovery` applies too,
/// after the rule that a verifier refetches a JWKS at most once a minute (digest S-23).
/// A lower `AAUTH_CACHE_TTL` lowers it as well.
pub const MIN_CACHE_LIFETIME: u64 = 60;

/// A timeout: at least one second and at most an hour.
const TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;

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
                Requirement::AuthToken { scopes }
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
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// A valid value for every variable.
    fn full() -> BTreeMap<&'static str, String> {
        let mut m: BTreeMap<&'static str, String> =
            VARIABLES.iter().map(|v| (*v, String::new())).collect();
        for (k, v) in [
            ("AAUTH_RESOURCE_ID", "https://resource.example"),
            ("AAUTH_CANONICAL_AUTHORITY", "resource.example"),
            ("AAUTH_AUTH_SERVERS", "https://auth.example"),
            ("AAUTH_ROUTES", "/data-auth=auth:data.read"),
            ("AAUTH_UPSTREAM", "https://backend.example"),
            ("AAUTH_RESOURCE_KEY_SEED", &"0a".repeat(32)),
            ("AAUTH_RESOURCE_KEY_ID", "k1"),
            ("AAUTH_EGRESS_ALLOW", "127.0.0.1:8001"),
            ("AAUTH_CACHE_TTL", "60"),
            ("AAUTH_RESOURCE_TOKEN_TTL", "60"),
            ("AAUTH_LEEWAY", "5"),
            ("AAUTH_BODY_LIMIT", "1024"),
            ("AAUTH_FETCH_TIMEOUT", "2"),
            ("AAUTH_UPSTREAM_TIMEOUT", "10"),
            ("AAUTH_KV_STORE", "aauth-keys"),
            ("AAUTH_REPLAY_SCOPE", "all"),
            ("AAUTH_REPLAY_STORE", "aauth-nonces"),
        ] {
            m.insert(k, v.to_owned());
        }
        m
    }

    #[test]
    fn reads_exactly_the_listed_variables() {
        let vars = full();
        let seen = RefCell::new(BTreeSet::new());
        let cfg = Config::from_lookup(|k| {
            seen.borrow_mut().insert(k.to_owned());
            vars.get(k).cloned()
        })
        .unwrap();
        assert_eq!(cfg.fetch_timeout, Duration::from_secs(2));
        assert_eq!(cfg.kv_store, "aauth-keys");
        assert_eq!(cfg.replay_scope, ReplayScope::All);
        assert_eq!(cfg.replay_store, "aauth-nonces");
        let listed: BTreeSet<String> = VARIABLES.iter().map(|v| (*v).to_owned()).collect();
        assert_eq!(seen.into_inner(), listed);
    }

    /// `spin.toml` passes every variable the configuration reads, under its Spin name, from
    /// a declared application variable; the manifest's `required` variables are exactly
    /// those the configuration cannot do without; the key seed is a secret.
    #[test]
    fn spin_manifest_declares_what_the_config_reads() {
        let manifest: toml::Table = include_str!("../spin.toml").parse().unwrap();
        let app = manifest["variables"].as_table().unwrap();
        let component = manifest["component"]["aauth-resource"].as_table().unwrap();
        let passed = component["variables"].as_table().unwrap();
        // Spin does not expand templates in `environment`: none may be used there.
        if let Some(env) = component.get("environment").and_then(toml::Value::as_table) {
            assert!(
                env.values()
                    .all(|v| !v.as_str().unwrap_or("").contains("{{")),
                "templates in environment are passed literally by Spin"
            );
        }
        let names: BTreeSet<String> = VARIABLES.iter().map(|v| spin_name(v)).collect();
        assert_eq!(passed.keys().cloned().collect::<BTreeSet<_>>(), names);
        let mut used = BTreeSet::new();
        for (name, template) in passed {
            let t = template.as_str().unwrap().trim();
            let inner = t
                .strip_prefix("{{")
                .and_then(|t| t.strip_suffix("}}"))
                .unwrap_or_else(|| panic!("{name} = {t} is not a template"))
                .trim();
            assert!(app.contains_key(inner), "{name} uses undeclared {inner}");
            used.insert(inner.to_owned());
        }
        assert_eq!(app.keys().cloned().collect::<BTreeSet<_>>(), used);

        // `required` in the manifest ⇔ the configuration fails without it.
        for var in VARIABLES {
            let mut vars = full();
            vars.insert(var, String::new());
            let fails = Config::from_lookup(|k| vars.get(k).cloned()).is_err();
            let decl = app[&spin_name(var)].as_table().unwrap();
            let required = decl.get("required").and_then(toml::Value::as_bool) == Some(true);
            assert_eq!(required, fails, "{var}: required in spin.toml vs config");
            assert_eq!(
                decl.get("secret").and_then(toml::Value::as_bool) == Some(true),
                var == "AAUTH_RESOURCE_KEY_SEED",
                "{var}: secret"
            );
        }
        let build = component["build"]["command"].as_str().unwrap();
        let words: Vec<&str> = build.split_whitespace().collect();
        assert!(
            words.windows(2).any(|w| w == ["--features", "spin"]),
            "{build}"
        );
        // The key-value store the `spin-kv` build opens by default is granted.
        let stores: Vec<&str> = component["key_value_stores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(stores, ["default"]);
        // Key discovery only fetches https without the dev allow-list.
        for host in component["allowed_outbound_hosts"].as_array().unwrap() {
            assert!(host.as_str().unwrap().starts_with("https://"), "{host:?}");
        }
    }

    #[test]
    fn routes_and_seed() {
        let r = parse_routes("/data-auth=auth:data.read; /data=identified;/=signature").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].1, Requirement::auth_token(["data.read"]));
        assert!(parse_routes("data=signature").is_none());
        assert!(parse_seed(&"0a".repeat(32)).is_some());
        assert!(parse_seed("zz").is_none());
    }

    #[test]
    fn timeouts_are_bounded() {
        for var in ["AAUTH_FETCH_TIMEOUT", "AAUTH_UPSTREAM_TIMEOUT"] {
            let cfg = |v: &str| {
                let mut vars = full();
                vars.insert(var, v.to_owned());
                Config::from_lookup(|n| vars.get(n).cloned())
            };
            for ok in ["1", "3600"] {
                assert!(cfg(ok).is_ok(), "{var}={ok}");
            }
            for bad in ["0", "3601", "-1"] {
                assert_eq!(cfg(bad).unwrap_err(), ConfigError(var), "{var}={bad}");
            }
        }
    }

    #[test]
    fn cache_ttl_and_store_label() {
        let cfg = |k: &'static str, v: &str| {
            let mut vars = full();
            vars.insert(k, v.to_owned());
            Config::from_lookup(|n| vars.get(n).cloned())
        };
        assert_eq!(cfg("AAUTH_CACHE_TTL", "86400").unwrap().cache_ttl, 86_400);
        assert_eq!(cfg("AAUTH_CACHE_TTL", "0").unwrap().cache_ttl, 0);
        assert_eq!(
            cfg("AAUTH_CACHE_TTL", "86401").unwrap_err(),
            ConfigError("AAUTH_CACHE_TTL")
        );
        assert_eq!(cfg("AAUTH_KV_STORE", "").unwrap().kv_store, "default");
        assert_eq!(
            cfg("AAUTH_KV_STORE", "bad\nlabel").unwrap_err(),
            ConfigError("AAUTH_KV_STORE")
        );
        assert_eq!(
            cfg("AAUTH_REPLAY_STORE", "bad\nlabel").unwrap_err(),
            ConfigError("AAUTH_REPLAY_STORE")
        );
        // Unset, the nonces share the key cache's store.
        let shared = cfg("AAUTH_REPLAY_STORE", " ").unwrap();
        assert_eq!(shared.replay_store, "aauth-keys");
        assert_eq!(shared.kv_store, "aauth-keys");
    }

    #[test]
    fn replay_scope() {
        let scope = |v: &str| {
            let mut vars = full();
            vars.insert("AAUTH_REPLAY_SCOPE", v.to_owned());
            Config::from_lookup(|n| vars.get(n).cloned()).map(|c| c.replay_scope)
        };
        assert_eq!(
            scope(""),
            Ok(ReplayScope::Unsafe),
            "the default, as aauth-tower"
        );
        assert_eq!(scope("unsafe"), Ok(ReplayScope::Unsafe));
        assert_eq!(scope(" ALL "), Ok(ReplayScope::All));
        assert_eq!(scope("off"), Ok(ReplayScope::Off));
        for bad in ["none", "get", "on"] {
            assert_eq!(scope(bad), Err(ConfigError("AAUTH_REPLAY_SCOPE")), "{bad}");
        }
    }
}
