//! `auth+jwt` (L§7): an auth server grants an agent access to a resource.

use alloc::boxed::Box;
use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::{
    Audience, Claims, Cnf, RegisteredClaims, TokenError, TokenErrorKind, TokenType, Validation,
};
use crate::crypto::Signer;
use crate::jwk::Jwk;
use crate::time::UnixTime;

/// The claims of an auth token (L§7.3).
///
/// Serialized in the reference order `iss, aud, cnf, scope, exp, agent, sub,
/// agent_delegate, act`, then our optional `iat, nbf, jti` and the OIDC claims `name,
/// email, email_verified`; absent members are omitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthClaims {
    /// The auth server.
    pub iss: String,
    /// The resource the token is for (or the agent itself when it is the resource).
    pub aud: Audience,
    /// The key the agent must sign its requests with.
    pub cnf: Cnf,
    /// Space-separated granted scopes (identity scopes excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// The agent identifier; REQUIRED unless `aud` is the agent (L§7.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The user, when one consented; REQUIRED if `openid` was granted (L§7.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The agent delegate (the agent token's `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_delegate: Option<String>,
    /// The delegation chain after a token exchange (L§9.10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Issued-at, seconds since the epoch (L§9.10 requires it on exchanged tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not-before, seconds since the epoch (L§9.10 requires it on exchanged tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// OIDC `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// OIDC `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// OIDC `email_verified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// One link of the `act` chain (L§9.10, after RFC 8693 §4.1): who acted before the
/// current agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The upstream agent (REQUIRED, L§9.10).
    pub agent: String,
    /// The upstream agent delegate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_delegate: Option<String>,
    /// The upstream user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The actor before that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Self>>,
}

impl Actor {
    /// An actor naming the upstream `agent`.
    pub fn new(agent: impl Into<String>) -> Self {
        Self {
            agent: agent.into(),
            agent_delegate: None,
            sub: None,
            act: None,
        }
    }

    /// Sets `agent_delegate`.
    #[must_use]
    pub fn with_agent_delegate(mut self, d: impl Into<String>) -> Self {
        self.agent_delegate = Some(d.into());
        self
    }

    /// Sets `sub`.
    #[must_use]
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Sets the previous actor.
    #[must_use]
    pub fn with_act(mut self, act: Self) -> Self {
        self.act = Some(Box::new(act));
        self
    }
}

impl AuthClaims {
    /// An auth token from `iss` for audience `aud`, bound to `cnf_jwk`. Add `agent`
    /// ([`AuthClaims::with_agent`]) unless the agent is the audience.
    pub fn new(
        iss: impl Into<String>,
        aud: impl Into<Audience>,
        cnf_jwk: Jwk,
        exp: UnixTime,
    ) -> Self {
        Self {
            iss: iss.into(),
            aud: aud.into(),
            cnf: Cnf::new(cnf_jwk),
            scope: None,
            exp: exp.as_secs(),
            agent: None,
            sub: None,
            agent_delegate: None,
            act: None,
            iat: None,
            nbf: None,
            jti: None,
            name: None,
            email: None,
            email_verified: None,
        }
    }

    /// Sets `scope`.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets `agent`.
    #[must_use]
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Sets `sub`.
    #[must_use]
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Sets `agent_delegate`.
    #[must_use]
    pub fn with_agent_delegate(mut self, d: impl Into<String>) -> Self {
        self.agent_delegate = Some(d.into());
        self
    }

    /// Sets `act`.
    #[must_use]
    pub fn with_act(mut self, act: Actor) -> Self {
        self.act = Some(act);
        self
    }

    /// Sets the OIDC `name`, `email` and `email_verified` claims.
    #[must_use]
    pub fn with_profile(
        mut self,
        name: Option<String>,
        email: Option<String>,
        email_verified: Option<bool>,
    ) -> Self {
        self.name = name;
        self.email = email;
        self.email_verified = email_verified;
        self
    }

    /// The agent the token was issued to: the `agent` claim, or the single audience when
    /// the claim is omitted because the agent is the audience (L§7.3). Compare it with the
    /// identity proven by the HTTP signature.
    pub fn effective_agent(&self) -> Option<&str> {
        self.agent.as_deref().or_else(|| self.aud.single())
    }
}

super::common_builders!(AuthClaims);

impl Claims for AuthClaims {
    const TYPE: TokenType = TokenType::Auth;

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
        // L§7.3 (digest §5.1 L-20): `agent` is REQUIRED unless `aud` is the agent
        // identifier. Without `agent` the token can only name its agent through a single
        // audience; the caller compares `effective_agent()` with the signer.
        if self.agent.is_none() && self.aud.single().is_none() {
            return Err(TokenErrorKind::MissingClaim("agent"));
        }
        // L§7.4: `sub` is REQUIRED if the openid scope was granted.
        let openid = self
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
        if openid && self.sub.is_none() {
            return Err(TokenErrorKind::MissingClaim("sub"));
        }
        if self.cnf.jwk.has_private_members() {
            return Err(TokenErrorKind::InvalidClaim("cnf"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk() -> Jwk {
        Jwk::ed25519(&[3; 32], Some("key-1".into()))
    }

    #[test]
    fn member_order_with_nested_act() {
        let c = AuthClaims::new("i", "a", jwk(), UnixTime::from_secs(1))
            .with_scope("s")
            .with_agent("g")
            .with_sub("u")
            .with_agent_delegate("d")
            .with_act(
                Actor::new("g0")
                    .with_sub("u")
                    .with_act(Actor::new("g1").with_agent_delegate("d1")),
            )
            .with_iat(UnixTime::from_secs(0))
            .with_profile(Some("N".into()), None, Some(true));
        let json = serde_json::to_string(&c).unwrap();
        let tail = r#""scope":"s","exp":1,"agent":"g","sub":"u","agent_delegate":"d","act":{"agent":"g0","sub":"u","act":{"agent":"g1","agent_delegate":"d1"}},"iat":0,"name":"N","email_verified":true}"#;
        assert!(
            json.starts_with(r#"{"iss":"i","aud":"a","cnf":{"jwk":{"#),
            "{json}"
        );
        assert!(json.ends_with(tail), "{json}");
    }

    #[test]
    fn agent_required_unless_aud_is_the_agent() {
        let v = Validation::any_issuer();
        let c = AuthClaims::new("i", "https://agent", jwk(), UnixTime::from_secs(1));
        assert_eq!(c.check(&v), Ok(()));
        assert_eq!(c.effective_agent(), Some("https://agent"));
        let many = AuthClaims::new(
            "i",
            Audience::Many(alloc::vec!["a".into(), "b".into()]),
            jwk(),
            UnixTime::from_secs(1),
        );
        assert_eq!(many.check(&v), Err(TokenErrorKind::MissingClaim("agent")));
        assert_eq!(many.with_agent("g").check(&v), Ok(()));
    }

    #[test]
    fn openid_needs_sub() {
        let v = Validation::any_issuer();
        let c = AuthClaims::new("i", "a", jwk(), UnixTime::from_secs(1))
            .with_agent("g")
            .with_scope("openid email");
        assert_eq!(c.check(&v), Err(TokenErrorKind::MissingClaim("sub")));
        assert_eq!(c.with_sub("u").check(&v), Ok(()));
    }
}
