//! What a recipient expects of a token, applied at the caller's `now`.

use super::{RegisteredClaims, TokenErrorKind};
use crate::time::UnixTime;

/// The largest leeway [`Validation::with_leeway`] accepts, in seconds: the same 60 s
/// window the protocol allows for `created` (digest §5.1 L-09).
pub const MAX_LEEWAY: u64 = 60;

/// Which issuers a recipient accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Issuers<'a> {
    /// Any issuer. Right only when the key was found from the token's own `iss` (an agent
    /// token checked against the JWKS of the agent server it names, L§5.7); an auth token
    /// must come from a trusted auth server (L§7.7).
    Any,
    /// Exactly this issuer.
    One(&'a str),
    /// Any issuer of this set.
    OneOf(&'a [&'a str]),
}

impl Issuers<'_> {
    fn accepts(&self, iss: &str) -> bool {
        match self {
            Self::Any => true,
            Self::One(one) => *one == iss,
            Self::OneOf(set) => set.contains(&iss),
        }
    }
}

/// The expectations a token is checked against.
///
/// The token type (`typ`) comes from the claims type passed to
/// [`UnverifiedToken::verify`](super::UnverifiedToken::verify); this value holds the rest:
/// accepted issuers, the recipient's own identifier as audience, and a clock leeway.
///
/// - `exp` is required and `now < exp + leeway` (L§5.7, RFC 7519 §4.1.4).
/// - `nbf`, if present: `nbf <= now + leeway`; `iat`, if present: `iat <= now + leeway`.
/// - With an expected audience, a token that carries `aud` must contain it. Resource and
///   auth tokens always carry `aud`; an agent token's `aud` is optional and only checked
///   when present (L§5.7 step 11).
///
/// ```
/// use aauth_core::token::Validation;
/// let v = Validation::issuers(&["https://auth.example", "https://sso.example"])
///     .with_audience("https://resource.example")
///     .with_leeway(30);
/// assert_eq!(v.leeway(), 30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation<'a> {
    issuers: Issuers<'a>,
    audience: Option<&'a str>,
    leeway: u64,
}

impl<'a> Validation<'a> {
    /// Accepts tokens from any issuer (see [`Issuers::Any`] for when that is right).
    pub const fn any_issuer() -> Self {
        Self::with_issuers(Issuers::Any)
    }

    /// Accepts tokens from exactly `iss`.
    pub const fn issuer(iss: &'a str) -> Self {
        Self::with_issuers(Issuers::One(iss))
    }

    /// Accepts tokens from any issuer in `set` (e.g. the trusted auth servers, L§7.7).
    pub const fn issuers(set: &'a [&'a str]) -> Self {
        Self::with_issuers(Issuers::OneOf(set))
    }

    /// Accepts tokens from `issuers`, with no audience expectation and no leeway.
    pub const fn with_issuers(issuers: Issuers<'a>) -> Self {
        Self {
            issuers,
            audience: None,
            leeway: 0,
        }
    }

    /// Requires `aud` to contain `aud` (the recipient's own identifier).
    #[must_use]
    pub const fn with_audience(mut self, aud: &'a str) -> Self {
        self.audience = Some(aud);
        self
    }

    /// Allows `secs` seconds of clock skew on `exp`, `nbf` and `iat`, capped at
    /// [`MAX_LEEWAY`]. The default is 0.
    #[must_use]
    pub const fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = if secs > MAX_LEEWAY { MAX_LEEWAY } else { secs };
        self
    }

    /// The accepted issuers.
    pub const fn accepted_issuers(&self) -> Issuers<'a> {
        self.issuers
    }

    /// The expected audience, if any.
    pub const fn audience(&self) -> Option<&'a str> {
        self.audience
    }

    /// The leeway in seconds.
    pub const fn leeway(&self) -> u64 {
        self.leeway
    }

    pub(super) fn check_registered(
        &self,
        c: &RegisteredClaims<'_>,
        now: UnixTime,
    ) -> Result<(), TokenErrorKind> {
        let now_s = now.as_secs();
        if now_s >= c.exp.saturating_add(self.leeway) {
            return Err(TokenErrorKind::Expired {
                now,
                exp: UnixTime::from_secs(c.exp),
            });
        }
        let latest = now_s.saturating_add(self.leeway);
        if let Some(nbf) = c.nbf
            && nbf > latest
        {
            return Err(TokenErrorKind::NotYetValid {
                now,
                nbf: UnixTime::from_secs(nbf),
            });
        }
        if let Some(iat) = c.iat
            && iat > latest
        {
            return Err(TokenErrorKind::IssuedInFuture {
                now,
                iat: UnixTime::from_secs(iat),
            });
        }
        if !self.issuers.accepts(c.iss) {
            return Err(TokenErrorKind::IssuerNotAccepted);
        }
        if let (Some(expected), Some(aud)) = (self.audience, c.aud)
            && !aud.contains(expected)
        {
            return Err(TokenErrorKind::AudienceMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Audience;
    use super::*;

    fn claims<'a>(aud: Option<&'a Audience>) -> RegisteredClaims<'a> {
        RegisteredClaims {
            iss: "https://auth.example",
            aud,
            exp: 100,
            nbf: Some(50),
            iat: Some(50),
        }
    }

    #[test]
    fn time_bounds() {
        let v = Validation::any_issuer();
        let c = claims(None);
        assert!(v.check_registered(&c, UnixTime::from_secs(50)).is_ok());
        assert!(v.check_registered(&c, UnixTime::from_secs(99)).is_ok());
        assert!(matches!(
            v.check_registered(&c, UnixTime::from_secs(100)),
            Err(TokenErrorKind::Expired { .. })
        ));
        assert_eq!(
            v.check_registered(&c, UnixTime::from_secs(49)),
            Err(TokenErrorKind::NotYetValid {
                now: UnixTime::from_secs(49),
                nbf: UnixTime::from_secs(50)
            })
        );
        let c = RegisteredClaims { nbf: None, ..c };
        assert!(matches!(
            v.check_registered(&c, UnixTime::from_secs(49)),
            Err(TokenErrorKind::IssuedInFuture { .. })
        ));
        assert!(
            v.with_leeway(1)
                .check_registered(&c, UnixTime::from_secs(49))
                .is_ok()
        );
        assert_eq!(v.with_leeway(3600).leeway(), MAX_LEEWAY);
    }

    #[test]
    fn issuer_and_audience() {
        let aud = Audience::Many(alloc::vec!["https://r1".into(), "https://r2".into()]);
        let c = claims(Some(&aud));
        let now = UnixTime::from_secs(60);
        assert!(
            Validation::issuer("https://auth.example")
                .check_registered(&c, now)
                .is_ok()
        );
        assert_eq!(
            Validation::issuer("https://other.example").check_registered(&c, now),
            Err(TokenErrorKind::IssuerNotAccepted)
        );
        let set = ["https://x", "https://auth.example"];
        assert!(
            Validation::issuers(&set)
                .with_audience("https://r2")
                .check_registered(&c, now)
                .is_ok()
        );
        assert_eq!(
            Validation::issuers(&set)
                .with_audience("https://r3")
                .check_registered(&c, now),
            Err(TokenErrorKind::AudienceMismatch)
        );
    }
}
