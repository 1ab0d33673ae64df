//! `resource+jwt` (L§6): a resource asks an auth server to authorize an agent.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::{
    Audience, Claims, RegisteredClaims, TokenError, TokenErrorKind, TokenType, Validation,
};
use crate::crypto::Signer;
use crate::time::UnixTime;

/// The claims of a resource token (L§6.3).
///
/// Serialized in the reference order `iss, aud, agent, agent_jkt, scope | auth_request_url,
/// exp`, then our optional `iat, nbf, jti`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceClaims {
    /// The resource.
    pub iss: String,
    /// The auth server the resource sends the agent to.
    pub aud: Audience,
    /// The agent identifier the request came from.
    pub agent: String,
    /// RFC 7638 thumbprint of the agent's current signing key (digest §2.6).
    pub agent_jkt: String,
    /// Space-separated scopes requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// URL of an Auth Request Document, instead of `scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_request_url: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued-at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not-before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl ResourceClaims {
    /// A resource token requesting `scope` (space-separated).
    pub fn with_scope(
        iss: impl Into<String>,
        aud: impl Into<String>,
        agent: impl Into<String>,
        agent_jkt: impl Into<String>,
        scope: impl Into<String>,
        exp: UnixTime,
    ) -> Self {
        Self::base(iss.into(), aud.into(), agent.into(), agent_jkt.into(), exp)
            .scope(Some(scope.into()), None)
    }

    /// A resource token pointing at an Auth Request Document.
    pub fn with_auth_request_url(
        iss: impl Into<String>,
        aud: impl Into<String>,
        agent: impl Into<String>,
        agent_jkt: impl Into<String>,
        auth_request_url: impl Into<String>,
        exp: UnixTime,
    ) -> Self {
        Self::base(iss.into(), aud.into(), agent.into(), agent_jkt.into(), exp)
            .scope(None, Some(auth_request_url.into()))
    }

    fn base(iss: String, aud: String, agent: String, agent_jkt: String, exp: UnixTime) -> Self {
        Self {
            iss,
            aud: Audience::One(aud),
            agent,
            agent_jkt,
            scope: None,
            auth_request_url: None,
            exp: exp.as_secs(),
            iat: None,
            nbf: None,
            jti: None,
        }
    }

    fn scope(mut self, scope: Option<String>, url: Option<String>) -> Self {
        self.scope = scope;
        self.auth_request_url = url;
        self
    }
}

super::common_builders!(ResourceClaims);

impl Claims for ResourceClaims {
    const TYPE: TokenType = TokenType::Resource;

    fn registered(&self) -> RegisteredClaims<'_> {
        RegisteredClaims {
            iss: &self.iss,
            aud: Some(&self.aud),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
        }
    }

    fn check(&self, _: &Validation<'_>) -> Result<(), TokenErrorKind> {
        // L§6.3 / §9.4: exactly one of `scope` and `auth_request_url`.
        match (&self.scope, &self.auth_request_url) {
            (Some(_), None) | (None, Some(_)) => {}
            (None, None) => return Err(TokenErrorKind::MissingClaim("scope")),
            (Some(_), Some(_)) => return Err(TokenErrorKind::InvalidClaim("auth_request_url")),
        }
        if self.agent.is_empty() {
            return Err(TokenErrorKind::MissingClaim("agent"));
        }
        if self.agent_jkt.is_empty() {
            return Err(TokenErrorKind::MissingClaim("agent_jkt"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validation<'static> {
        Validation::any_issuer()
    }

    #[test]
    fn exactly_one_of_scope_and_auth_request_url() {
        let t = UnixTime::from_secs(9);
        let mut c =
            ResourceClaims::with_scope("https://r", "https://as", "https://a", "jkt", "s", t);
        assert_eq!(c.check(&v()), Ok(()));
        c.auth_request_url = Some("https://r/req".into());
        assert_eq!(
            c.check(&v()),
            Err(TokenErrorKind::InvalidClaim("auth_request_url"))
        );
        c.scope = None;
        assert_eq!(c.check(&v()), Ok(()));
        c.auth_request_url = None;
        assert_eq!(c.check(&v()), Err(TokenErrorKind::MissingClaim("scope")));
    }

    #[test]
    fn member_order() {
        let c =
            ResourceClaims::with_auth_request_url("i", "a", "g", "j", "u", UnixTime::from_secs(1))
                .with_iat(UnixTime::from_secs(0));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"iss":"i","aud":"a","agent":"g","agent_jkt":"j","auth_request_url":"u","exp":1,"iat":0}"#
        );
    }
}
