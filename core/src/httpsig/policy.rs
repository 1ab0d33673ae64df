//! What a verifier requires of a signature: data, not code.

use alloc::vec::Vec;

use super::SignatureError;
use super::component::Component;
use super::params::SignatureParams;
use crate::request::RequestParts;
use crate::time::UnixTime;

/// Which signature base a verifier reconstructs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseMode {
    /// RFC 9421 §2.5, as the 0.1.0 reference signs.
    #[default]
    Rfc9421,
    /// The January 2026 demo logs (digest §2.11 D1, checklist L-32): no `@signature-params`
    /// line and a trailing newline. Only for replaying those logs: `created` is unsigned.
    LegacyDemoJan2026,
}

/// The verification policy (digest §2.4).
///
/// ```
/// use aauth_core::httpsig::VerifyPolicy;
/// let p = VerifyPolicy::default().with_window(30);
/// assert_eq!(p.window, 30);
/// assert!(p.aauth_profile);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyPolicy {
    /// Enforce the AAuth covered-component rules L-01, L-04..L-06 and L-08.
    pub aauth_profile: bool,
    /// Seconds `created` may lie before or after `now` (L-09; 60 by default).
    pub window: u64,
    /// Refuse signatures without `created` (L-09). On by default.
    pub require_created: bool,
    /// Header fields that must also be covered (a resource's
    /// `additional_signature_components`).
    pub extra_required: Vec<Component>,
    /// Which signature base to rebuild.
    pub base_mode: BaseMode,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        Self {
            aauth_profile: true,
            window: 60,
            require_created: true,
            extra_required: Vec::new(),
            base_mode: BaseMode::Rfc9421,
        }
    }
}

impl VerifyPolicy {
    /// Plain RFC 9421: no AAuth component rules (for RFC test vectors and non-AAuth uses);
    /// `created` still required and checked.
    pub fn rfc9421() -> Self {
        Self {
            aauth_profile: false,
            ..Self::default()
        }
    }

    /// Sets the `created` window in seconds.
    #[must_use]
    pub fn with_window(mut self, secs: u64) -> Self {
        self.window = secs;
        self
    }

    /// Requires these header fields to be covered too.
    #[must_use]
    pub fn with_required(mut self, fields: impl IntoIterator<Item = Component>) -> Self {
        self.extra_required.extend(fields);
        self
    }

    pub(super) fn check(
        &self,
        req: &RequestParts<'_>,
        params: &SignatureParams,
        now: UnixTime,
    ) -> Result<(), SignatureError> {
        if self.aauth_profile {
            check_profile(req, params)?;
        }
        for c in &self.extra_required {
            if !params.covers(c) {
                return Err(SignatureError::MissingComponent(
                    "additional required component",
                ));
            }
        }
        match params.created {
            None if self.require_created => return Err(SignatureError::MissingCreated),
            None => {}
            Some(created) => {
                if created > now.as_secs().saturating_add(self.window) {
                    return Err(SignatureError::CreatedInFuture { now, created });
                }
                if created.saturating_add(self.window) < now.as_secs() {
                    return Err(SignatureError::CreatedTooOld { now, created });
                }
            }
        }
        if let Some(expires) = params.expires
            && now.as_secs() > expires
        {
            return Err(SignatureError::Expired { now, expires });
        }
        Ok(())
    }
}

/// Digest §2.4 / L§10.3: the components every AAuth request covers, and the conditional
/// ones that must be covered if and only if their condition holds.
fn check_profile(req: &RequestParts<'_>, params: &SignatureParams) -> Result<(), SignatureError> {
    for (c, name) in [
        (Component::Method, "@method"),
        (Component::Authority, "@authority"),
        (Component::Path, "@path"),
    ] {
        if !params.covers(&c) {
            return Err(SignatureError::MissingComponent(name));
        }
    }
    if !covers_field(params, "signature-key") {
        return Err(SignatureError::MissingComponent("signature-key"));
    }
    iff(
        params.covers(&Component::Query),
        req.query().is_some(),
        "@query",
    )?;
    let body = req.has_body();
    iff(covers_field(params, "content-type"), body, "content-type")?;
    iff(
        covers_field(params, "content-digest"),
        body,
        "content-digest",
    )?;
    if req.header("nonce").is_some() && !covers_field(params, "nonce") {
        return Err(SignatureError::MissingComponent("nonce"));
    }
    Ok(())
}

/// Whether the header field `name` (lower case) is covered: `params.covers` without building
/// a `Component::Field`, whose name would be allocated on every request.
fn covers_field(params: &SignatureParams, name: &str) -> bool {
    params
        .components
        .iter()
        .any(|c| matches!(c, Component::Field(f) if f == name))
}

fn iff(covered: bool, required: bool, name: &'static str) -> Result<(), SignatureError> {
    match (covered, required) {
        (false, true) => Err(SignatureError::MissingComponent(name)),
        (true, false) => Err(SignatureError::ForbiddenComponent(name)),
        _ => Ok(()),
    }
}
