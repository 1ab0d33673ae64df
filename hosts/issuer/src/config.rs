//! Configuration of the auth server: identity, lifetimes, consent and federation policy,
//! key discovery and the clock.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aauth_core::UnixTime;
use aauth_core::httpsig::VerifyPolicy;
use aauth_discovery::Discovery;

use crate::login_throttle::LoginThrottlePolicy;

/// The wall clock of the server. Every handler reads `now` exactly once, through this trait,
/// and passes it down to the core and the store.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time in unix seconds.
    fn now(&self) -> UnixTime;
}

/// The system clock ([`UnixTime::now`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

/// A clock that moves only when told to, for tests of expiry without sleeping.
///
/// ```
/// use aauth_issuer::{Clock, ManualClock};
/// let clock = ManualClock::at(1_768_785_919);
/// clock.advance(601);
/// assert_eq!(clock.now().as_secs(), 1_768_786_520);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock stopped at `secs`.
    pub fn at(secs: u64) -> Self {
        Self {
            now: AtomicU64::new(secs),
        }
    }

    /// A clock stopped at the current system time.
    pub fn from_system() -> Self {
        Self::at(UnixTime::now().as_secs())
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, secs: u64) {
        self.now.store(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now.load(Ordering::SeqCst))
    }
}

/// Which requested scopes need the user's consent (a Keycloak-extension-style policy).
///
/// A scope needs consent when it equals one of the `scopes`, or starts with one of the
/// `prefixes`. Without any such scope the token is issued directly (autonomous grant).
///
/// ```
/// use aauth_issuer::ConsentPolicy;
/// let p = ConsentPolicy::default();
/// assert!(p.needs_consent("data.read user.email"));
/// assert!(p.needs_consent("openid"));
/// assert!(!p.needs_consent("data.read data.write"));
/// assert!(ConsentPolicy::always().needs_consent(""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentPolicy {
    /// Scope prefixes that need consent (default `user.`, `profile.`, `email.`).
    pub prefixes: Vec<String>,
    /// Scopes that need consent (default `profile`, `email`, `openid`).
    pub scopes: Vec<String>,
    /// Ask for consent on every `request_type=auth`, like the reference's
    /// `AUTH_REQUIRE_CONSENT=1`.
    pub always: bool,
}

impl Default for ConsentPolicy {
    fn default() -> Self {
        Self {
            prefixes: ["user.", "profile.", "email."].map(String::from).to_vec(),
            scopes: ["profile", "email", "openid"].map(String::from).to_vec(),
            always: false,
        }
    }
}

impl ConsentPolicy {
    /// Consent for every request.
    pub fn always() -> Self {
        Self {
            always: true,
            ..Self::default()
        }
    }

    /// No consent for anything (every request is granted autonomously).
    pub fn never() -> Self {
        Self {
            prefixes: Vec::new(),
            scopes: Vec::new(),
            always: false,
        }
    }

    /// Does this space-separated scope string need consent?
    pub fn needs_consent(&self, scope: &str) -> bool {
        self.always
            || scope.split_whitespace().any(|s| {
                self.scopes.iter().any(|c| c == s)
                    || self.prefixes.iter().any(|p| s.starts_with(p.as_str()))
            })
    }
}

/// Why an [`IssuerConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer identifier is not an absolute `https` URL (or `http` on a loopback host)
    /// without path, query, fragment or credentials.
    InvalidIssuer,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidIssuer => f.write_str(
                "the issuer must be an https URL (http only on a loopback host) without path",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Everything the auth server needs besides its [`Store`](crate::store::Store).
///
/// ```no_run
/// use aauth_discovery::{Discovery, EgressPolicy};
/// use aauth_issuer::{ConsentPolicy, IssuerConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = IssuerConfig::new("https://auth.example", Discovery::new(EgressPolicy::default())?)?
///     .with_consent(ConsentPolicy::default())
///     .with_trusted_upstreams(["https://auth1.example"])
///     .with_token_ttl(3600);
/// assert_eq!(config.authority(), "auth.example");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuerConfig {
    issuer: String,
    authority: String,
    scheme: String,
    /// Lifetime of issued auth tokens, in seconds (default 3600). A token never outlives
    /// what it was derived from: an exchanged token's `exp` is capped at the upstream auth
    /// token's, a delegate's at its agent token's.
    pub token_ttl: u64,
    /// Lifetime of refresh tokens, in seconds; `None` (default) means until revoked (L§9.7:
    /// they need no rotation because every refresh request is signed).
    pub refresh_ttl: Option<u64>,
    /// Which scopes need the user's consent.
    pub consent: ConsentPolicy,
    /// Auth servers whose auth tokens are accepted for `request_type=exchange`.
    pub trusted_upstreams: Vec<String>,
    /// The deepest `act` chain an exchanged token may carry (default 4): an upstream token
    /// whose chain already has this many actors is refused.
    pub max_act_depth: usize,
    /// HTTP signature verification policy (`created` window, required components).
    pub verify_policy: VerifyPolicy,
    /// Fetches agent, resource and upstream issuer keys.
    pub discovery: Discovery,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// Name shown on the login and consent pages.
    pub app_name: String,
    /// Lifetime of browser sessions of the consent UI, in seconds (default 1800).
    pub session_ttl: u64,
    /// Largest accepted request body, in bytes (default 64 KiB).
    pub max_body: usize,
    /// When repeated failed sign-ins lock a user name out of the login page (default: the
    /// 5th consecutive failure locks for 30 s, doubling per further failure up to 15 min).
    /// Counted in memory per process; see [`login_throttle`](crate::login_throttle).
    pub login_throttle: LoginThrottlePolicy,
}

impl IssuerConfig {
    /// A configuration for the issuer identifier `issuer` (e.g. `https://auth.example` or,
    /// in development, `http://127.0.0.1:8003`). The canonical authority and scheme used to
    /// verify request signatures are taken from it, never from `Host`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidIssuer`].
    pub fn new(issuer: &str, discovery: Discovery) -> Result<Self, ConfigError> {
        let url = url::Url::parse(issuer).map_err(|_| ConfigError::InvalidIssuer)?;
        let host = url.host_str().ok_or(ConfigError::InvalidIssuer)?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        let clean = url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.path() == "/"
            && !issuer.ends_with('/');
        if !scheme_ok || !clean {
            return Err(ConfigError::InvalidIssuer);
        }
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Self {
            issuer: issuer.to_owned(),
            authority,
            scheme: url.scheme().to_owned(),
            token_ttl: 3600,
            refresh_ttl: None,
            consent: ConsentPolicy::default(),
            trusted_upstreams: Vec::new(),
            max_act_depth: 4,
            verify_policy: VerifyPolicy::default(),
            discovery,
            clock: Arc::new(SystemClock),
            app_name: "AAuth Auth Server".to_owned(),
            session_ttl: 1800,
            max_body: 64 * 1024,
            login_throttle: LoginThrottlePolicy::default(),
        })
    }

    /// Overrides the canonical authority (`host[:port]`) requests are signed for, e.g. when
    /// the server listens behind a proxy under another name.
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Sets the auth token lifetime.
    #[must_use]
    pub fn with_token_ttl(mut self, secs: u64) -> Self {
        self.token_ttl = secs;
        self
    }

    /// Sets the consent policy.
    #[must_use]
    pub fn with_consent(mut self, consent: ConsentPolicy) -> Self {
        self.consent = consent;
        self
    }

    /// Sets the trusted upstream auth servers for token exchange.
    #[must_use]
    pub fn with_trusted_upstreams<I, T>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.trusted_upstreams = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the maximum `act` chain depth.
    #[must_use]
    pub fn with_max_act_depth(mut self, depth: usize) -> Self {
        self.max_act_depth = depth;
        self
    }

    /// Sets the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the lockout policy of the login page: without one, a guesser holding a request
    /// token could try passwords indefinitely, each try costing an Argon2 hash.
    #[must_use]
    pub fn with_login_throttle(mut self, policy: LoginThrottlePolicy) -> Self {
        self.login_throttle = policy;
        self
    }

    /// Sets the name shown on the pages.
    #[must_use]
    pub fn with_app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The canonical authority (`host[:port]`) request signatures are verified against.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The scheme (`https`, or `http` in development).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `scheme://authority`, the origin the consent forms are posted from.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// Path-joined URL under the issuer identifier.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}
