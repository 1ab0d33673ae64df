//! The three AAuth tokens (digest §2.5): `agent+jwt`, `resource+jwt` and `auth+jwt`.
//!
//! Verification is a typestate: [`UnverifiedToken::parse`] gives access to the header and
//! the (untrusted) `iss`, which tell the host which JWKS to fetch and which key to take;
//! [`UnverifiedToken::verify`] checks the `typ`, the signature and the claims against a
//! [`Validation`] at the caller's `now`, and only then hands out a [`Verified`] proof. The
//! proof's constructor is crate-private, so holding a `Verified<AuthClaims>` means the core
//! checked it.
//!
//! Issuing serializes the claims in the member order of the Python reference (reference
//! notes §6), so the same inputs give the same bytes.
//!
//! ```
//! use aauth_core::token::{AgentClaims, UnverifiedToken, Validation};
//! use aauth_core::{Jwk, SigningKey, UnixTime};
//!
//! let server = SigningKey::from_seed(&[1; 32]).with_kid("key-1");
//! let delegate = SigningKey::from_seed(&[2; 32]);
//! let now = UnixTime::from_secs(1_768_785_919);
//!
//! // The agent server issues a token for its delegate.
//! let claims = AgentClaims::new(
//!     "https://agent.example",
//!     "delegate-1",
//!     Jwk::ed25519(&delegate.public_bytes(), None),
//!     now.saturating_add(3600),
//! );
//! let jwt = claims.sign(&server).unwrap();
//! assert_eq!(jwt.len(), 366);
//!
//! // A resource receives it: read `iss`/`kid` to find the key, then verify.
//! let token = UnverifiedToken::parse(&jwt).unwrap();
//! assert_eq!(token.iss(), Some("https://agent.example"));
//! assert_eq!(token.kid(), Some("key-1"));
//! let validation = Validation::issuer("https://agent.example");
//! let verified = token.verify::<AgentClaims>(&server.public_key(), &validation, now).unwrap();
//! assert_eq!(verified.sub, "delegate-1");
//! ```

/// The builders every claims type shares: the optional registered claims and signing.
macro_rules! common_builders {
    ($claims:ty) => {
        impl $claims {
            /// Sets `iat`.
            #[must_use]
            pub fn with_iat(mut self, iat: UnixTime) -> Self {
                self.iat = Some(iat.as_secs());
                self
            }

            /// Sets `nbf`.
            #[must_use]
            pub fn with_nbf(mut self, nbf: UnixTime) -> Self {
                self.nbf = Some(nbf.as_secs());
                self
            }

            /// Sets `jti` (the caller supplies the randomness).
            #[must_use]
            pub fn with_jti(mut self, jti: impl Into<String>) -> Self {
                self.jti = Some(jti.into());
                self
            }

            /// Signs the token with `signer`, whose `kid` goes into the header.
            ///
            /// # Errors
            /// See [`sign`](super::sign).
            pub fn sign(&self, signer: &dyn Signer) -> Result<String, TokenError> {
                super::sign(self, signer.kid().as_deref(), signer)
            }
        }
    };
}
pub(crate) use common_builders;

mod agent;
mod auth;
mod resource;
mod validate;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use agent::AgentClaims;
pub use auth::{Actor, AuthClaims};
pub use resource::ResourceClaims;
pub use validate::{Issuers, MAX_LEEWAY, Validation};

use crate::crypto::{Alg, PublicKey, SignatureCheck, Signer, VerifyError};
use crate::error::{ErrorCode, ProtocolError};
use crate::jwk::Jwk;
use crate::jws::{self, JwsError, JwsHeader, UnverifiedJws};
use crate::time::UnixTime;

/// The kind of an AAuth token, named by the JWS `typ` header (digest §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `agent+jwt`: an agent server vouches for a delegate's key (L§5).
    Agent,
    /// `auth+jwt`: an auth server grants an agent access to a resource (L§7).
    Auth,
    /// `resource+jwt`: a resource asks an auth server to authorize an agent (L§6).
    Resource,
}

impl TokenType {
    /// The `typ` header value.
    pub const fn as_typ(self) -> &'static str {
        match self {
            Self::Agent => "agent+jwt",
            Self::Auth => "auth+jwt",
            Self::Resource => "resource+jwt",
        }
    }

    /// The token type named by a `typ` value. Matching is exact: the reference writes and
    /// compares these spellings verbatim.
    pub fn from_typ(typ: &str) -> Option<Self> {
        Some(match typ {
            "agent+jwt" => Self::Agent,
            "auth+jwt" => Self::Auth,
            "resource+jwt" => Self::Resource,
            _ => return None,
        })
    }

    /// The error code reported when a token of this type fails validation.
    pub const fn error_code(self) -> ErrorCode {
        match self {
            Self::Agent => ErrorCode::InvalidAgentToken,
            Self::Auth => ErrorCode::InvalidAuthToken,
            Self::Resource => ErrorCode::InvalidResourceToken,
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_typ())
    }
}

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3). A single audience is
/// written as a string, as the reference does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience, serialized as a JSON string.
    One(String),
    /// Several audiences, serialized as a JSON array.
    Many(Vec<String>),
}

impl Audience {
    /// True when `aud` is (one of) the audience(s).
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(all) => all.iter().any(|a| a == aud),
        }
    }

    /// The audience when there is exactly one.
    pub fn single(&self) -> Option<&str> {
        match self {
            Self::One(a) => Some(a),
            Self::Many(all) => match all.as_slice() {
                [a] => Some(a),
                _ => None,
            },
        }
    }
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Self::One(aud.into())
    }
}

impl From<String> for Audience {
    fn from(aud: String) -> Self {
        Self::One(aud)
    }
}

/// The confirmation claim (RFC 7800 §3.2): the key the presenter must sign requests with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cnf {
    /// The public key. Kept as found (including `kid`), so a `cnf.jwk` copied from a
    /// JWKS is reproduced byte for byte (digest §2.11 D7).
    pub jwk: Jwk,
}

impl Cnf {
    /// A confirmation by `jwk`.
    pub fn new(jwk: Jwk) -> Self {
        Self { jwk }
    }
}

/// The registered claims every token type is checked against (RFC 7519 §4.1).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RegisteredClaims<'a> {
    /// `iss`.
    pub iss: &'a str,
    /// `aud`, when present.
    pub aud: Option<&'a Audience>,
    /// `exp` (required in every AAuth token).
    pub exp: u64,
    /// `nbf`, when present.
    pub nbf: Option<u64>,
    /// `iat`, when present.
    pub iat: Option<u64>,
}

/// A claims set of one token type. Implemented by [`AgentClaims`], [`ResourceClaims`] and
/// [`AuthClaims`].
pub trait Claims: Serialize + DeserializeOwned {
    /// The token type, i.e. the `typ` header the claims travel under.
    const TYPE: TokenType;

    /// The registered claims, for the checks common to all tokens.
    fn registered(&self) -> RegisteredClaims<'_>;

    /// The rules specific to this token type (e.g. "exactly one of `scope` and
    /// `auth_request_url`"), run after the common checks.
    ///
    /// # Errors
    /// The [`TokenErrorKind`] of the first rule that fails.
    fn check(&self, validation: &Validation<'_>) -> Result<(), TokenErrorKind>;
}

/// Serializes `claims` (reference member order, ASCII-escaped like Python's `json.dumps`)
/// and signs them under the claims' `typ`.
///
/// # Errors
/// [`TokenErrorKind::MalformedClaims`] if the claims cannot be serialized (they always can).
pub fn sign<C: Claims>(
    claims: &C,
    kid: Option<&str>,
    signer: &dyn Signer,
) -> Result<String, TokenError> {
    let json = serde_json::to_string(claims)
        .map_err(|_| TokenError::new(Some(C::TYPE), TokenErrorKind::MalformedClaims))?;
    let json = jws::ascii_json(&json);
    Ok(jws::sign_compact(
        Some(C::TYPE.as_typ()),
        kid,
        json.as_bytes(),
        signer,
    ))
}

/// The only claim read before verification: who claims to have issued the token.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    iss: Option<String>,
}

/// A parsed token whose signature and claims have not been checked.
///
/// Everything it reports is attacker-controlled: use `iss` and `kid` only to find the key
/// (digest §2.5: the recipient fetches the issuer's JWKS and matches `kid`), then call
/// [`UnverifiedToken::verify`].
#[derive(Clone, Debug)]
pub struct UnverifiedToken<'a> {
    jws: UnverifiedJws<'a>,
    iss: Option<String>,
}

impl<'a> UnverifiedToken<'a> {
    /// Parses a compact JWS token and peeks at its `iss`.
    ///
    /// # Errors
    /// [`TokenError`] with [`TokenErrorKind::Jws`] when the JWS is malformed, or
    /// [`TokenErrorKind::MalformedClaims`] when the payload is not a JSON object with a
    /// string `iss` (if any). The code is [`ErrorCode::InvalidToken`] unless the header
    /// names a known `typ`.
    pub fn parse(compact: &'a str) -> Result<Self, TokenError> {
        let jws = UnverifiedJws::parse(compact)
            .map_err(|e| TokenError::new(None, TokenErrorKind::Jws(e)))?;
        let typ = jws.header().typ().and_then(TokenType::from_typ);
        if jws.payload().iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(TokenError::new(typ, TokenErrorKind::MalformedClaims));
        }
        let peek: Peek = serde_json::from_slice(jws.payload())
            .map_err(|_| TokenError::new(typ, TokenErrorKind::MalformedClaims))?;
        Ok(Self { jws, iss: peek.iss })
    }

    /// The JWS header.
    pub fn header(&self) -> &JwsHeader {
        self.jws.header()
    }

    /// The `typ` header, e.g. `auth+jwt`.
    pub fn typ(&self) -> Option<&str> {
        self.jws.header().typ()
    }

    /// The token type named by `typ`, if it is one of the three AAuth types.
    pub fn token_type(&self) -> Option<TokenType> {
        self.typ().and_then(TokenType::from_typ)
    }

    /// The `kid` header.
    pub fn kid(&self) -> Option<&str> {
        self.jws.header().kid()
    }

    /// The `alg` header.
    pub fn alg(&self) -> Alg {
        self.jws.header().alg()
    }

    /// The unverified `iss` claim: whose JWKS to fetch.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// Verifies the token as a `C` token: `typ` must be `C::TYPE` and a `kid` must be
    /// present (L§5.2, §6.2, §7.2), the signature must verify with `key`, and the claims
    /// must satisfy `validation` at `now`.
    ///
    /// # Errors
    /// A [`TokenError`] whose [`code`](ProtocolError::code) is the error code of `C::TYPE`.
    pub fn verify<C: Claims>(
        &self,
        key: &PublicKey,
        validation: &Validation<'_>,
        now: UnixTime,
    ) -> Result<Verified<C>, TokenError> {
        self.check_header::<C>()?;
        self.jws
            .verify(key)
            .map_err(|e| TokenError::new(Some(C::TYPE), TokenErrorKind::Jws(e)))?;
        // Claims are decoded only after the signature checked out, so the JSON parser
        // never builds unauthenticated claim sets beyond the `iss` peek.
        self.accept(self.decode_claims(), Ok(()), validation, now)
    }

    /// `typ` must be `C::TYPE` and a `kid` must be present (L§5.2, §6.2, §7.2).
    pub(crate) fn check_header<C: Claims>(&self) -> Result<(), TokenError> {
        let err = |kind| TokenError::new(Some(C::TYPE), kind);
        if self.typ() != Some(C::TYPE.as_typ()) {
            return Err(err(TokenErrorKind::WrongType));
        }
        if self.kid().is_none() {
            return Err(err(TokenErrorKind::MissingKid));
        }
        Ok(())
    }

    /// The claims, whether or not the signature was checked. [`verify`](Self::verify)
    /// decodes them after; a verifier that checks the token's signature together with the
    /// request signature its `cnf` key made (`crate::verify`) decodes them before, reads
    /// only `cnf.jwk` until both are checked, then passes them to
    /// [`accept`](Self::accept) with the token's result, refusing what `verify` refuses.
    // Out of line: `verify` and `crate::verify` share one copy of the claims decoder per
    // type; inlined, it is copied into each (about 1 KiB of the npm module's gzip budget).
    #[inline(never)]
    pub(crate) fn decode_claims<C: Claims>(&self) -> Result<C, TokenError> {
        serde_json::from_slice(self.jws.payload())
            .map_err(|_| TokenError::new(Some(C::TYPE), TokenErrorKind::MalformedClaims))
    }

    /// The check of this token's signature with `key`, to run with
    /// [`crypto::check_two`](crate::crypto::check_two).
    pub(crate) fn signature_check<'k>(&'k self, key: &'k PublicKey) -> SignatureCheck<'k> {
        self.jws.signature_check(key)
    }

    /// The claims of this token, accepted if `signature` (the result of
    /// [`signature_check`](Self::signature_check)) is `Ok`, they decoded, and they satisfy
    /// `validation` at `now`; errors in that order, as in [`verify`](Self::verify).
    // Out of line for the same reason as `decode_claims`.
    #[inline(never)]
    pub(crate) fn accept<C: Claims>(
        &self,
        claims: Result<C, TokenError>,
        signature: Result<(), VerifyError>,
        validation: &Validation<'_>,
        now: UnixTime,
    ) -> Result<Verified<C>, TokenError> {
        let err = |kind| TokenError::new(Some(C::TYPE), kind);
        signature.map_err(|e| err(TokenErrorKind::Jws(JwsError::from_verify(e))))?;
        let claims = claims?;
        validation
            .check_registered(&claims.registered(), now)
            .map_err(err)?;
        claims.check(validation).map_err(err)?;
        Ok(Verified::new(claims, self.jws.header().clone()))
    }
}

/// Proof that a token's signature and claims were checked by this crate.
///
/// Only the core creates one ([`UnverifiedToken::verify`]); dereferences to the claims.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    claims: T,
    header: JwsHeader,
}

impl<T> Verified<T> {
    pub(crate) fn new(claims: T, header: JwsHeader) -> Self {
        Self { claims, header }
    }

    /// The verified claims.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The protected header the token was verified with.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }
}

impl<C: Claims> Verified<C> {
    /// Applies `validation` at `now` to claims whose signature was verified earlier: the
    /// same claim checks as [`UnverifiedToken::verify`] (time bounds, issuer, audience, the
    /// type's own rules) without the signature. This is what lets a host remember a
    /// verified token ([`crate::verify::ValidatedToken`]) and still refuse it once it
    /// expires or when it is presented to a recipient it was not issued for.
    ///
    /// # Errors
    /// The [`TokenError`] [`UnverifiedToken::verify`] would return for these claims.
    pub fn recheck(&self, validation: &Validation<'_>, now: UnixTime) -> Result<(), TokenError> {
        let err = |kind| TokenError::new(Some(C::TYPE), kind);
        validation
            .check_registered(&self.claims.registered(), now)
            .map_err(err)?;
        self.claims.check(validation).map_err(err)
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.claims
    }
}

/// A token failed to parse or validate.
///
/// Carries the token type it was checked as (when known) so that [`ProtocolError::code`]
/// can name the right error: `invalid_agent_token`, `invalid_resource_token`,
/// `invalid_auth_token`, or `invalid_token` when the type is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenError {
    expected: Option<TokenType>,
    kind: TokenErrorKind,
}

impl TokenError {
    /// An error for a token checked as `expected`.
    pub const fn new(expected: Option<TokenType>, kind: TokenErrorKind) -> Self {
        Self { expected, kind }
    }

    /// What went wrong.
    pub const fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// The token type the token was checked as, if known.
    pub const fn expected(&self) -> Option<TokenType> {
        self.expected
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(t) => write!(f, "invalid {t}: {}", self.kind),
            None => write!(f, "invalid token: {}", self.kind),
        }
    }
}

impl core::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            TokenErrorKind::Jws(e) => Some(e),
            _ => None,
        }
    }
}

impl ProtocolError for TokenError {
    fn code(&self) -> ErrorCode {
        self.expected
            .map_or(ErrorCode::InvalidToken, TokenType::error_code)
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// `aud` does not contain the expected audience (RFC 7519 §4.1.3).
    AudienceMismatch,
    /// `now` is not before `exp` + leeway (RFC 7519 §4.1.4; L§5.7 "current time MUST be
    /// less than expiration").
    Expired {
        /// The time of the check.
        now: UnixTime,
        /// The token's `exp`.
        exp: UnixTime,
    },
    /// A claim is present but not acceptable (e.g. both `scope` and `auth_request_url`).
    InvalidClaim(&'static str),
    /// `iat` is later than `now` + leeway.
    IssuedInFuture {
        /// The time of the check.
        now: UnixTime,
        /// The token's `iat`.
        iat: UnixTime,
    },
    /// `iss` is not an accepted issuer.
    IssuerNotAccepted,
    /// The compact JWS is malformed or its signature does not verify.
    Jws(JwsError),
    /// The payload is not a JSON object with the claims of the token type.
    MalformedClaims,
    /// A conditionally required claim is missing (e.g. `agent`, L§7.3).
    MissingClaim(&'static str),
    /// The header has no `kid` (L§5.2, §6.2, §7.2: the header MUST include `kid`).
    MissingKid,
    /// `now` + leeway is before `nbf` (RFC 7519 §4.1.5).
    NotYetValid {
        /// The time of the check.
        now: UnixTime,
        /// The token's `nbf`.
        nbf: UnixTime,
    },
    /// The `typ` header is not the one of the expected token type.
    WrongType,
}

impl fmt::Display for TokenErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AudienceMismatch => f.write_str("audience mismatch"),
            Self::Expired { now, exp } => write!(f, "expired at {exp} (now {now})"),
            Self::InvalidClaim(c) => write!(f, "invalid `{c}` claim"),
            Self::IssuedInFuture { now, iat } => {
                write!(f, "issued in the future at {iat} (now {now})")
            }
            Self::IssuerNotAccepted => f.write_str("issuer not accepted"),
            Self::Jws(e) => e.fmt(f),
            Self::MalformedClaims => f.write_str("malformed claims"),
            Self::MissingClaim(c) => write!(f, "missing `{c}` claim"),
            Self::MissingKid => f.write_str("missing `kid` header"),
            Self::NotYetValid { now, nbf } => write!(f, "not valid before {nbf} (now {now})"),
            Self::WrongType => f.write_str("wrong `typ` header"),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use super::*;
    use crate::SigningKey;

    const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);

    fn server() -> SigningKey {
        SigningKey::from_seed(&[1; 32]).with_kid("key-1")
    }

    fn agent_token() -> String {
        AgentClaims::new(
            "https://agent.example",
            "delegate-1",
            Jwk::ed25519(&[3; 32], None),
            NOW.saturating_add(60),
        )
        .sign(&server())
        .unwrap()
    }

    #[test]
    fn typ_drives_error_code() {
        let jwt = agent_token();
        let t = UnverifiedToken::parse(&jwt).unwrap();
        assert_eq!(t.token_type(), Some(TokenType::Agent));
        let e = t
            .verify::<AuthClaims>(&server().public_key(), &Validation::any_issuer(), NOW)
            .unwrap_err();
        assert_eq!(e.kind(), TokenErrorKind::WrongType);
        assert_eq!(e.code(), ErrorCode::InvalidAuthToken);
        let e = UnverifiedToken::parse("x.y").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidToken);
        assert_eq!(
            e.to_string(),
            "invalid token: compact JWS must have exactly three segments"
        );
    }

    #[test]
    fn expiry_is_exclusive_and_leeway_applies() {
        let jwt = agent_token();
        let t = UnverifiedToken::parse(&jwt).unwrap();
        let key = server().public_key();
        let v = Validation::any_issuer();
        assert!(
            t.verify::<AgentClaims>(&key, &v, NOW.saturating_add(59))
                .is_ok()
        );
        let e = t
            .verify::<AgentClaims>(&key, &v, NOW.saturating_add(60))
            .unwrap_err();
        let exp = NOW.saturating_add(60);
        assert_eq!(e.kind(), TokenErrorKind::Expired { now: exp, exp });
        assert_eq!(e.code(), ErrorCode::InvalidAgentToken);
        assert_eq!(
            format!("{e}"),
            format!("invalid agent+jwt: expired at {exp} (now {exp})")
        );
        let v = Validation::any_issuer().with_leeway(5);
        assert!(
            t.verify::<AgentClaims>(&key, &v, NOW.saturating_add(64))
                .is_ok()
        );
        assert!(
            t.verify::<AgentClaims>(&key, &v, NOW.saturating_add(65))
                .is_err()
        );
    }

    #[test]
    fn missing_kid_is_refused() {
        let c = AgentClaims::new(
            "https://a",
            "d",
            Jwk::ed25519(&[3; 32], None),
            NOW.saturating_add(60),
        );
        let jwt = sign(&c, None, &server()).unwrap();
        let t = UnverifiedToken::parse(&jwt).unwrap();
        let e = t
            .verify::<AgentClaims>(&server().public_key(), &Validation::any_issuer(), NOW)
            .unwrap_err();
        assert_eq!(e.kind(), TokenErrorKind::MissingKid);
    }

    #[test]
    fn non_object_payload_is_refused_at_parse() {
        let jwt = jws::sign_compact(Some("agent+jwt"), Some("k"), b"[1]", &server());
        let e = UnverifiedToken::parse(&jwt).unwrap_err();
        assert_eq!(e.kind(), TokenErrorKind::MalformedClaims);
        assert_eq!(e.code(), ErrorCode::InvalidAgentToken);
    }

    #[test]
    fn audience_forms() {
        let one: Audience = serde_json::from_str(r#""a""#).unwrap();
        let many: Audience = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert!(one.contains("a") && many.contains("b") && !many.contains("c"));
        assert_eq!(one.single(), Some("a"));
        assert_eq!(many.single(), None);
        assert_eq!(serde_json::to_string(&one).unwrap(), r#""a""#);
        assert!(serde_json::from_str::<Audience>("1").is_err());
    }
}
