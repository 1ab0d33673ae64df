//! What a resource requires of a request, and the challenge it answers with when a
//! verified request falls short (digest §2.2, L§4). Host-neutral: the tower middleware and
//! the Spin component both enforce through [`enforce`].

use core::fmt;

use aauth_core::token::{ResourceClaims, TokenError, TokenType};
use aauth_core::verify::{VerifiedRequest, VerifyError};
use aauth_core::{AgentAuth, ErrorCode, ProtocolError, Signer, UnixTime};

/// The requirement a route places on a request (L§4: the levels of `Agent-Auth`).
///
/// Every level first needs a valid signature; the levels differ in what the signer must
/// prove beyond it.
///
/// ```
/// use aauth_http::Requirement;
/// let r = Requirement::auth_token(["data.read", "data.write"]);
/// assert_eq!(r, Requirement::AuthToken { scopes: vec!["data.read".into(), "data.write".into()] });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// An auth token (`scheme=jwt` with an `auth+jwt` from a trusted auth server, `aud` =
    /// this resource) whose `scope` contains every listed scope. Other callers are
    /// challenged with `httpsig; auth-token; resource_token="…"; auth_server="…"` once they
    /// are identified, and with `httpsig; identity=?1` before (a pseudonymous `hwk` key has
    /// no agent identifier to put in a resource token).
    AuthToken {
        /// Scopes that must all be granted; also the `scope` of the resource token.
        scopes: Vec<String>,
    },
    /// An identified agent: `scheme=jwks` (an agent server), `scheme=jwt` with an agent
    /// token (a delegate), or an auth token naming its agent. `hwk` callers are challenged
    /// with `httpsig; identity=?1`.
    Identified,
    /// Any valid signature, pseudonymous `hwk` included. Unsigned requests are challenged
    /// with `httpsig`.
    Signature,
}

impl Requirement {
    /// [`Requirement::AuthToken`] with these scopes.
    pub fn auth_token<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::AuthToken {
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// The challenge for a caller that has not shown enough to get a resource token:
    /// `httpsig` on signature routes, `httpsig; identity=?1` elsewhere.
    ///
    /// ```
    /// use aauth_http::Requirement;
    /// let c = Requirement::Identified.first_challenge();
    /// assert_eq!(c.to_header().unwrap(), "httpsig; identity=?1");
    /// ```
    pub fn first_challenge(&self) -> AgentAuth {
        match self {
            Self::Signature => AgentAuth::pseudonymous(),
            _ => AgentAuth::identity(),
        }
    }
}

/// The requirement a request did not meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmet {
    /// The route needs an auth token and the request carried none.
    AuthToken,
    /// The route needs an identified agent and the signer is pseudonymous.
    Identity,
    /// The auth token does not grant every scope the route needs.
    Scope,
    /// The request is not signed (or did not pass through the AAuth layer).
    Signature,
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AuthToken => "an auth token is required",
            Self::Identity => "agent identity is required",
            Self::Scope => "the auth token does not grant the required scope",
            Self::Signature => "a signed request is required",
        })
    }
}

impl ProtocolError for Unmet {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Scope => ErrorCode::InvalidScope,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

/// Who mints the resource tokens of challenges: this resource (`iss`), the auth server
/// the agent is sent to (`aud`, the first trusted one), the key and the token lifetime.
#[derive(Clone, Copy)]
pub struct ChallengeIssuer<'a> {
    /// The resource identifier.
    pub resource_id: &'a str,
    /// The auth server named in the challenge and as the token's audience.
    pub auth_server: &'a str,
    /// The resource's signing key (with a `kid`).
    pub key: &'a dyn Signer,
    /// Resource-token lifetime in seconds.
    pub lifetime: u64,
}

impl fmt::Debug for ChallengeIssuer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeIssuer")
            .field("resource_id", &self.resource_id)
            .field("auth_server", &self.auth_server)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Why [`enforce`] refused a verified request.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// Answer `401` with this challenge (render with
    /// [`challenge_response`](crate::challenge_response)`(&challenge, Some(&unmet))`).
    Challenge {
        /// The `Agent-Auth` challenge.
        challenge: Box<AgentAuth>,
        /// What is missing.
        unmet: Unmet,
    },
    /// The resource token could not be signed (a `500 server_error`).
    ResourceToken(TokenError),
}

impl Refusal {
    /// The challenge for a caller that has not shown enough for a resource token.
    pub fn before_verification(requirement: &Requirement, unmet: Unmet) -> Self {
        Self::Challenge {
            challenge: Box::new(requirement.first_challenge()),
            unmet,
        }
    }
}

/// Checks a verified request against `requirement`. An identified agent without a
/// sufficient auth token gets `httpsig; auth-token` with a fresh resource token bound to
/// its agent identifier and signing-key thumbprint (digest §2.5), scoped to the route's
/// scopes and naming `issuer.auth_server`.
///
/// # Errors
/// [`Refusal`].
pub fn enforce(
    v: &VerifiedRequest,
    requirement: &Requirement,
    issuer: &ChallengeIssuer<'_>,
    now: UnixTime,
) -> Result<(), Refusal> {
    match requirement {
        Requirement::Signature => Ok(()),
        Requirement::Identified => match v.agent() {
            Some(_) => Ok(()),
            None => Err(Refusal::before_verification(requirement, Unmet::Identity)),
        },
        Requirement::AuthToken { scopes } => {
            let unmet = match v.auth_token() {
                Some(t) if grants(t.scope.as_deref(), scopes) => return Ok(()),
                Some(_) => Unmet::Scope,
                None => Unmet::AuthToken,
            };
            let Some(agent) = v.agent() else {
                return Err(Refusal::before_verification(requirement, Unmet::Identity));
            };
            let token = ResourceClaims::with_scope(
                issuer.resource_id,
                issuer.auth_server,
                agent,
                v.signer_thumbprint(),
                scopes.join(" "),
                now.saturating_add(issuer.lifetime),
            )
            .sign(issuer.key)
            .map_err(Refusal::ResourceToken)?;
            Err(Refusal::Challenge {
                challenge: Box::new(AgentAuth::auth_token(&token, issuer.auth_server)),
                unmet,
            })
        }
    }
}

/// Whether the space-separated `granted` scope string contains every scope in `required`.
///
/// ```
/// assert!(aauth_http::grants(Some("a b c"), &["c".into(), "a".into()]));
/// assert!(!aauth_http::grants(Some("ab"), &["a".into()]));
/// assert!(aauth_http::grants(None, &[]));
/// ```
pub fn grants(granted: Option<&str>, required: &[String]) -> bool {
    let granted = granted.unwrap_or_default();
    required
        .iter()
        .all(|r| granted.split_ascii_whitespace().any(|g| g == r))
}

/// The challenge sent with a verification failure: `Agent-Auth: httpsig`, plus
/// `auth-token` when the request presented an auth token (the reference resource's
/// replies, python reference notes §5). `auth_token` is whether the request carried an
/// `auth+jwt`; before the token is parsed, [`presents_auth_token`] tells it from the error.
pub fn verification_challenge(auth_token: bool) -> AgentAuth {
    let mut challenge = AgentAuth::pseudonymous();
    challenge.auth_token = auth_token;
    challenge
}

/// Whether a failure of [`aauth_core::verify::begin`] concerns an auth token.
pub fn presents_auth_token(e: &VerifyError) -> bool {
    match e {
        VerifyError::UntrustedIssuer => true,
        VerifyError::Token(t) => t.expected() == Some(TokenType::Auth),
        _ => false,
    }
}
