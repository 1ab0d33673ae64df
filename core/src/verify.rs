//! Request verification from headers to a verified identity: `Signature-Key` dispatch, key
//! resolution without I/O, and the `scheme=jwt` two-step rule (digest §5.1 L-15).
//!
//! Two ways in:
//! - [`verify_request`] with a synchronous [`KeyResolver`] (keys already cached, tests);
//! - [`begin`] → [`PendingRequest::key_request`] (the host fetches, possibly async) →
//!   [`PendingRequest::finish`]. The core states what it needs and never fetches. A host
//!   with a [`TokenCache`] starts with [`begin_headers`] instead, which leaves the token
//!   undecoded until the cache has missed.
//!
//! A host that sees the same `scheme=jwt` token on many requests can remember it once
//! verified ([`ValidatedToken`], kept in a [`TokenCache`]): the next request with that token
//! skips the issuer key lookup and the token's JWS verification, while the request
//! signature, the token's time bounds, issuer and audience are still checked on every
//! request ([`CheckedHeaders::finish_cached`], [`verify_request_cached`]).
//!
//! ```
//! use aauth_core::httpsig::{sign_request, SignOptions, VerifyPolicy};
//! use aauth_core::signature_key::KeyScheme;
//! use aauth_core::verify::{verify_request, Identity, KeyRequest, TokenPolicy};
//! use aauth_core::{PublicKey, RequestParts, Signer, SigningKey, UnixTime};
//!
//! let agent = SigningKey::from_seed(&[9; 32]);
//! let now = UnixTime::from_secs(1_768_785_919);
//! let sk = KeyScheme::Hwk(agent.public_jwk()).to_header("sig1").unwrap();
//! let unsigned = RequestParts::new("GET", "resource.example", "/data", &[]);
//! let h = sign_request(&unsigned, &sk, &agent, &SignOptions::new(now)).unwrap();
//! let headers: Vec<(&str, &[u8])> = h.iter().map(|(n, v)| (n, v.as_bytes())).collect();
//! let req = RequestParts::new("GET", "resource.example", "/data", &headers);
//!
//! let no_keys = |_: &KeyRequest<'_>| None;
//! let tokens = TokenPolicy::new("https://resource.example");
//! let v = verify_request(&req, &no_keys, &VerifyPolicy::default(), &tokens, now).unwrap();
//! assert!(matches!(v.identity(), Identity::Pseudonymous));
//! assert_eq!(v.signer_thumbprint(), agent.public_jwk().thumbprint().unwrap());
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

use crate::crypto::{self, KeyError, PublicKey};
use crate::error::{ErrorCode, ProtocolError};
use crate::httpsig::{SignatureError, SignedRequest, VerifyPolicy};
use crate::jwk::{Jwk, Jwks, SelectError};
use crate::metadata::WellKnown;
use crate::request::RequestParts;
use crate::signature_key::{JwksLocation, JwksRef, KeyScheme, SignatureKey, SignatureKeyError};
use crate::time::UnixTime;
use crate::token::{
    AgentClaims, AuthClaims, Claims, TokenError, TokenType, UnverifiedToken, Validation, Verified,
};
use once_cell::race::OnceBox;
use sha2::{Digest as _, Sha256};

mod cache;

pub use cache::{DEFAULT_TOKEN_CACHE_CAPACITY, TokenStore};

/// Where a key set is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySource<'a> {
    /// Fetch this URL as a JWK Set.
    Jwks(&'a str),
    /// Fetch `{id}/.well-known/{well_known}` and follow its `jwks_uri` (L-13, digest §2.7).
    Metadata {
        /// The party's identifier.
        id: &'a str,
        /// The metadata document name.
        well_known: &'a str,
    },
}

/// Why a key is needed; hosts may apply different policies (e.g. only trusted auth
/// servers are ever fetched for [`KeyPurpose::AuthToken`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// The request signer's own key (`scheme=jwks`).
    Signer,
    /// The agent server key that signed an `agent+jwt`.
    AgentToken,
    /// The auth server key that signed an `auth+jwt`.
    AuthToken,
}

/// "I need the key `kid` from the key set at `source`": what the host must resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeyRequest<'a> {
    /// Where the key set is.
    pub source: KeySource<'a>,
    /// The key id; `None` means the set must hold exactly one key.
    pub kid: Option<&'a str>,
    /// Why the key is needed.
    pub purpose: KeyPurpose,
}

/// A key as resolved by the host: the JWK (with its `kid`, as published, so it can be
/// copied into `cnf.jwk`) and the parsed verification key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedKey {
    /// The JWK as published.
    pub jwk: Jwk,
    /// The parsed key.
    pub key: PublicKey,
}

impl ResolvedKey {
    /// Parses a JWK.
    ///
    /// # Errors
    /// [`KeyError`] when the JWK is not a usable public key.
    pub fn from_jwk(jwk: Jwk) -> Result<Self, KeyError> {
        let key = jwk.to_public_key()?;
        Ok(Self { jwk, key })
    }

    /// Selects `kid` from a key set (digest §5.2 S-10: only the selected key must be usable).
    ///
    /// # Errors
    /// [`SelectError`] when the kid is unknown, ambiguous or unusable.
    pub fn select(jwks: &Jwks, kid: Option<&str>) -> Result<Self, SelectError> {
        let jwk = jwks.find(kid)?;
        Self::from_jwk(jwk.clone()).map_err(SelectError::Key)
    }
}

/// Resolves keys for verification. Implemented by hosts over their caches; a closure works.
///
/// Keys are shared (`Arc`) so a cache hit costs a reference-count increment, not a copy of
/// the JWK.
pub trait KeyResolver {
    /// The key for `req`, or `None` when it cannot be found.
    fn resolve(&self, req: &KeyRequest<'_>) -> Option<Arc<ResolvedKey>>;
}

impl<F: Fn(&KeyRequest<'_>) -> Option<Arc<ResolvedKey>>> KeyResolver for F {
    fn resolve(&self, req: &KeyRequest<'_>) -> Option<Arc<ResolvedKey>> {
        self(req)
    }
}

/// What a verifier accepts in `scheme=jwt` (L§5.7, L§7.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPolicy<'a> {
    /// The verifier's own identifier: the required `aud` of auth tokens, and of agent tokens
    /// that carry one.
    pub audience: &'a str,
    /// Auth servers whose auth tokens are accepted. Keys are never requested for others.
    pub trusted_issuers: &'a [&'a str],
    /// Accept agent tokens (`agent+jwt`) from agent delegates.
    pub accept_agent_tokens: bool,
    /// Accept auth tokens (`auth+jwt`).
    pub accept_auth_tokens: bool,
    /// Clock leeway for `exp`, `nbf`, `iat`, in seconds (capped at 60).
    pub leeway: u64,
}

impl<'a> TokenPolicy<'a> {
    /// Accepts agent tokens addressed to (or not restricted from) `audience`, and no auth
    /// tokens until [`TokenPolicy::with_trusted_issuers`] names their issuers.
    pub const fn new(audience: &'a str) -> Self {
        Self {
            audience,
            trusted_issuers: &[],
            accept_agent_tokens: true,
            accept_auth_tokens: true,
            leeway: 0,
        }
    }

    /// The trusted auth servers.
    #[must_use]
    pub const fn with_trusted_issuers(mut self, issuers: &'a [&'a str]) -> Self {
        self.trusted_issuers = issuers;
        self
    }

    /// The clock leeway for token times.
    #[must_use]
    pub const fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }
}

/// Who signed the request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Identity {
    /// `scheme=hwk`: a bare key, no identity.
    Pseudonymous,
    /// `scheme=jwks`: an agent server (or resource) identified by its published keys.
    Agent {
        /// The `id` of the Signature-Key (or the JWKS URL in mode 1).
        agent: String,
    },
    /// `scheme=jwt` with an agent token: an agent delegate of an agent server.
    Delegate {
        /// The verified agent token (`iss` = agent, `sub` = delegate). Shared: every
        /// request served from a [`TokenCache`] entry holds the entry's claims, not a copy.
        token: Arc<Verified<AgentClaims>>,
    },
    /// `scheme=jwt` with an auth token: an authorized agent.
    Authorized {
        /// The verified auth token. Shared like [`Delegate`](Self::Delegate)'s.
        token: Arc<Verified<AuthClaims>>,
    },
}

/// The key that signed: `own` for `hwk` and `scheme=jwks`, else the `cnf.jwk` of the
/// verified token in `identity`. `finish` always pairs a token identity with `None` and the
/// others with `Some`; the empty JWK of the last arm is never returned.
fn signer_jwk<'a>(own: Option<&'a Jwk>, identity: &'a Identity) -> &'a Jwk {
    match (own, identity) {
        (Some(jwk), _) => jwk,
        (None, Identity::Authorized { token }) => &token.cnf.jwk,
        (None, Identity::Delegate { token }) => &token.cnf.jwk,
        (None, _) => &NO_KEY,
    }
}

static NO_KEY: Jwk = Jwk::empty();

/// The outcome of a successful verification.
#[derive(Clone, Debug)]
pub struct VerifiedRequest {
    identity: Identity,
    /// The signing key's JWK; `None` for `scheme=jwt`, where it is the token's
    /// `cnf.jwk`, kept once in `identity` rather than copied.
    signer: Option<Jwk>,
    thumbprint: Thumbprint,
    label: String,
    created: Option<u64>,
}

/// The signer's RFC 7638 thumbprint.
#[derive(Clone, Debug)]
enum Thumbprint {
    /// Computed on first use: most requests never need it (a resource asks for it only
    /// to mint a resource token or key a `Nonce`), and hashing it eagerly was about 1 %
    /// of a `scheme=jwt` verification. A race-tolerant cell keeps the type `Sync`.
    Lazy(OnceBox<String>),
    /// Computed when the token was remembered, and shared with its [`ValidatedToken`]:
    /// a cache hit copies nothing.
    Shared(Arc<str>),
}

impl VerifiedRequest {
    /// Who signed.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The agent identifier, when the scheme carries one.
    pub fn agent(&self) -> Option<&str> {
        match &self.identity {
            Identity::Pseudonymous => None,
            Identity::Agent { agent } => Some(agent),
            Identity::Delegate { token } => Some(&token.iss),
            Identity::Authorized { token } => token.effective_agent(),
        }
    }

    /// The agent delegate (agent token `sub`, or the auth token's `agent_delegate`).
    pub fn agent_delegate(&self) -> Option<&str> {
        match &self.identity {
            Identity::Delegate { token } => Some(&token.sub),
            Identity::Authorized { token } => token.agent_delegate.as_deref(),
            _ => None,
        }
    }

    /// The auth token, when the request carried one.
    pub fn auth_token(&self) -> Option<&Verified<AuthClaims>> {
        match &self.identity {
            Identity::Authorized { token } => Some(token),
            _ => None,
        }
    }

    /// The JWK of the key that signed the request.
    pub fn signer_jwk(&self) -> &Jwk {
        signer_jwk(self.signer.as_ref(), &self.identity)
    }

    /// RFC 7638 thumbprint of the signing key: the `agent_jkt` of a resource token.
    pub fn signer_thumbprint(&self) -> &str {
        match &self.thumbprint {
            Thumbprint::Shared(t) => t,
            Thumbprint::Lazy(cell) => cell.get_or_init(|| {
                // `finish` checked the members the thumbprint needs, so this cannot fail.
                Box::new(self.signer_jwk().thumbprint().unwrap_or_default())
            }),
        }
    }

    /// The signature label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The signature's `created`.
    pub fn created(&self) -> Option<u64> {
        self.created
    }
}

/// Why verification failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The inline or bound key (`hwk`, `cnf.jwk`) is unusable.
    Key(KeyError),
    /// The host could not resolve the requested key (unknown `kid`, fetch failed).
    KeyUnavailable,
    /// The resolved key set had no usable key for the `kid`.
    KeySelection(SelectError),
    /// The HTTP message signature failed.
    Signature(SignatureError),
    /// `Signature-Key` is malformed or violates L-02/L-12/L-16.
    SignatureKey(SignatureKeyError),
    /// The token in `scheme=jwt` failed validation.
    Token(TokenError),
    /// The token's `typ` is not one this verifier accepts in `scheme=jwt`.
    TokenTypeNotAccepted,
    /// The auth token's issuer is not a trusted auth server.
    UntrustedIssuer,
    /// The scheme is recognized but not supported for verification (`x509`).
    UnsupportedScheme,
    /// [`CheckedHeaders::finish_cached`] was handed a [`ValidatedToken`] remembered for a
    /// different token: a fault of the host's cache, never of the request.
    CachedTokenMismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(e) => write!(f, "signing key: {e}"),
            Self::KeyUnavailable => f.write_str("the signing key could not be resolved"),
            Self::KeySelection(e) => write!(f, "signing key: {e}"),
            Self::Signature(e) => e.fmt(f),
            Self::SignatureKey(e) => write!(f, "Signature-Key: {e}"),
            Self::Token(e) => e.fmt(f),
            Self::TokenTypeNotAccepted => f.write_str("this token type is not accepted here"),
            Self::UntrustedIssuer => f.write_str("the auth token's issuer is not trusted"),
            Self::UnsupportedScheme => f.write_str("Signature-Key scheme not supported"),
            Self::CachedTokenMismatch => f.write_str("the token cache returned another token"),
        }
    }
}

impl core::error::Error for VerifyError {}

impl ProtocolError for VerifyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Key(e) => e.code(),
            Self::KeyUnavailable | Self::KeySelection(_) => ErrorCode::InvalidSignature,
            Self::Signature(e) => e.code(),
            Self::SignatureKey(e) => e.code(),
            Self::Token(e) => e.code(),
            Self::TokenTypeNotAccepted => ErrorCode::InvalidToken,
            Self::UntrustedIssuer => ErrorCode::InvalidAuthToken,
            Self::UnsupportedScheme => ErrorCode::UnsupportedScheme,
            Self::CachedTokenMismatch => ErrorCode::ServerError,
        }
    }
}

impl From<SignatureError> for VerifyError {
    fn from(e: SignatureError) -> Self {
        Self::Signature(e)
    }
}

impl From<SignatureKeyError> for VerifyError {
    fn from(e: SignatureKeyError) -> Self {
        Self::SignatureKey(e)
    }
}

impl From<TokenError> for VerifyError {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

/// A request whose headers passed every keyless check, waiting for its key.
#[derive(Debug)]
pub struct PendingRequest<'a> {
    signed: SignedRequest<'a>,
    key: SignatureKey<'a>,
    token: Option<UnverifiedToken<'a>>,
    /// The compact token of `scheme=jwt`, borrowed from the header.
    compact: Option<&'a str>,
    /// Its SHA-256, computed on first use (only hosts with a token cache need it).
    digest: Option<TokenDigest>,
}

/// Parses and checks everything that needs no key: the signature headers and policy
/// (see [`SignedRequest::parse`]), `Signature-Key` (L-01, L-02, L-12, L-16) and its label
/// (L-03), and for `scheme=jwt` the token's structure and `typ`; an auth token from an
/// issuer outside `tokens.trusted_issuers` is refused here, before any key is fetched.
///
/// # Errors
/// The first [`VerifyError`] found.
pub fn begin<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy,
    tokens: &TokenPolicy<'_>,
    now: UnixTime,
) -> Result<PendingRequest<'a>, VerifyError> {
    let mut pending = begin_unparsed(req, policy, now)?;
    pending.parse_token(tokens)?;
    Ok(pending)
}

/// A request whose signature headers and `Signature-Key` passed [`begin_headers`]; a
/// `scheme=jwt` token is not decoded yet. Either it is remembered
/// ([`token_digest`](Self::token_digest) → [`TokenCache::get`] →
/// [`finish_cached`](Self::finish_cached)), or it is decoded and checked
/// ([`decode_token`](Self::decode_token)) into the [`PendingRequest`] [`begin`] returns.
#[derive(Debug)]
pub struct CheckedHeaders<'a> {
    /// A pending request whose token has not been parsed (`token` is `None`).
    inner: PendingRequest<'a>,
}

impl<'a> CheckedHeaders<'a> {
    /// The parsed `Signature-Key`.
    pub fn signature_key(&self) -> &SignatureKey<'a> {
        &self.inner.key
    }

    /// The SHA-256 of the `scheme=jwt` token (see [`PendingRequest::token_digest`]),
    /// computed once and carried into [`decode_token`](Self::decode_token)'s result.
    pub fn token_digest(&mut self) -> Option<TokenDigest> {
        self.inner.token_digest()
    }

    /// Completes a `scheme=jwt` verification with a token verified earlier, with no key:
    /// the token's claims are checked again against `tokens` at `now` (expiry, `nbf`,
    /// `iat`, issuer, audience: what [`PendingRequest::finish`] would check, so a token that
    /// expired or was issued for another resource is refused as it would be without the
    /// cache), and the request signature is verified with the remembered `cnf.jwk` (L-15;
    /// the proof of possession is never cached).
    ///
    /// The token's JWS signature is not verified again: its bytes are those verified before
    /// (same SHA-256). A key the issuer has since withdrawn is therefore still honoured
    /// until the token's `exp`, as for any bearer of a self-contained token.
    ///
    /// # Errors
    /// [`VerifyError::CachedTokenMismatch`] when `cached` was remembered for another token
    /// or the request is not `scheme=jwt`; otherwise the first [`VerifyError`] found.
    pub fn finish_cached(
        self,
        req: &RequestParts<'_>,
        cached: &ValidatedToken,
        policy: &VerifyPolicy,
        tokens: &TokenPolicy<'_>,
        now: UnixTime,
    ) -> Result<VerifiedRequest, VerifyError> {
        let mut this = self.inner;
        if this.token_digest() != Some(cached.digest) {
            return Err(VerifyError::CachedTokenMismatch);
        }
        // The same type and issuer rules as `begin`, then the claims that change with time
        // or policy: the entry may have been remembered under another `TokenPolicy`.
        match &cached.identity {
            Identity::Authorized { .. } if !tokens.accept_auth_tokens => {
                return Err(VerifyError::TokenTypeNotAccepted);
            }
            Identity::Delegate { .. } if !tokens.accept_agent_tokens => {
                return Err(VerifyError::TokenTypeNotAccepted);
            }
            Identity::Authorized { token } => token.recheck(&auth_validation(tokens), now)?,
            Identity::Delegate { token } => token.recheck(&agent_validation(tokens), now)?,
            _ => return Err(VerifyError::CachedTokenMismatch),
        }
        this.signed.verify(req, &cached.key, policy)?;
        Ok(VerifiedRequest {
            // Reference counts only: the claims and the thumbprint stay shared with the
            // cache entry.
            identity: cached.identity.clone(),
            signer: None,
            thumbprint: Thumbprint::Shared(Arc::clone(&cached.thumbprint)),
            label: this.signed.label().into(),
            created: this.signed.params().created,
        })
    }

    /// Decodes a `scheme=jwt` token and applies [`begin`]'s checks to it (type accepted,
    /// auth token from a trusted issuer); other schemes pass through.
    ///
    /// # Errors
    /// A [`VerifyError`] for a malformed token, an unaccepted type or an untrusted issuer.
    pub fn decode_token(
        mut self,
        tokens: &TokenPolicy<'_>,
    ) -> Result<PendingRequest<'a>, VerifyError> {
        self.inner.parse_token(tokens)?;
        Ok(self.inner)
    }
}

/// [`begin`] without looking inside a `scheme=jwt` token: the signature headers and
/// `Signature-Key` are checked as [`begin`] checks them, and the token stays undecoded until
/// [`CheckedHeaders::decode_token`]. What a host with a [`TokenCache`] starts from: a
/// remembered token is found by its [`TokenDigest`] and finished with
/// [`CheckedHeaders::finish_cached`] without its base64 or JSON being decoded again (about
/// 3 % of a remembered-token request).
///
/// ```
/// # use aauth_core::httpsig::{sign_request, SignOptions, VerifyPolicy};
/// # use aauth_core::signature_key::KeyScheme;
/// # use aauth_core::verify::{begin_headers, TokenPolicy};
/// # use aauth_core::{RequestParts, Signer, SigningKey, UnixTime};
/// # let agent = SigningKey::from_seed(&[9; 32]);
/// # let now = UnixTime::from_secs(1_768_785_919);
/// # let sk = KeyScheme::Hwk(agent.public_jwk()).to_header("sig1").unwrap();
/// # let unsigned = RequestParts::new("GET", "resource.example", "/data", &[]);
/// # let h = sign_request(&unsigned, &sk, &agent, &SignOptions::new(now)).unwrap();
/// # let headers: Vec<(&str, &[u8])> = h.iter().map(|(n, v)| (n, v.as_bytes())).collect();
/// # let req = RequestParts::new("GET", "resource.example", "/data", &headers);
/// let policy = VerifyPolicy::default();
/// let tokens = TokenPolicy::new("https://resource.example");
/// let mut checked = begin_headers(&req, &policy, now).unwrap();
/// // `scheme=hwk` carries no token: nothing to look up in a cache.
/// assert!(checked.token_digest().is_none());
/// let pending = checked.decode_token(&tokens).unwrap();
/// assert!(pending.key_request().is_none());
/// let verified = pending.finish(&req, None, &policy, &tokens, now).unwrap();
/// ```
///
/// # Errors
/// The first [`VerifyError`] found in the headers.
pub fn begin_headers<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy,
    now: UnixTime,
) -> Result<CheckedHeaders<'a>, VerifyError> {
    begin_unparsed(req, policy, now).map(|inner| CheckedHeaders { inner })
}

fn begin_unparsed<'a>(
    req: &RequestParts<'a>,
    policy: &VerifyPolicy,
    now: UnixTime,
) -> Result<PendingRequest<'a>, VerifyError> {
    let signed = SignedRequest::parse(req, policy, now)?;
    let key = SignatureKey::parse(signed.signature_key())?;
    key.check_label(signed.label())?;
    let compact = match &key.scheme {
        // The legacy parser unescapes the value; a compact JWT has no characters that
        // need escaping, so it appears verbatim in the raw header and can be borrowed
        // from it for the lifetime of the request.
        KeyScheme::Jwt { jwt } => {
            Some(borrowed_jwt(key.raw, jwt).ok_or(VerifyError::UnsupportedScheme)?)
        }
        KeyScheme::X509 { .. } => return Err(VerifyError::UnsupportedScheme),
        _ => None,
    };
    Ok(PendingRequest {
        signed,
        key,
        token: None,
        compact,
        digest: None,
    })
}

impl<'a> PendingRequest<'a> {
    /// Decodes a `scheme=jwt` token's header and claims (no signature check yet) and
    /// refuses a type this verifier does not accept, or an auth token from an issuer
    /// outside `tokens.trusted_issuers`, before any key is fetched.
    fn parse_token(&mut self, tokens: &TokenPolicy<'_>) -> Result<(), VerifyError> {
        let Some(compact) = self.compact else {
            return Ok(());
        };
        let token = UnverifiedToken::parse(compact)?;
        match token.token_type() {
            Some(TokenType::Agent) if tokens.accept_agent_tokens => {}
            Some(TokenType::Auth) if tokens.accept_auth_tokens => {
                let iss = token.iss().unwrap_or_default();
                if !tokens.trusted_issuers.contains(&iss) {
                    return Err(VerifyError::UntrustedIssuer);
                }
            }
            _ => return Err(VerifyError::TokenTypeNotAccepted),
        }
        self.token = Some(token);
        Ok(())
    }

    /// The key the host must resolve, or `None` when the request carries its key inline
    /// (`scheme=hwk`).
    pub fn key_request(&self) -> Option<KeyRequest<'_>> {
        match (&self.key.scheme, &self.token) {
            (KeyScheme::Jwks(r), _) => Some(KeyRequest {
                source: match r {
                    JwksRef::Id {
                        id,
                        well_known: Some(wk),
                        ..
                    } => KeySource::Metadata { id, well_known: wk },
                    _ => match r.location() {
                        JwksLocation::Jwks(url) => KeySource::Jwks(url),
                        // `location` names metadata only when `well_known` is set, handled above.
                        _ => return None,
                    },
                },
                kid: Some(r.kid()),
                purpose: KeyPurpose::Signer,
            }),
            (KeyScheme::Jwt { .. }, Some(token)) => {
                let (well_known, purpose) = match token.token_type() {
                    Some(TokenType::Auth) => (WellKnown::ISSUER, KeyPurpose::AuthToken),
                    _ => (WellKnown::AGENT, KeyPurpose::AgentToken),
                };
                Some(KeyRequest {
                    source: KeySource::Metadata {
                        id: token.iss().unwrap_or_default(),
                        well_known,
                    },
                    kid: token.kid(),
                    purpose,
                })
            }
            _ => None,
        }
    }

    /// The parsed `Signature-Key`.
    pub fn signature_key(&self) -> &SignatureKey<'a> {
        &self.key
    }

    /// The signature headers, parsed and checked.
    pub fn signed(&self) -> &SignedRequest<'a> {
        &self.signed
    }

    /// The unverified token of `scheme=jwt`.
    pub fn token(&self) -> Option<&UnverifiedToken<'a>> {
        self.token.as_ref()
    }

    /// The SHA-256 of the `scheme=jwt` token: the key under which a host remembers it
    /// ([`TokenCache`]). `None` for other schemes. Computed once and kept, so looking a
    /// token up and then finishing with [`CheckedHeaders::finish_cached`] hashes it once.
    pub fn token_digest(&mut self) -> Option<TokenDigest> {
        if self.digest.is_none() {
            self.digest = self.compact.map(TokenDigest::of);
        }
        self.digest
    }

    /// Completes verification with the key the host resolved for
    /// [`key_request`](Self::key_request) (`None` for `hwk`). For `scheme=jwt` the token is
    /// validated first and the request is then verified with its `cnf.jwk` (L-15).
    ///
    /// # Errors
    /// The first [`VerifyError`] found.
    pub fn finish(
        self,
        req: &RequestParts<'_>,
        resolved: Option<&ResolvedKey>,
        policy: &VerifyPolicy,
        tokens: &TokenPolicy<'_>,
        now: UnixTime,
    ) -> Result<VerifiedRequest, VerifyError> {
        self.finish_inner(req, resolved, policy, tokens, now, false)
            .map(|(v, _)| v)
    }

    /// [`finish`](Self::finish), also returning the verified `scheme=jwt` token as a
    /// [`ValidatedToken`] for the host's [`TokenCache`] (`None` for other schemes).
    ///
    /// # Errors
    /// The first [`VerifyError`] found.
    pub fn finish_remembering(
        self,
        req: &RequestParts<'_>,
        resolved: Option<&ResolvedKey>,
        policy: &VerifyPolicy,
        tokens: &TokenPolicy<'_>,
        now: UnixTime,
    ) -> Result<(VerifiedRequest, Option<ValidatedToken>), VerifyError> {
        self.finish_inner(req, resolved, policy, tokens, now, true)
    }

    fn finish_inner(
        mut self,
        req: &RequestParts<'_>,
        resolved: Option<&ResolvedKey>,
        policy: &VerifyPolicy,
        tokens: &TokenPolicy<'_>,
        now: UnixTime,
        remember: bool,
    ) -> Result<(VerifiedRequest, Option<ValidatedToken>), VerifyError> {
        let mut cnf_key = None;
        let (identity, signer) = match &self.key.scheme {
            KeyScheme::Hwk(jwk) => {
                let key = jwk.to_public_key().map_err(VerifyError::Key)?;
                self.signed.verify(req, &key, policy)?;
                (Identity::Pseudonymous, Some(jwk.clone()))
            }
            KeyScheme::Jwks(r) => {
                let resolved = resolved.ok_or(VerifyError::KeyUnavailable)?;
                self.signed.verify(req, &resolved.key, policy)?;
                let agent = match r {
                    JwksRef::Id { id, .. } => id.clone(),
                    JwksRef::Url { jwks, .. } => jwks.clone(),
                };
                (Identity::Agent { agent }, Some(resolved.jwk.clone()))
            }
            KeyScheme::Jwt { .. } => {
                let token = self.token.as_ref().ok_or(VerifyError::UnsupportedScheme)?;
                let issuer_key = resolved.ok_or(VerifyError::KeyUnavailable)?;
                let bound = Bound {
                    signed: &self.signed,
                    req,
                    policy,
                    token,
                    issuer_key: &issuer_key.key,
                    now,
                };
                // The signer is the token's `cnf.jwk`, kept once inside the identity.
                let (identity, key) = match token.token_type() {
                    Some(TokenType::Auth) => {
                        let (t, key) = bound.verify::<AuthClaims>(&auth_validation(tokens))?;
                        (Identity::Authorized { token: Arc::new(t) }, key)
                    }
                    _ => {
                        let (t, key) = bound.verify::<AgentClaims>(&agent_validation(tokens))?;
                        (Identity::Delegate { token: Arc::new(t) }, key)
                    }
                };
                cnf_key = Some(key);
                (identity, None)
            }
            KeyScheme::X509 { .. } => return Err(VerifyError::UnsupportedScheme),
        };
        // What the thumbprint needs is checked now (same error as hashing it would give);
        // the hash itself waits until asked for, or the token is remembered.
        let signer_key = signer_jwk(signer.as_ref(), &identity);
        signer_key.thumbprint_members().map_err(VerifyError::Key)?;
        // Hashing the token costs about 3 % of a verification: only when it is remembered.
        let digest = if remember { self.token_digest() } else { None };
        let (thumbprint, remembered) = match (cnf_key, digest) {
            (Some(key), Some(digest)) => {
                let jkt: Arc<str> = signer_key.thumbprint().map_err(VerifyError::Key)?.into();
                let remembered = ValidatedToken {
                    digest,
                    identity: identity.clone(),
                    key,
                    thumbprint: Arc::clone(&jkt),
                };
                (Thumbprint::Shared(jkt), Some(remembered))
            }
            _ => (Thumbprint::Lazy(OnceBox::new()), None),
        };
        let verified = VerifiedRequest {
            identity,
            signer,
            thumbprint,
            label: self.signed.label().into(),
            created: self.signed.params().created,
        };
        Ok((verified, remembered))
    }
}

/// A `scheme=jwt` request and the token whose `cnf.jwk` must have signed it (L-15).
struct Bound<'r, 'a> {
    signed: &'r SignedRequest<'a>,
    req: &'r RequestParts<'r>,
    policy: &'r VerifyPolicy,
    token: &'r UnverifiedToken<'a>,
    issuer_key: &'r PublicKey,
    now: UnixTime,
}

impl Bound<'_, '_> {
    /// Verifies the token with the issuer's key and `validation`, then the request with
    /// the token's `cnf.jwk`; returns the token and that key.
    ///
    /// Errors come in the order of checking one after the other (the token's header, its
    /// signature, its claims, the `cnf` key, the request's signature base and signature),
    /// but the two signatures are checked together ([`Bound::check`]).
    fn verify<C: Claims + Confirmed>(
        &self,
        validation: &Validation<'_>,
    ) -> Result<(Verified<C>, PublicKey), VerifyError> {
        self.token.check_header::<C>()?;
        let claims = self.token.decode_claims::<C>();
        let checked = self.check(claims.as_ref().ok().map(Confirmed::cnf_jwk));
        let verified = self
            .token
            .accept(claims, checked.token, validation, self.now)?;
        Ok((verified, checked.request?))
    }

    /// Checks both signatures: together ([`crypto::check_two`], one field inversion less
    /// when both are Ed25519) when the claims, their `cnf` key and the request's signature
    /// base decoded, else the token's alone, with the request's error kept for after it.
    /// Not generic over the claims, so it is compiled once (the npm module's size budget).
    fn check(&self, cnf: Option<&Jwk>) -> Checked {
        let token = self.token.signature_check(self.issuer_key);
        // `None`: the claims did not decode, an error reported before this one.
        let request = cnf
            .ok_or(VerifyError::KeyUnavailable)
            .and_then(|jwk| jwk.to_public_key().map_err(VerifyError::Key))
            .and_then(|key| {
                let base = self
                    .signed
                    .signature_base(self.req, self.policy.base_mode)?;
                Ok((key, base))
            });
        match request {
            Ok((key, base)) => {
                let [token, request] =
                    crypto::check_two(&token, &self.signed.signature_check(&key, &base));
                let request = request
                    .map(|()| key)
                    .map_err(|_| SignatureError::BadSignature.into());
                Checked { token, request }
            }
            Err(e) => Checked {
                token: token.run(),
                request: Err(e),
            },
        }
    }
}

/// What [`Bound::check`] found: the token's signature, and the request's key if the
/// request's signature verified with it.
struct Checked {
    token: Result<(), crypto::VerifyError>,
    request: Result<PublicKey, VerifyError>,
}

/// Claims that confirm a key (RFC 7800 `cnf`): the tokens `scheme=jwt` carries.
trait Confirmed {
    fn cnf_jwk(&self) -> &Jwk;
}

impl Confirmed for AuthClaims {
    fn cnf_jwk(&self) -> &Jwk {
        &self.cnf.jwk
    }
}

impl Confirmed for AgentClaims {
    fn cnf_jwk(&self) -> &Jwk {
        &self.cnf.jwk
    }
}

/// What an auth token in `scheme=jwt` must satisfy: a trusted issuer, this resource as
/// audience (L§7.7).
fn auth_validation<'t>(tokens: &TokenPolicy<'t>) -> Validation<'t> {
    Validation::issuers(tokens.trusted_issuers)
        .with_audience(tokens.audience)
        .with_leeway(tokens.leeway)
}

/// What an agent token must satisfy: any issuer (its key came from the `iss` it names),
/// this verifier as audience when it carries one (L§5.7).
fn agent_validation<'t>(tokens: &TokenPolicy<'t>) -> Validation<'t> {
    Validation::any_issuer()
        .with_audience(tokens.audience)
        .with_leeway(tokens.leeway)
}

/// The SHA-256 of a compact token, under which a [`TokenCache`] keeps it. A collision-free
/// key means the cache never has to store the token itself (hundreds of bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest of `compact`.
    pub fn of(compact: &str) -> Self {
        Self(Sha256::digest(compact.as_bytes()).into())
    }
}

/// A `scheme=jwt` token (auth or agent token) that passed full verification, as a host
/// remembers it: the verified claims (whose `exp` bounds its use), the parsed `cnf` key the
/// request signature is checked with, and its thumbprint.
///
/// Only [`PendingRequest::finish_remembering`] creates one, always with an
/// [`Identity::Authorized`] or [`Identity::Delegate`].
#[derive(Clone, Debug)]
pub struct ValidatedToken {
    digest: TokenDigest,
    identity: Identity,
    key: PublicKey,
    thumbprint: Arc<str>,
}

impl ValidatedToken {
    /// The digest of the token: the cache key.
    pub fn digest(&self) -> TokenDigest {
        self.digest
    }

    /// The token's `exp`: a cache may drop the entry from then on (it would be refused by
    /// [`CheckedHeaders::finish_cached`] anyway).
    pub fn expires(&self) -> UnixTime {
        // Read from the claims rather than kept twice; the other identities never occur
        // here (see the type's doc) and would count as already expired.
        UnixTime::from_secs(match &self.identity {
            Identity::Authorized { token } => token.exp,
            Identity::Delegate { token } => token.exp,
            _ => 0,
        })
    }

    /// The verified token as an identity ([`Identity::Authorized`] or
    /// [`Identity::Delegate`]).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

/// Where a host keeps [`ValidatedToken`]s between requests. Implementations must be bounded
/// (a client can present any number of distinct valid tokens): [`TokenStore`] is the bounded
/// state, which `aauth-http`'s `BoundedTokenCache` puts behind a lock.
///
/// The core never calls the cache by itself except in [`verify_request_cached`]; async hosts
/// call [`get`](Self::get) after [`begin_headers`], before the token is decoded, and
/// [`insert`](Self::insert) after [`PendingRequest::finish_remembering`].
pub trait TokenCache {
    /// The token remembered under `digest`, unless it expired at `now`.
    fn get(&self, digest: &TokenDigest, now: UnixTime) -> Option<Arc<ValidatedToken>>;

    /// Remembers `token` (under [`ValidatedToken::digest`]), evicting as the bound requires.
    fn insert(&self, token: Arc<ValidatedToken>, now: UnixTime);
}

/// The `jwt` parameter's value as a slice of the raw header. Both syntaxes write it as
/// `jwt="…"`; the parser already unescaped it into `jwt`, so the occurrence whose text equals
/// it is the one. (A substring search for the whole token costs more than this scan.)
fn borrowed_jwt<'a>(raw: &'a str, jwt: &str) -> Option<&'a str> {
    raw.match_indices("jwt=\"").find_map(|(i, m)| {
        let start = i + m.len();
        let value = raw.get(start..start + jwt.len())?;
        (value == jwt && raw[start + jwt.len()..].starts_with('"')).then_some(value)
    })
}

/// Verifies a request in one call, resolving keys through `resolver`.
///
/// # Errors
/// The first [`VerifyError`] found; [`VerifyError::KeyUnavailable`] when the resolver has no
/// key.
pub fn verify_request(
    req: &RequestParts<'_>,
    resolver: &impl KeyResolver,
    policy: &VerifyPolicy,
    tokens: &TokenPolicy<'_>,
    now: UnixTime,
) -> Result<VerifiedRequest, VerifyError> {
    let pending = begin(req, policy, tokens, now)?;
    let resolved = match pending.key_request() {
        Some(kr) => Some(resolver.resolve(&kr).ok_or(VerifyError::KeyUnavailable)?),
        None => None,
    };
    pending.finish(req, resolved.as_deref(), policy, tokens, now)
}

/// [`verify_request`] with a [`TokenCache`]: a `scheme=jwt` token found in `cache` is not
/// verified again (no key is resolved for it), one verified here is remembered; the request
/// signature is verified every time. See [`CheckedHeaders::finish_cached`].
///
/// # Errors
/// As [`verify_request`].
pub fn verify_request_cached(
    req: &RequestParts<'_>,
    resolver: &impl KeyResolver,
    cache: &impl TokenCache,
    policy: &VerifyPolicy,
    tokens: &TokenPolicy<'_>,
    now: UnixTime,
) -> Result<VerifiedRequest, VerifyError> {
    // A remembered token is looked up by its digest before it is decoded: a hit needs
    // none of its base64 or JSON again.
    let mut checked = begin_headers(req, policy, now)?;
    if let Some(hit) = checked.token_digest().and_then(|d| cache.get(&d, now)) {
        return checked.finish_cached(req, &hit, policy, tokens, now);
    }
    let pending = checked.decode_token(tokens)?;
    let resolved = match pending.key_request() {
        Some(kr) => Some(resolver.resolve(&kr).ok_or(VerifyError::KeyUnavailable)?),
        None => None,
    };
    let (verified, remembered) =
        pending.finish_remembering(req, resolved.as_deref(), policy, tokens, now)?;
    if let Some(t) = remembered {
        cache.insert(Arc::new(t), now);
    }
    Ok(verified)
}
