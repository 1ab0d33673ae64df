//! The egress check run before every key-discovery fetch.
//!
//! Only `https` URLs are fetched, and never an IP literal outside public unicast space,
//! unless the development allow-list names the host (or `host:port`). Host names are not
//! resolved here (the component has no DNS API): the runtime's allowed outbound hosts
//! (`allowed_outbound_hosts` in `spin.toml`) are the second fence.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a URL may not be fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Not an absolute `http(s)` URL with a host, or it carries credentials.
    Malformed,
    /// Plain `http` to a host not on the allow-list.
    Insecure,
    /// A loopback, private, link-local or otherwise non-public address (or `localhost`).
    NonPublic,
}

/// Checks `url` against the policy; `allow` holds lower-cased `host` / `host:port` entries.
///
/// # Errors
/// [`Denied`].
pub fn check(url: &str, allow: &[String]) -> Result<http::Uri, Denied> {
    let uri: http::Uri = url.parse().map_err(|_| Denied::Malformed)?;
    let scheme = uri.scheme_str().ok_or(Denied::Malformed)?;
    let authority = uri.authority().ok_or(Denied::Malformed)?.as_str();
    if authority.contains('@') || !matches!(scheme, "http" | "https") {
        return Err(Denied::Malformed);
    }
    let host = uri.host().ok_or(Denied::Malformed)?.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    if allow.iter().any(|a| *a == authority || *a == host) {
        return Ok(uri);
    }
    if scheme != "https" {
        return Err(Denied::Insecure);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if !is_public(ip) {
            return Err(Denied::NonPublic);
        }
    } else if bare == "localhost" || bare.ends_with(".localhost") {
        return Err(Denied::NonPublic);
    }
    Ok(uri)
}

/// Globally routable unicast, judging IPv4-mapped addresses by their IPv4 part.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Only 2000::/3 is global unicast; exclude documentation, Teredo/ORCHID-style IETF
    // assignments and 6to4 (whose embedded IPv4 address is not checked here).
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] <= 0x01ff)
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && s[0] != 0x2002
        && !(s[0] == 0x3fff && s[1] <= 0x0fff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let none: Vec<String> = Vec::new();
        assert!(check("https://agent.example/jwks.json", &none).is_ok());
        assert_eq!(
            check("http://agent.example/jwks.json", &none).unwrap_err(),
            Denied::Insecure
        );
        for bad in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[fd00::1]/x",
            "https://localhost/x",
            "https://0.0.0.0/x",
        ] {
            assert_eq!(check(bad, &none).unwrap_err(), Denied::NonPublic, "{bad}");
        }
        assert_eq!(
            check("https://u:p@agent.example/", &none).unwrap_err(),
            Denied::Malformed
        );
        assert_eq!(
            check("ftp://agent.example/", &none).unwrap_err(),
            Denied::Malformed
        );
        let dev = vec!["127.0.0.1:8001".to_owned()];
        assert!(check("http://127.0.0.1:8001/jwks.json", &dev).is_ok());
        assert!(check("http://127.0.0.1:8002/jwks.json", &dev).is_err());
    }
}
