//! OS-randomness conveniences (the core takes entropy as input; hosts draw it).

use aauth_core::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// Generates a fresh Ed25519 signing key from the OS RNG, with key id `kid`.
///
/// # Errors
/// [`getrandom::Error`] when the OS RNG is unavailable.
pub fn generate_signing_key(kid: impl Into<String>) -> Result<SigningKey, getrandom::Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())?;
    Ok(SigningKey::from_seed(&seed).with_kid(kid))
}

/// 256 random bits, base64url: for `state` values and other one-time identifiers.
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A request `Nonce` (digest L§10.5: base64url, no padding, at least 96 bits): 128 random
/// bits, so a resource's replay cache can refuse a captured request replayed inside the
/// `created` window.
pub(crate) fn request_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
