//! Forging Ed25519 signatures the strict checks must refuse, for the unit tests of
//! `ed25519.rs` and the differential fuzz target `ed25519_strict` (which includes this file
//! by path). Test-only: compiled into no library build.

use curve25519_dalek::scalar::{Scalar, clamp_integer};
use sha2::{Digest as _, Sha512};

/// The secret scalar `a` of a seed (RFC 8032 §5.1.5): what an attacker who knows it, or
/// chose a weak key, signs with.
pub(crate) fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let h = Sha512::digest(seed);
    let mut lower = [0u8; 32];
    lower.copy_from_slice(&h[..32]);
    Scalar::from_bytes_mod_order(clamp_integer(lower))
}

/// `k = SHA-512(R || A || M) mod l` (RFC 8032 §5.1.7 step 2).
pub(crate) fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// The signature `(R, s = k·a)` for `key` over `msg`: `[s]B - [k]A` is the identity for an
/// honest key `A = [a]B`, and `-[k]T` for `A = [a]B + T`, so the cofactorless check accepts
/// it whenever that point's encoding is `r`.
pub(crate) fn small_order_r_signature(
    a: &Scalar,
    key: &[u8; 32],
    r: &[u8; 32],
    msg: &[u8],
) -> [u8; 64] {
    let s = challenge(r, key, msg) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(&s.to_bytes());
    sig
}
