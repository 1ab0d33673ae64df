//! The agent's error type: what failed, at which hop, and what the server said.

use std::fmt;

use aauth_core::agent_auth::AgentAuthError;
use aauth_core::httpsig::SignatureError;
use aauth_core::signature_key::SignatureKeyError;
use aauth_core::token::TokenError;

use crate::consent::ConsentError;
use crate::trace::Step;

/// Why [`AgentClient::send`](crate::AgentClient::send) (or a helper) failed.
///
/// Every variant that involves a request names the failing hop ([`Step`] and URL), so a
/// caller can tell a refused token request from a broken resource.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentError {
    /// The client configuration is unusable (the field is named).
    Config(&'static str),
    /// The consent hook did not return an authorization code (e.g. `access_denied`).
    Consent(ConsentError),
    /// The egress policy refused a URL (scheme or address) before any request was made.
    EgressDenied {
        /// The hop.
        step: Step,
        /// The refused URL.
        url: String,
    },
    /// The resource demands agent identity (`Agent-Auth: httpsig; identity=?1`) and the
    /// client is pseudonymous.
    IdentityRequired {
        /// The resource URL that asked for identity.
        url: String,
    },
    /// The resource sent an `Agent-Auth` header that does not parse, or an `auth-token`
    /// challenge without `resource_token` / `auth_server`.
    InvalidChallenge {
        /// The resource URL.
        url: String,
        /// The parse error, when there was one.
        source: Option<AgentAuthError>,
    },
    /// A server answered with something that is not the protocol's response.
    InvalidResponse {
        /// The hop.
        step: Step,
        /// The URL of the hop.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        reason: &'static str,
    },
    /// An auth server refused with an OAuth-style error body (digest §2.9):
    /// `{"error": "…", "error_description": "…"}`.
    Protocol {
        /// The hop.
        step: Step,
        /// The URL of the hop.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `error` code, e.g. `invalid_resource_token`.
        error: String,
        /// The `error_description`, if any.
        error_description: Option<String>,
    },
    /// The operating system's random number generator failed (a request `Nonce` could not
    /// be drawn).
    Randomness(getrandom::Error),
    /// The core refused to build the `Signature-Key` header.
    SignatureKey(SignatureKeyError),
    /// The core refused to sign the request.
    Signing(SignatureError),
    /// An agent token could not be minted.
    Token(TokenError),
    /// The request never got an HTTP response (connection, TLS, timeout).
    Transport {
        /// The hop.
        step: Step,
        /// The URL of the hop.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The resource asks for user interaction at its own URL (`user_interaction`), which
    /// this client does not drive.
    UserInteractionRequired {
        /// The resource URL.
        url: String,
        /// The URL the resource wants the user sent to.
        interaction: String,
    },
}

impl AgentError {
    /// The OAuth `error` code when the failure came from a server's error body or from
    /// consent (`access_denied`, …).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Protocol { error, .. } => Some(error),
            Self::Consent(c) => Some(&c.error),
            _ => None,
        }
    }

    /// The failing hop, when the error is tied to one.
    pub fn step(&self) -> Option<Step> {
        match self {
            Self::InvalidResponse { step, .. }
            | Self::EgressDenied { step, .. }
            | Self::Protocol { step, .. }
            | Self::Transport { step, .. } => Some(*step),
            Self::IdentityRequired { .. }
            | Self::InvalidChallenge { .. }
            | Self::UserInteractionRequired { .. } => Some(Step::Resource),
            Self::Consent(_) => Some(Step::Consent),
            _ => None,
        }
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(field) => write!(f, "agent client configuration: {field}"),
            Self::Consent(c) => write!(f, "consent failed: {c}"),
            Self::EgressDenied { step, url } => {
                write!(f, "{step} {url}: refused by the egress policy")
            }
            Self::IdentityRequired { url } => write!(
                f,
                "{url} requires agent identity (identity=?1) but the client is pseudonymous; \
                 configure an agent server or delegate identity"
            ),
            Self::InvalidChallenge { url, source } => match source {
                Some(e) => write!(f, "{url}: invalid Agent-Auth challenge: {e}"),
                None => write!(
                    f,
                    "{url}: auth-token challenge without resource_token and auth_server"
                ),
            },
            Self::InvalidResponse {
                step,
                url,
                status,
                reason,
            } => write!(f, "{step} {url}: HTTP {status}: {reason}"),
            Self::Protocol {
                step,
                url,
                status,
                error,
                error_description,
            } => {
                write!(f, "{step} {url}: HTTP {status}: {error}")?;
                match error_description {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                }
            }
            Self::Randomness(e) => write!(f, "no OS randomness for the request nonce: {e}"),
            Self::SignatureKey(e) => write!(f, "cannot build Signature-Key: {e}"),
            Self::Signing(e) => write!(f, "cannot sign request: {e}"),
            Self::Token(e) => write!(f, "cannot mint agent token: {e}"),
            Self::Transport { step, url, source } => write!(f, "{step} {url}: {source}"),
            Self::UserInteractionRequired { url, interaction } => write!(
                f,
                "{url} requires user interaction at {interaction} (not supported by this client)"
            ),
        }
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Consent(e) => Some(e),
            Self::InvalidChallenge {
                source: Some(e), ..
            } => Some(e),
            Self::Randomness(e) => Some(e),
            Self::SignatureKey(e) => Some(e),
            Self::Signing(e) => Some(e),
            Self::Token(e) => Some(e),
            Self::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<SignatureKeyError> for AgentError {
    fn from(e: SignatureKeyError) -> Self {
        Self::SignatureKey(e)
    }
}

impl From<SignatureError> for AgentError {
    fn from(e: SignatureError) -> Self {
        Self::Signing(e)
    }
}

impl From<TokenError> for AgentError {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

impl From<ConsentError> for AgentError {
    fn from(e: ConsentError) -> Self {
        Self::Consent(e)
    }
}
