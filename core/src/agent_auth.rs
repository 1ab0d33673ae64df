//! The `Agent-Auth` challenge header (digest §2.2, L§4): what a resource requires of an
//! agent, sent with a 401 (or 403 / 429).
//!
//! The header is an RFC 8941 item, the token `httpsig`, with parameters — except that the
//! spec's `algs` parameter is an inner list, which RFC 8941 does not allow as a parameter
//! value (digest §7 item 2). The parser here accepts exactly that deviation and is
//! otherwise the RFC 8941 item grammar (it reuses [`crate::sf`]'s lexer). Building writes
//! the reference's bytes: parts joined with `"; "` in the order
//! `httpsig; identity; auth-token; resource_token; auth_server; user_interaction; algs`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{ErrorCode, ProtocolError};
use crate::sf::{self, BareItem, Parser};

/// Longest `Agent-Auth` value accepted; a resource token is a few hundred bytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// Most `algs` entries accepted.
const MAX_ALGS: usize = 32;

/// A parsed or to-be-built `Agent-Auth` challenge.
///
/// ```
/// use aauth_core::agent_auth::AgentAuth;
///
/// let challenge = AgentAuth::auth_token("eyJ.x.y", "https://auth.example");
/// let value = challenge.to_header()?;
/// assert_eq!(value, r#"httpsig; auth-token; resource_token="eyJ.x.y"; auth_server="https://auth.example""#);
/// assert_eq!(AgentAuth::parse(&value)?, challenge);
///
/// let parsed = AgentAuth::parse(r#"httpsig; identity=?1; algs=("ed25519" "rsa-pss-sha512")"#)?;
/// assert_eq!(parsed.identity, Some(true));
/// assert_eq!(parsed.algs, ["ed25519", "rsa-pss-sha512"]);
/// # Ok::<(), aauth_core::agent_auth::AgentAuthError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentAuth {
    /// `identity=?1` / `?0`: whether agent identity is required; `None` when absent.
    pub identity: Option<bool>,
    /// `auth-token`: an auth token from [`Self::auth_server`] is required.
    pub auth_token: bool,
    /// `resource_token`: the resource token to present to the auth server.
    pub resource_token: Option<String>,
    /// `auth_server`: the auth server's identifier.
    pub auth_server: Option<String>,
    /// `user_interaction`: a URL to send the user to.
    pub user_interaction: Option<String>,
    /// `algs`: supported HTTP signature algorithms; empty when absent.
    pub algs: Vec<String>,
}

/// Why an `Agent-Auth` value was refused or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentAuthError {
    /// A known parameter has the wrong type.
    InvalidParameter(&'static str),
    /// The value does not follow the grammar.
    Malformed,
    /// The value does not start with the `httpsig` token (L§4.6).
    MissingHttpsig,
    /// The value is longer than [`MAX_HEADER_LEN`].
    TooLong,
    /// A value to build holds characters outside printable ASCII.
    Unrepresentable(&'static str),
}

impl fmt::Display for AgentAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter(p) => write!(f, "Agent-Auth parameter `{p}` is invalid"),
            Self::Malformed => f.write_str("malformed Agent-Auth"),
            Self::MissingHttpsig => f.write_str("Agent-Auth does not start with httpsig"),
            Self::TooLong => f.write_str("Agent-Auth is too long"),
            Self::Unrepresentable(p) => write!(f, "Agent-Auth `{p}` is not printable ASCII"),
        }
    }
}

impl core::error::Error for AgentAuthError {}

impl ProtocolError for AgentAuthError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

impl AgentAuth {
    /// `httpsig`: any signature scheme is accepted, pseudonymous included.
    pub fn pseudonymous() -> Self {
        Self::default()
    }

    /// `httpsig; identity=?1`: the agent must identify itself (`jwks`, `x509`, or `jwt`
    /// with an agent token).
    pub fn identity() -> Self {
        Self {
            identity: Some(true),
            ..Self::default()
        }
    }

    /// `httpsig; auth-token; resource_token="…"; auth_server="…"`: the agent must obtain an
    /// auth token (the demo resource's 401).
    pub fn auth_token(resource_token: &str, auth_server: &str) -> Self {
        Self {
            auth_token: true,
            resource_token: Some(String::from(resource_token)),
            auth_server: Some(String::from(auth_server)),
            ..Self::default()
        }
    }

    /// Parses an `Agent-Auth` field value.
    ///
    /// `httpsig` must come first. Parameters are separated by `;` with optional spaces
    /// (the reference writes `"; "`); strings may use `\"` and `\\` escapes; `algs` may be
    /// an inner list; unknown parameters are ignored; a repeated parameter keeps its last
    /// value (RFC 8941 §4.2.3.2). `identity` without a value, like `auth-token`, means
    /// true.
    ///
    /// # Errors
    /// [`AgentAuthError`].
    pub fn parse(value: &str) -> Result<Self, AgentAuthError> {
        const E: AgentAuthError = AgentAuthError::Malformed;
        if value.len() > MAX_HEADER_LEN {
            return Err(AgentAuthError::TooLong);
        }
        let mut p = Parser::new(value);
        p.skip_ows();
        match p.bare_item() {
            Ok(BareItem::Token("httpsig")) => {}
            _ => return Err(AgentAuthError::MissingHttpsig),
        }
        let mut out = Self::default();
        loop {
            p.skip_ows();
            if p.at_end() {
                return Ok(out);
            }
            if !p.eat(b';') {
                return Err(E);
            }
            p.skip_sp();
            let key = p.key().map_err(|_| E)?;
            if !p.eat(b'=') {
                match key {
                    "identity" => out.identity = Some(true),
                    "auth-token" => out.auth_token = true,
                    "resource_token" | "auth_server" | "user_interaction" | "algs" => {
                        return Err(AgentAuthError::InvalidParameter(static_name(key)));
                    }
                    _ => {}
                }
                continue;
            }
            if p.peek() == Some(b'(') {
                // The inner list of `algs` (digest §7 item 2).
                let list = inner_list(&mut p)?;
                match key {
                    "algs" => {
                        out.algs = list
                            .into_iter()
                            .collect::<Option<_>>()
                            .ok_or(AgentAuthError::InvalidParameter("algs"))?;
                    }
                    "identity" | "auth-token" | "resource_token" | "auth_server"
                    | "user_interaction" => {
                        return Err(AgentAuthError::InvalidParameter(static_name(key)));
                    }
                    _ => {}
                }
                continue;
            }
            let item = p.bare_item().map_err(|_| E)?;
            let invalid = || AgentAuthError::InvalidParameter(static_name(key));
            match key {
                "identity" => out.identity = Some(as_bool(&item).ok_or_else(invalid)?),
                "auth-token" => out.auth_token = as_bool(&item).ok_or_else(invalid)?,
                "resource_token" => out.resource_token = Some(as_text(item).ok_or_else(invalid)?),
                "auth_server" => out.auth_server = Some(as_text(item).ok_or_else(invalid)?),
                "user_interaction" => {
                    out.user_interaction = Some(as_text(item).ok_or_else(invalid)?);
                }
                "algs" => out.algs = alloc::vec![as_text(item).ok_or_else(invalid)?],
                _ => {}
            }
        }
    }

    /// Builds the field value exactly as the reference does (digest §2.2, `vectors.json`
    /// `hdr-agent-auth`): present parts only, joined with `"; "`.
    ///
    /// ```
    /// use aauth_core::agent_auth::AgentAuth;
    /// assert_eq!(AgentAuth::pseudonymous().to_header().unwrap(), "httpsig");
    /// assert_eq!(AgentAuth::identity().to_header().unwrap(), "httpsig; identity=?1");
    /// ```
    ///
    /// # Errors
    /// [`AgentAuthError::Unrepresentable`] when a string is not printable ASCII.
    pub fn to_header(&self) -> Result<String, AgentAuthError> {
        let mut out = String::from("httpsig");
        match self.identity {
            Some(true) => out.push_str("; identity=?1"),
            Some(false) => out.push_str("; identity=?0"),
            None => {}
        }
        if self.auth_token {
            out.push_str("; auth-token");
        }
        for (name, v) in [
            ("resource_token", &self.resource_token),
            ("auth_server", &self.auth_server),
            ("user_interaction", &self.user_interaction),
        ] {
            if let Some(v) = v {
                out.push_str("; ");
                out.push_str(name);
                out.push('=');
                sf::write_string(&mut out, v).map_err(|_| AgentAuthError::Unrepresentable(name))?;
            }
        }
        if !self.algs.is_empty() {
            out.push_str("; algs=(");
            for (i, a) in self.algs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sf::write_string(&mut out, a)
                    .map_err(|_| AgentAuthError::Unrepresentable("algs"))?;
            }
            out.push(')');
        }
        Ok(out)
    }
}

/// `"(" *SP [ item *(1*SP item) *SP ] ")"` (RFC 8941 §4.2.1.2, without item parameters);
/// entries that are not strings or tokens are `None`.
fn inner_list(p: &mut Parser<'_>) -> Result<Vec<Option<String>>, AgentAuthError> {
    const E: AgentAuthError = AgentAuthError::Malformed;
    if !p.eat(b'(') {
        return Err(E);
    }
    let mut list = Vec::new();
    loop {
        p.skip_sp();
        if p.eat(b')') {
            return Ok(list);
        }
        let item = p.bare_item().map_err(|_| E)?;
        list.push(as_text(item));
        if list.len() > MAX_ALGS {
            return Err(E);
        }
        if !matches!(p.peek(), Some(b' ' | b')')) {
            return Err(E);
        }
    }
}

fn as_bool(item: &BareItem<'_>) -> Option<bool> {
    match item {
        BareItem::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn as_text(item: BareItem<'_>) -> Option<String> {
    match item {
        BareItem::String(s) => Some(s),
        BareItem::Token(t) => Some(String::from(t)),
        _ => None,
    }
}

fn static_name(key: &str) -> &'static str {
    [
        "identity",
        "auth-token",
        "resource_token",
        "auth_server",
        "user_interaction",
        "algs",
    ]
    .into_iter()
    .find(|n| *n == key)
    .unwrap_or("parameter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_params_round_trip() {
        let v = r#"httpsig; identity=?1; auth-token; resource_token="RT"; auth_server="http://127.0.0.1:8003"; user_interaction="http://127.0.0.1:8003/interact"; algs=("ed25519" "rsa-pss-sha512")"#;
        let a = AgentAuth::parse(v).unwrap();
        assert_eq!(a.identity, Some(true));
        assert!(a.auth_token);
        assert_eq!(a.resource_token.as_deref(), Some("RT"));
        assert_eq!(
            a.user_interaction.as_deref(),
            Some("http://127.0.0.1:8003/interact")
        );
        assert_eq!(a.algs, ["ed25519", "rsa-pss-sha512"]);
        assert_eq!(a.to_header().unwrap(), v);
    }

    #[test]
    fn lenient_forms() {
        let a = AgentAuth::parse(
            r#"  httpsig;identity=?0;auth-token;resource_token="a\"b\\c";x-future=1;algs=( ed25519 )"#,
        )
        .unwrap();
        assert_eq!(a.identity, Some(false));
        assert!(a.auth_token);
        assert_eq!(a.resource_token.as_deref(), Some("a\"b\\c"));
        assert_eq!(a.algs, ["ed25519"]);
        assert_eq!(
            a.to_header().unwrap(),
            r#"httpsig; identity=?0; auth-token; resource_token="a\"b\\c"; algs=("ed25519")"#
        );
        assert_eq!(
            AgentAuth::parse("httpsig; identity").unwrap().identity,
            Some(true)
        );
        assert_eq!(
            AgentAuth::parse("httpsig; x=(1 2); y").unwrap(),
            AgentAuth::default()
        );
    }

    #[test]
    fn rejections() {
        use AgentAuthError as E;
        assert_eq!(AgentAuth::parse(""), Err(E::MissingHttpsig));
        assert_eq!(AgentAuth::parse("identity=?1"), Err(E::MissingHttpsig));
        assert_eq!(AgentAuth::parse("httpsigx"), Err(E::MissingHttpsig));
        assert_eq!(AgentAuth::parse(r#""httpsig""#), Err(E::MissingHttpsig));
        assert_eq!(
            AgentAuth::parse("httpsig; identity=1"),
            Err(E::InvalidParameter("identity"))
        );
        assert_eq!(
            AgentAuth::parse("httpsig; auth_server=?1"),
            Err(E::InvalidParameter("auth_server"))
        );
        assert_eq!(
            AgentAuth::parse("httpsig; resource_token"),
            Err(E::InvalidParameter("resource_token"))
        );
        assert_eq!(
            AgentAuth::parse("httpsig; algs=(1)"),
            Err(E::InvalidParameter("algs"))
        );
        for bad in [
            "httpsig;",
            "httpsig; ",
            "httpsig identity=?1",
            "httpsig; algs=(\"a\"",
            "httpsig; algs=(\"a\"\"b\")",
            "httpsig; a=\"x",
            "httpsig, other",
            "httpsig; Identity=?1",
        ] {
            assert!(AgentAuth::parse(bad).is_err(), "{bad}");
        }
        let long = alloc::format!("httpsig; resource_token=\"{}\"", "x".repeat(MAX_HEADER_LEN));
        assert_eq!(AgentAuth::parse(&long), Err(E::TooLong));
        let mut a = AgentAuth::pseudonymous();
        a.auth_server = Some("é".into());
        assert_eq!(a.to_header(), Err(E::Unrepresentable("auth_server")));
        assert_eq!(E::Malformed.code(), ErrorCode::InvalidRequest);
    }
}
