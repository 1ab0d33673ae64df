//! What a route requires of a request, as data.

/// The requirement a route places on a request (L§4: the levels of `Agent-Auth`).
///
/// Every level first needs a valid signature; the levels differ in what the signer must
/// prove beyond it.
///
/// ```
/// use aauth_tower::Requirement;
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
}
