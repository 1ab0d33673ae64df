//! Password hashing for the consent UI's user accounts: Argon2id with a random per-user salt,
//! stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! The parameters are the `argon2` crate defaults (19 MiB, 2 passes, 1 lane), the OWASP
//! minimum for Argon2id. Hashing and verifying are CPU-bound (tens of milliseconds); call
//! them from a blocking context (`tokio::task::spawn_blocking`), as
//! [`Store::verify_password`](crate::store::Store::verify_password) does.
//!
//! ```
//! use aauth_issuer::password::{hash_password, verify_password_hash};
//!
//! let phc = hash_password("hunter2")?;
//! assert!(phc.starts_with("$argon2id$"));
//! assert!(verify_password_hash("hunter2", &phc)?);
//! assert!(!verify_password_hash("hunter3", &phc)?);
//! # Ok::<(), aauth_issuer::password::PasswordError>(())
//! ```

use core::fmt;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use password_hash::rand_core::{CryptoRngCore, OsRng, RngCore};
use password_hash::{Error as PhcError, SaltString};

/// Why hashing or parsing a password hash failed. Deliberately opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// Hashing failed (e.g. a password longer than Argon2 accepts).
    Hash,
    /// The stored string is not a PHC string this module can verify.
    Malformed,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hash => f.write_str("password hashing failed"),
            Self::Malformed => f.write_str("malformed password hash"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// Hashes `password` with Argon2id and a fresh 128-bit salt from the operating system RNG.
///
/// # Errors
/// [`PasswordError::Hash`] if Argon2 rejects the input.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    hash_password_with_rng(password, &mut OsRng)
}

/// Like [`hash_password`] with the salt drawn from `rng` (use a CSPRNG; fixed seeds only
/// in tests).
///
/// # Errors
/// [`PasswordError::Hash`] if Argon2 rejects the input.
pub fn hash_password_with_rng(
    password: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<String, PasswordError> {
    let salt = SaltString::generate(rng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Checks `password` against a stored PHC string, in constant time with respect to the
/// hash.
///
/// # Errors
/// [`PasswordError::Malformed`] if `phc` does not parse or names an unsupported
/// algorithm. A wrong password is `Ok(false)`, not an error.
pub fn verify_password_hash(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::Malformed)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(PhcError::Password) => Ok(false),
        Err(_) => Err(PasswordError::Malformed),
    }
}

/// Whether `phc` parses as a PHC string. Used to refuse storing plaintext by mistake.
pub fn is_phc_string(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok()
}

/// A hash of a random password with the default parameters, made once per process so the
/// dummy verification always costs what a real one costs.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 16];
        OsRng.fill_bytes(&mut pw);
        let pw: String = pw.iter().map(|b| format!("{b:02x}")).collect();
        // Hashing a 32-character ASCII password with the defaults cannot fail.
        hash_password(&pw).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let a = hash_password("pw").unwrap();
        let b = hash_password("pw").unwrap();
        assert_ne!(a, b, "per-user random salt");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password_hash("pw", &a).unwrap());
        assert!(!verify_password_hash("px", &a).unwrap());
        assert_eq!(
            verify_password_hash("pw", "plaintext"),
            Err(PasswordError::Malformed)
        );
        assert!(is_phc_string(&a));
        assert!(!is_phc_string("pw"));
    }

    #[test]
    fn dummy_hash_uses_default_params() {
        let d = PasswordHash::new(dummy_hash()).unwrap();
        let real_phc = hash_password("x").unwrap();
        let real = PasswordHash::new(&real_phc).unwrap();
        assert_eq!(d.algorithm, real.algorithm);
        assert_eq!(d.params, real.params);
        assert_eq!(verify_password_hash("anything", dummy_hash()), Ok(false));
    }
}
