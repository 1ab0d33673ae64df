//! Egress admission (digest §3.6, S-16, S-22): which URLs and addresses key discovery may
//! connect to.
//!
//! The policy is enforced twice: on the URL before anything is sent (scheme, credentials,
//! IP-literal hosts, explicit allow-list) and on every address a host name resolves to, by
//! the DNS resolver the HTTP client is built with ([`PolicyResolver`]). The connection can
//! only use addresses that passed the check, so a DNS answer that changes between a check
//! and the connect (rebinding) cannot smuggle in a private address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use crate::error::DiscoveryError;

/// What kind of address an IP is, for egress decisions.
///
/// IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) IPv6
/// addresses are classified by the IPv4 address they embed, so `::ffff:127.0.0.1` is
/// [`Loopback`](Self::Loopback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpClass {
    /// Broadcast (`255.255.255.255`).
    Broadcast,
    /// Documentation ranges: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`,
    /// `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Link-local: `169.254.0.0/16` (including the `169.254.169.254` cloud metadata
    /// service), `fe80::/10`.
    LinkLocal,
    /// Loopback: `127.0.0.0/8`, `::1`.
    Loopback,
    /// Multicast: `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// Private networks: `10/8`, `172.16/12`, `192.168/16`, CGNAT `100.64/10`, unique local
    /// `fc00::/7`, deprecated site-local `fec0::/10`, local-use NAT64 `64:ff9b:1::/48`.
    Private,
    /// A globally routable unicast address: the only class the default policy allows.
    Public,
    /// Reserved or special-purpose: `0/8`, `192.0.0.0/24`, benchmarking `198.18/15`,
    /// `240/4`, IPv4-compatible `::a.b.c.d`, discard `100::/64`, Teredo `2001::/32`, and
    /// other IETF protocol assignments in `2001::/23`.
    Reserved,
    /// Unspecified: `0.0.0.0`, `::`.
    Unspecified,
}

/// Classifies an address (see [`IpClass`]).
pub fn classify_ip(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_unspecified() => IpClass::Unspecified,
        _ if ip.is_broadcast() => IpClass::Broadcast,
        (0, _, _) => IpClass::Reserved,
        (127, _, _) => IpClass::Loopback,
        (10, _, _) | (192, 168, _) => IpClass::Private,
        (172, 16..=31, _) | (100, 64..=127, _) => IpClass::Private,
        (169, 254, _) => IpClass::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => IpClass::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => IpClass::Reserved,
        (224..=239, _, _) => IpClass::Multicast,
        (240..=255, _, _) => IpClass::Reserved,
        _ => IpClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if ip.is_unspecified() {
        return IpClass::Unspecified;
    }
    if ip.is_loopback() {
        return IpClass::Loopback;
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1).
        [0, 0, 0, 0, 0, 0, _, _] => IpClass::Reserved,
        // NAT64 well-known prefix (RFC 6052): the embedded IPv4 address decides.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        // Local-use NAT64 (RFC 8215).
        [0x64, 0xff9b, 1, ..] => IpClass::Private,
        // Discard-only (RFC 6666).
        [0x100, 0, 0, 0, ..] => IpClass::Reserved,
        [0x2001, 0xdb8, ..] => IpClass::Documentation,
        // Teredo and the other IETF protocol assignments (2001::/23).
        [0x2001, 0..=0x1ff, ..] => IpClass::Reserved,
        // 6to4 (RFC 3056): the embedded IPv4 address decides.
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        [0x3fff, 0..=0x0fff, ..] => IpClass::Documentation,
        [x, ..] if x & 0xfe00 == 0xfc00 => IpClass::Private,
        [x, ..] if x & 0xffc0 == 0xfe80 => IpClass::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => IpClass::Private,
        [x, ..] if x & 0xff00 == 0xff00 => IpClass::Multicast,
        // Only 2000::/3 is allocated global unicast.
        [x, ..] if x & 0xe000 == 0x2000 => IpClass::Public,
        _ => IpClass::Reserved,
    }
}

/// Which URLs key discovery may fetch.
///
/// [`EgressPolicy::default()`] (= [`EgressPolicy::new`]) allows only `https` URLs whose host
/// is, or resolves only to, [`IpClass::Public`] addresses. Addresses of other classes are
/// dropped from DNS answers; a host left with none is refused. Credentials in URLs are
/// always refused.
///
/// For tests and demos, [`EgressPolicy::dev`] also allows `http` and loopback, and
/// [`allow_host`](Self::allow_host) admits one named authority whatever its addresses.
///
/// ```
/// use aauth_discovery::EgressPolicy;
///
/// let strict = EgressPolicy::default();
/// assert!(strict.check_url("https://agent.example/jwks.json").is_ok());
/// assert!(strict.check_url("http://agent.example/jwks.json").is_err());
/// assert!(strict.check_url("https://169.254.169.254/latest").is_err());
///
/// let demo = EgressPolicy::new().allow_host("127.0.0.1:8001");
/// assert!(demo.check_url("http://127.0.0.1:8001/.well-known/aauth-agent").is_ok());
/// assert!(demo.check_url("http://127.0.0.1:8002/").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow_http: bool,
    allow_loopback: bool,
    allow_private: bool,
    hosts: Vec<AllowedHost>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedHost {
    /// Lower-cased host name, or an IP address in its canonical text form (no brackets).
    host: String,
    /// `None` matches any port; `Some(None)` never matches (an unparsable port).
    port: Option<Option<u16>>,
}

impl EgressPolicy {
    /// The strict default: `https` only, public unicast addresses only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A development policy: also allows `http` and loopback addresses (`127/8`, `::1`,
    /// `localhost`). Never use it in production: it lets any caller make the verifier
    /// fetch from services on the verifier's own machine.
    pub fn dev() -> Self {
        Self::new().allow_http(true).allow_loopback(true)
    }

    /// Allows (or stops allowing) `http` URLs.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Allows (or stops allowing) [`IpClass::Loopback`] addresses.
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// Allows (or stops allowing) [`IpClass::Private`] addresses, for verifiers that fetch
    /// keys from parties inside their own network.
    pub fn allow_private(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Admits one authority, `host` or `host:port` (`[v6]:port` for IPv6), over `http` or
    /// `https` and whatever its addresses are, e.g. `allow_host("127.0.0.1:8001")` for a
    /// local demo server. Without a port, every port of the host is admitted. An entry whose
    /// port does not parse admits nothing (fail closed).
    pub fn allow_host(mut self, authority: &str) -> Self {
        self.hosts.push(AllowedHost::parse(authority));
        self
    }

    /// True when the policy allows connecting to this address.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        match classify_ip(ip) {
            IpClass::Public => true,
            IpClass::Loopback => self.allow_loopback,
            IpClass::Private => self.allow_private,
            _ => false,
        }
    }

    /// Checks a URL before anything is sent: it must be absolute `http(s)` without
    /// credentials; `http` needs [`allow_http`](Self::allow_http) or an
    /// [`allow_host`](Self::allow_host) entry; an IP-literal host must be permitted. Host
    /// names are checked again on their resolved addresses when the request is made.
    ///
    /// # Errors
    /// [`DiscoveryError::InvalidLocation`] when the URL does not parse or has no host,
    /// [`DiscoveryError::EgressDenied`] when the policy refuses it.
    pub fn check_url(&self, url: &str) -> Result<(), DiscoveryError> {
        let url = Url::parse(url).map_err(|_| DiscoveryError::InvalidLocation)?;
        self.check(&url)
    }

    pub(crate) fn check(&self, url: &Url) -> Result<(), DiscoveryError> {
        let host = url.host().ok_or(DiscoveryError::InvalidLocation)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DiscoveryError::EgressDenied);
        }
        let listed = self.listed(&host, url.port_or_known_default());
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http || listed => {}
            _ => return Err(DiscoveryError::EgressDenied),
        }
        if listed {
            return Ok(());
        }
        let ip = match host {
            Host::Domain(_) => return Ok(()),
            Host::Ipv4(v4) => IpAddr::V4(v4),
            Host::Ipv6(v6) => IpAddr::V6(v6),
        };
        if self.permits_ip(ip) {
            Ok(())
        } else {
            Err(DiscoveryError::EgressDenied)
        }
    }

    fn listed(&self, host: &Host<&str>, port: Option<u16>) -> bool {
        let name = host_text(host);
        self.hosts
            .iter()
            .any(|h| h.host == name && h.port.is_none_or(|p| p.is_some() && p == port))
    }

    /// True when a resolved name is on the allow-list (any port: the port was checked on
    /// the URL before the request was made).
    fn name_listed(&self, name: &str) -> bool {
        self.hosts.iter().any(|h| h.host.eq_ignore_ascii_case(name))
    }
}

fn host_text(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::Ipv4(v4) => v4.to_string(),
        Host::Ipv6(v6) => v6.to_string(),
    }
}

impl AllowedHost {
    fn parse(entry: &str) -> Self {
        let entry = entry.trim();
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(""))),
                None => (rest, Some("")),
            }
        } else {
            match entry.split_once(':') {
                Some((h, p)) if !p.contains(':') => (h, Some(p)),
                _ => (entry, None),
            }
        };
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host.to_ascii_lowercase(),
        };
        Self {
            host,
            port: port.map(|p| p.parse::<u16>().ok()),
        }
    }
}

/// Marker error a [`PolicyResolver`] returns when every address of a name was refused;
/// found again in the error chain to report [`DiscoveryError::EgressDenied`].
#[derive(Debug)]
pub(crate) struct ResolveDenied;

impl std::fmt::Display for ResolveDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("every resolved address was refused by the egress policy")
    }
}

impl std::error::Error for ResolveDenied {}

/// The DNS resolver the discovery HTTP client uses, public so other reqwest clients (the
/// agent client) can be built with it: the system resolver, with every address the
/// [`EgressPolicy`] does not permit dropped. The client connects only to the addresses this
/// returns, so a name cannot be rebound to a refused address between check and connect.
#[derive(Clone, Debug)]
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`; pass it to `reqwest::ClientBuilder::dns_resolver`.
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str();
            let listed = policy.name_listed(host);
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
                .await?
                .filter(|a| listed || policy.permits_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(ResolveDenied) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_v4() {
        for (a, c) in [
            ("8.8.8.8", IpClass::Public),
            ("1.1.1.1", IpClass::Public),
            ("127.0.0.1", IpClass::Loopback),
            ("127.255.0.9", IpClass::Loopback),
            ("10.0.0.1", IpClass::Private),
            ("172.16.0.1", IpClass::Private),
            ("172.31.255.255", IpClass::Private),
            ("172.32.0.1", IpClass::Public),
            ("192.168.1.1", IpClass::Private),
            ("100.64.0.1", IpClass::Private),
            ("100.127.255.255", IpClass::Private),
            ("100.128.0.1", IpClass::Public),
            ("169.254.169.254", IpClass::LinkLocal),
            ("0.0.0.0", IpClass::Unspecified),
            ("0.1.2.3", IpClass::Reserved),
            ("255.255.255.255", IpClass::Broadcast),
            ("224.0.0.1", IpClass::Multicast),
            ("239.255.255.250", IpClass::Multicast),
            ("240.0.0.1", IpClass::Reserved),
            ("192.0.2.1", IpClass::Documentation),
            ("198.51.100.7", IpClass::Documentation),
            ("203.0.113.9", IpClass::Documentation),
            ("198.18.0.1", IpClass::Reserved),
            ("192.0.0.8", IpClass::Reserved),
        ] {
            assert_eq!(classify_ip(ip(a)), c, "{a}");
        }
    }

    #[test]
    fn classifies_v6_and_embedded_v4() {
        for (a, c) in [
            ("2606:4700:4700::1111", IpClass::Public),
            ("::1", IpClass::Loopback),
            ("::", IpClass::Unspecified),
            ("fc00::1", IpClass::Private),
            ("fd12:3456::1", IpClass::Private),
            ("fe80::1", IpClass::LinkLocal),
            ("febf::1", IpClass::LinkLocal),
            ("fec0::1", IpClass::Private),
            ("ff02::1", IpClass::Multicast),
            ("2001:db8::1", IpClass::Documentation),
            ("3fff::1", IpClass::Documentation),
            ("2001::1", IpClass::Reserved),
            ("100::1", IpClass::Reserved),
            ("::127.0.0.1", IpClass::Reserved),
            ("4000::1", IpClass::Reserved),
            ("::ffff:127.0.0.1", IpClass::Loopback),
            ("::ffff:10.0.0.1", IpClass::Private),
            ("::ffff:169.254.169.254", IpClass::LinkLocal),
            ("::ffff:0.0.0.0", IpClass::Unspecified),
            ("::ffff:8.8.8.8", IpClass::Public),
            ("64:ff9b::127.0.0.1", IpClass::Loopback),
            ("64:ff9b::a9fe:a9fe", IpClass::LinkLocal),
            ("64:ff9b::192.168.0.1", IpClass::Private),
            ("64:ff9b::8.8.8.8", IpClass::Public),
            ("64:ff9b:1::1", IpClass::Private),
            ("2002:7f00:1::1", IpClass::Loopback),
            ("2002:0a00:1::", IpClass::Private),
            ("2002:0808:0808::1", IpClass::Public),
        ] {
            assert_eq!(classify_ip(ip(a)), c, "{a}");
        }
    }

    #[test]
    fn default_policy_refuses_internal_targets() {
        let p = EgressPolicy::default();
        for url in [
            "http://agent.example/jwks",
            "https://127.0.0.1/jwks",
            "https://[::1]/jwks",
            "https://10.0.0.1/jwks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:127.0.0.1]/jwks",
            "https://[::ffff:7f00:1]/jwks",
            "https://[64:ff9b::7f00:1]/jwks",
            "https://[fe80::1]/jwks",
            "https://0.0.0.0/jwks",
            "https://0x7f.1/jwks",
            "https://2130706433/jwks",
            "https://user:pw@agent.example/jwks",
            "ftp://agent.example/jwks",
            "file:///etc/passwd",
        ] {
            assert!(p.check_url(url).is_err(), "{url}");
        }
        assert_eq!(
            p.check_url("not a url"),
            Err(DiscoveryError::InvalidLocation)
        );
        assert!(p.check_url("https://agent.example/jwks").is_ok());
        assert!(p.check_url("https://8.8.8.8/jwks").is_ok());
        assert!(!p.permits_ip(ip("127.0.0.1")));
        assert!(!p.permits_ip(ip("::1")));
    }

    #[test]
    fn dev_policy_and_allow_list() {
        let dev = EgressPolicy::dev();
        assert!(dev.check_url("http://127.0.0.1:8001/jwks").is_ok());
        assert!(dev.check_url("http://[::1]:8001/jwks").is_ok());
        assert!(dev.check_url("http://10.0.0.1/jwks").is_err());
        assert!(dev.check_url("http://169.254.169.254/").is_err());

        let p = EgressPolicy::new()
            .allow_host("127.0.0.1:8001")
            .allow_host("[::1]:9000")
            .allow_host("Internal.Example")
            .allow_host("bad:port");
        assert!(p.check_url("http://127.0.0.1:8001/x").is_ok());
        assert!(p.check_url("http://127.0.0.1:8002/x").is_err());
        assert!(p.check_url("http://[::1]:9000/x").is_ok());
        assert!(p.check_url("http://[0:0:0:0:0:0:0:1]:9000/x").is_ok());
        assert!(p.check_url("http://internal.example:1234/x").is_ok());
        assert!(p.check_url("http://bad/x").is_err());
        assert!(p.check_url("http://other.example/x").is_err());
        assert!(p.name_listed("internal.example"));
        assert!(!p.name_listed("other.example"));
    }

    #[test]
    fn allowed_host_parsing_never_panics() {
        for e in [
            "", ":", "[", "[]", "[::1", "[::1]x", "a:b:c", "::1", "h:99999", "é:1",
        ] {
            let _ = AllowedHost::parse(e);
        }
        assert_eq!(AllowedHost::parse("::1").host, "::1");
        assert_eq!(AllowedHost::parse("h:99999").port, Some(None));
    }
}
