//! `agent+jwt` (L§5): an agent server vouches for one delegate and its key.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::{
    Audience, Claims, Cnf, RegisteredClaims, TokenError, TokenErrorKind, TokenType, Validation,
};
use crate::crypto::Signer;
use crate::jwk::Jwk;
use crate::time::UnixTime;

/// The claims of an agent token (L§5.3).
///
/// Serialized in the reference order `iss, sub, exp, cnf, aud`, then our optional
/// `iat, nbf, jti` (omitted when `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentClaims {
    /// The agent server, which is the agent identifier.
    pub iss: String,
    /// The agent delegate: stable across restarts and key rotations (L§5.3).
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// The delegate's signing key.
    pub cnf: Cnf,
    /// Who may accept the token; when present the recipient must be in it (L§5.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
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

impl AgentClaims {
    /// An agent token for delegate `sub` of agent server `iss`, bound to `cnf_jwk`.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        cnf_jwk: Jwk,
        exp: UnixTime,
    ) -> Self {
        Self {
            iss: iss.into(),
            sub: sub.into(),
            exp: exp.as_secs(),
            cnf: Cnf::new(cnf_jwk),
            aud: None,
            iat: None,
            nbf: None,
            jti: None,
        }
    }

    /// Restricts the token to `aud`.
    #[must_use]
    pub fn with_audience(mut self, aud: impl Into<Audience>) -> Self {
        self.aud = Some(aud.into());
        self
    }
}

super::common_builders!(AgentClaims);

impl Claims for AgentClaims {
    const TYPE: TokenType = TokenType::Agent;

    fn registered(&self) -> RegisteredClaims<'_> {
        RegisteredClaims {
            iss: &self.iss,
            aud: self.aud.as_ref(),
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
        }
    }

    fn check(&self, _: &Validation<'_>) -> Result<(), TokenErrorKind> {
        // L§5.7: `sub` present (non-empty: an empty delegate id names no one).
        if self.sub.is_empty() {
            return Err(TokenErrorKind::MissingClaim("sub"));
        }
        // The cnf key is what the HTTP signature will be checked with (L§10.7); a JWK with
        // private members is never a usable confirmation key.
        if self.cnf.jwk.has_private_members() {
            return Err(TokenErrorKind::InvalidClaim("cnf"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use crate::token::UnverifiedToken;

    #[test]
    fn member_order_and_optional_aud() {
        let c = AgentClaims::new(
            "https://a",
            "d",
            Jwk::ed25519(&[3; 32], None),
            UnixTime::from_secs(9),
        )
        .with_audience("https://r")
        .with_jti("j");
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.starts_with(r#"{"iss":"https://a","sub":"d","exp":9,"cnf":{"jwk":{"kty":"OKP""#)
        );
        assert!(json.ends_with(r#"}},"aud":"https://r","jti":"j"}"#));
    }

    #[test]
    fn aud_checked_only_when_present() {
        let key = SigningKey::from_seed(&[1; 32]).with_kid("k");
        let now = UnixTime::from_secs(1);
        let base = AgentClaims::new(
            "https://a",
            "d",
            Jwk::ed25519(&[3; 32], None),
            UnixTime::from_secs(9),
        );
        let v = Validation::issuer("https://a").with_audience("https://r");
        let no_aud = base.sign(&key).unwrap();
        let t = UnverifiedToken::parse(&no_aud).unwrap();
        assert!(t.verify::<AgentClaims>(&key.public_key(), &v, now).is_ok());
        let other = base.with_audience("https://elsewhere").sign(&key).unwrap();
        let t = UnverifiedToken::parse(&other).unwrap();
        let e = t
            .verify::<AgentClaims>(&key.public_key(), &v, now)
            .unwrap_err();
        assert_eq!(e.kind(), TokenErrorKind::AudienceMismatch);
    }

    #[test]
    fn empty_sub_is_refused() {
        let c = AgentClaims::new(
            "https://a",
            "",
            Jwk::ed25519(&[3; 32], None),
            UnixTime::from_secs(9),
        );
        assert_eq!(
            c.check(&Validation::any_issuer()),
            Err(TokenErrorKind::MissingClaim("sub"))
        );
    }
}
