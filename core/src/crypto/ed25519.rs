//! Ed25519 (RFC 8032) through ed25519-dalek, and Ed25519 JWKs (RFC 8037).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, VerifyingKey};
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use super::{Alg, KeyError, Signer, VerifyError};
use crate::b64;
use crate::jwk::Jwk;

pub(super) fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, KeyError> {
    let x = jwk.x.as_deref().ok_or(KeyError::InvalidMember("x"))?;
    let bytes = b64::url_decode_array::<32>(x).ok_or(KeyError::InvalidMember("x"))?;
    decode(&bytes)
}

/// Decodes a public key as RFC 8032 §5.1.3 does, refusing points of small order ("weak"
/// keys: any signature made for one verifies for many messages). Every key [`verify`] sees
/// was decoded here, so the checks run once per key instead of on every verification.
///
/// ed25519-dalek decodes more leniently than §5.1.3: it reduces a `y` at or above `p` and
/// takes `x = 0` with the sign bit set. Those encodings are refused first; what is left
/// encodes each point exactly once, so a point is of small order exactly when its bytes
/// are one of [`SMALL_ORDER_ENCODINGS`], a table lookup instead of ed25519-dalek's
/// `is_weak` (three point doublings and a projective comparison on every new key, such as
/// the `cnf.jwk` of each auth token).
pub(super) fn decode(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    if !is_canonical(bytes) || SMALL_ORDER_ENCODINGS.contains(bytes) {
        return Err(KeyError::InvalidKey);
    }
    VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidKey)
}

/// Whether `bytes` is an encoding RFC 8032 §5.1.3 decodes: `y < p` (steps 1-2), and not
/// `x = 0` with the sign bit set (step 4). `x = 0` only for `y = ±1`, so the second rule
/// names two encodings.
fn is_canonical(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    y[31] &= 0x7f;
    let sign = bytes[31] >> 7;
    // `Y_MINUS_ONE` is `p - 1`: `y` at or above `p` is greater. Little-endian, so the most
    // significant byte that differs decides.
    let at_or_above_p = y.iter().rev().cmp(Y_MINUS_ONE.iter().rev()).is_gt();
    let x_is_zero = y == Y_MINUS_ONE || y == Y_ONE;
    !(at_or_above_p || (x_is_zero && sign == 1))
}

/// `y = 1`, `x = 0`, little-endian: the identity.
const Y_ONE: [u8; 32] = hex32(b"0100000000000000000000000000000000000000000000000000000000000000");
/// `y = -1 = p - 1 = 2^255 - 20`, `x = 0`: the point of order 2.
const Y_MINUS_ONE: [u8; 32] =
    hex32(b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

/// The canonical encodings of the eight points of small order (the torsion subgroup E\[8\]):
/// the identity, the point of order 2, two of order 4 and four of order 8.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = [
    Y_ONE,
    Y_MINUS_ONE,
    hex32(b"0000000000000000000000000000000000000000000000000000000000000000"),
    hex32(b"0000000000000000000000000000000000000000000000000000000000000080"),
    hex32(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

/// Ed25519 verification (RFC 8032 §5.1.7) with the strictness of ed25519-dalek's
/// `verify_strict`: canonical `s`, `R` and the key not of small order. For keys encoded as
/// RFC 8032 §5.1.3 requires (the only ones [`decode`] takes) it accepts exactly what
/// `verify_strict` accepts, for less work:
/// - the cofactorless check compares `R`'s bytes with the canonical encoding of
///   `[s]B - [k]A` (what ed25519-dalek's `Verifier::verify` computes), so a non-canonical
///   `R` never passes, and a passing `R` is of small order exactly when its bytes are one of
///   [`SMALL_ORDER_ENCODINGS`]: a 256-byte comparison instead of `verify_strict`'s point
///   decompression (a field square root) and two small-order multiplications per signature;
/// - the key was refused at [`decode`] if it is of small order.
///
/// Honest signers never produce what the strict checks refuse; RFC 8032 §5.1.7 leaves them
/// to the verifier, and they close the malleability and weak-key cases catalogued in
/// "Taming the many EdDSAs" (Chalkias et al., 2020).
pub(super) fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
    Equation::new(key, msg, sig)?.check()
}

/// Two [`verify`]s that share one field inversion.
///
/// Encoding the computed point `[s]B - [k]A` takes an inversion of its `Z` coordinate (a
/// 255-squaring exponentiation, about a tenth of a verification); two points can be
/// encoded with one inversion and three multiplications (Montgomery's trick, curve25519-
/// dalek's `compress_batch`). A `scheme=jwt` request carries two signatures, the token's
/// and the request's, so it pays for one inversion instead of two. Each result is exactly
/// what [`verify`] returns for that signature alone.
#[cfg(feature = "fast")]
pub(super) fn verify_two(
    a: (&VerifyingKey, &[u8], &[u8]),
    b: (&VerifyingKey, &[u8], &[u8]),
) -> [Result<(), VerifyError>; 2] {
    match (Equation::new(a.0, a.1, a.2), Equation::new(b.0, b.1, b.2)) {
        (Ok(x), Ok(y)) => {
            let [cx, cy] = EdwardsPoint::compress_batch(&[x.computed, y.computed]);
            [x.holds(cx), y.holds(cy)]
        }
        (x, y) => [x, y].map(|eq| eq.and_then(|e| e.check())),
    }
}

/// One signature's verification equation up to the final comparison (RFC 8032 §5.1.7
/// step 3, cofactorless): `R` as received, and `[s]B - [k]A` as computed from `s`, the key
/// and `k = SHA-512(R || A || M)`.
struct Equation {
    r: [u8; 32],
    computed: EdwardsPoint,
}

impl Equation {
    fn new(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> Result<Self, VerifyError> {
        let (r, s) = sig
            .split_first_chunk::<32>()
            .ok_or(VerifyError::BadSignature)?;
        let s: &[u8; 32] = s.try_into().map_err(|_| VerifyError::BadSignature)?;
        if SMALL_ORDER_ENCODINGS.contains(r) {
            return Err(VerifyError::BadSignature);
        }
        // RFC 8032 §5.1.7 step 1: `s` must be below the group order (no malleability).
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*s))
            .ok_or(VerifyError::BadSignature)?;
        let k = Sha512::new()
            .chain_update(r)
            .chain_update(key.as_bytes())
            .chain_update(msg)
            .finalize();
        let k = Scalar::from_bytes_mod_order_wide(&k.into());
        let minus_a = -key.to_edwards();
        Ok(Self {
            r: *r,
            computed: EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s),
        })
    }

    /// Whether the computed point, encoded on its own (one inversion), is `R`.
    fn check(&self) -> Result<(), VerifyError> {
        self.holds(self.computed.compress())
    }

    /// Whether the computed point, encoded, is `R`. Both are public: no need for a
    /// constant-time comparison.
    fn holds(&self, encoded: CompressedEdwardsY) -> Result<(), VerifyError> {
        if encoded.0 == self.r {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// Hex to bytes at compile time (the table above stays readable and checkable by eye).
const fn hex32(h: &[u8; 64]) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lowercase hex"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(h[2 * i]) << 4) | nibble(h[2 * i + 1]);
        i += 1;
    }
    out
}

/// An Ed25519 private key held in memory.
///
/// Not `Clone`; `Debug` prints no secret; the seed is zeroized on drop.
///
/// ```
/// use aauth_core::{Signer, SigningKey};
/// let key = SigningKey::from_seed(&[7u8; 32]).with_kid("key-1");
/// let jwk = key.public_jwk();
/// assert_eq!(jwk.kty, "OKP");
/// assert_eq!(jwk.kid.as_deref(), Some("key-1"));
/// assert_eq!(key.sign(b"hello").len(), 64);
/// ```
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: Option<String>,
}

impl SigningKey {
    /// A key from its 32-byte seed (RFC 8032 private key; the JWK `d` member of RFC 8037).
    /// The caller supplies the entropy: hosts draw it from the OS.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
            kid: None,
        }
    }

    /// A key from an OKP JWK with `d` (RFC 8037 §2).
    ///
    /// # Errors
    /// [`KeyError`] when the JWK is not Ed25519, `d` is malformed, or `x` does not match `d`.
    pub fn from_private_jwk(jwk: &Jwk, d: &str) -> Result<Self, KeyError> {
        if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
            return Err(KeyError::UnsupportedKeyType);
        }
        let seed =
            Zeroizing::new(b64::url_decode_array::<32>(d).ok_or(KeyError::InvalidMember("d"))?);
        let key = Self::from_seed(&seed);
        if let Some(x) = &jwk.x
            && *x != b64::url_encode(key.key.verifying_key().as_bytes())
        {
            return Err(KeyError::InvalidKey);
        }
        Ok(Self {
            kid: jwk.kid.clone(),
            ..key
        })
    }

    /// Sets the `kid` published with the public key.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The 32-byte seed, for persisting the key. Handle with care.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The RFC 8037 `d` member: base64url of the seed.
    pub fn private_d(&self) -> Zeroizing<String> {
        Zeroizing::new(b64::url_encode(&self.key.to_bytes()))
    }

    /// The 32-byte public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public half, ready to verify.
    pub fn public_key(&self) -> super::PublicKey {
        super::PublicKey {
            inner: super::KeyInner::Ed25519(self.key.verifying_key()),
            alg: None,
        }
    }
}

impl Signer for SigningKey {
    fn jws_alg(&self) -> Alg {
        Alg::EdDsa
    }

    fn public_jwk(&self) -> Jwk {
        Jwk::ed25519(&self.public_bytes(), self.kid.clone())
    }

    fn kid(&self) -> Option<String> {
        self.kid.clone()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).to_bytes().to_vec()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("key", &"[secret key elided]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signature, Verifier as _};

    use super::*;
    use crate::crypto::PublicKey;
    use crate::crypto::forge::{challenge, secret_scalar, small_order_r_signature};

    const SEED: [u8; 32] = [0x42; 32];

    fn ours(key_bytes: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        decode(key_bytes).is_ok_and(|k| verify(&k, msg, sig).is_ok())
    }

    fn dalek_strict(key_bytes: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(key_bytes)
            .is_ok_and(|k| k.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
    }

    fn dalek_cofactorless(key_bytes: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        VerifyingKey::from_bytes(key_bytes)
            .is_ok_and(|k| k.verify(msg, &Signature::from_bytes(sig)).is_ok())
    }

    #[test]
    fn the_small_order_table_is_the_torsion_subgroup() {
        let mut from_curve: Vec<[u8; 32]> = EIGHT_TORSION
            .iter()
            .map(|p| p.compress().to_bytes())
            .collect();
        let mut table = SMALL_ORDER_ENCODINGS.to_vec();
        from_curve.sort_unstable();
        table.sort_unstable();
        assert_eq!(from_curve, table);
        for e in &SMALL_ORDER_ENCODINGS {
            let p = CompressedEdwardsY(*e).decompress().expect("on the curve");
            assert!(p.is_small_order());
            assert_eq!(p.compress().to_bytes(), *e, "canonical");
        }
    }

    #[test]
    fn weak_keys_are_refused_when_decoded() {
        for e in &SMALL_ORDER_ENCODINGS {
            assert_eq!(decode(e).err(), Some(KeyError::InvalidKey));
            assert_eq!(PublicKey::ed25519(e).err(), Some(KeyError::InvalidKey));
            let jwk = Jwk::ed25519(e, None);
            assert_eq!(PublicKey::from_jwk(&jwk).err(), Some(KeyError::InvalidKey));
        }
        let honest = SigningKey::from_seed(&SEED).public_bytes();
        assert!(decode(&honest).is_ok());
    }

    /// RFC 8032 §5.1.3 with the small-order refusal, written the slow way: decompress, encode
    /// again (canonical iff the bytes come back) and multiply by the cofactor.
    fn strict_reference(bytes: &[u8; 32]) -> bool {
        CompressedEdwardsY(*bytes)
            .decompress()
            .is_some_and(|p| p.compress().to_bytes() == *bytes && !p.is_small_order())
    }

    /// Encodings of small-order points, every non-canonical encoding there is (`y = p + i`
    /// for both signs, the two "negative zero" encodings), honest keys, honest keys plus a
    /// torsion point (mixed order: valid keys), and pseudo-random bytes (about half not on
    /// the curve): [`decode`] accepts exactly what the reference accepts.
    #[test]
    fn decoding_accepts_exactly_the_canonical_keys_of_large_order() {
        let mut cases: Vec<[u8; 32]> = SMALL_ORDER_ENCODINGS.to_vec();
        let mut non_canonical = Vec::new();
        for i in 0..19u8 {
            // p + i = 2^255 - 19 + i, little-endian.
            let mut y = [0xff; 32];
            y[0] = 0xed + i;
            for sign in [0x7f, 0xff] {
                y[31] = sign;
                non_canonical.push(y);
            }
        }
        for zero in [Y_ONE, Y_MINUS_ONE] {
            let mut negative = zero;
            negative[31] |= 0x80;
            non_canonical.push(negative);
        }
        let lenient = non_canonical
            .iter()
            .filter(|b| VerifyingKey::from_bytes(b).is_ok())
            .count();
        assert!(
            lenient >= 4,
            "ed25519-dalek takes {lenient} of them: the check is ours"
        );
        cases.extend(&non_canonical);
        for i in 0..512u32 {
            let seed: [u8; 32] = Sha512::digest(i.to_le_bytes())[..32].try_into().unwrap();
            let honest = EdwardsPoint::mul_base(&secret_scalar(&seed));
            cases.push(honest.compress().to_bytes());
            let torsion = EIGHT_TORSION[i as usize % 8];
            cases.push((honest + torsion).compress().to_bytes());
            cases.push(seed);
        }
        let mut accepted = 0;
        for bytes in &cases {
            let ours = decode(bytes).is_ok();
            assert_eq!(ours, strict_reference(bytes), "{bytes:02x?}");
            accepted += usize::from(ours);
        }
        for bytes in non_canonical.iter().chain(&SMALL_ORDER_ENCODINGS) {
            assert_eq!(decode(bytes).err(), Some(KeyError::InvalidKey));
        }
        assert!(accepted > 1024, "only {accepted} accepted");
    }

    /// A signature whose `R` is the identity, for an honest key: `s = k·a` makes
    /// `[s]B - [k]A` the identity. The cofactorless check alone accepts it; the table must not.
    #[test]
    fn an_identity_r_forgery_is_refused() {
        let a = secret_scalar(&SEED);
        let key = EdwardsPoint::mul_base(&a).compress().to_bytes();
        assert_eq!(key, SigningKey::from_seed(&SEED).public_bytes());
        let r = SMALL_ORDER_ENCODINGS[0];
        let msg = b"forged";
        let sig = small_order_r_signature(&a, &key, &r, msg);
        assert!(
            dalek_cofactorless(&key, msg, &sig),
            "the forgery passes without the table"
        );
        assert!(!dalek_strict(&key, msg, &sig));
        assert!(!ours(&key, msg, &sig));
    }

    /// The same forgery with an order-8 `R`, against a key with a torsion component
    /// (`A = [a]B + T`, not itself of small order): `[s]B - [k]A = -[k]T`, which is `R` for
    /// about one message in eight.
    #[test]
    fn a_torsion_r_forgery_against_a_mixed_order_key_is_refused() {
        let a = secret_scalar(&SEED);
        let t = EIGHT_TORSION[1];
        let key = (EdwardsPoint::mul_base(&a) + t).compress().to_bytes();
        assert!(decode(&key).is_ok(), "a mixed-order key is not weak");
        let mut forged = 0;
        for i in 0u32..64 {
            let msg = i.to_le_bytes();
            for r_point in EIGHT_TORSION.iter().skip(1) {
                let r = r_point.compress().to_bytes();
                let k = challenge(&r, &key, &msg);
                if (-(k * t)).compress().to_bytes() != r {
                    continue;
                }
                let sig = small_order_r_signature(&a, &key, &r, &msg);
                assert!(dalek_cofactorless(&key, &msg, &sig));
                assert!(!dalek_strict(&key, &msg, &sig));
                assert!(!ours(&key, &msg, &sig));
                forged += 1;
            }
        }
        assert!(forged > 10, "the search found {forged} forgeries");
    }

    /// `sig` with `s + l` in place of `s`: the same point equation, a non-canonical scalar.
    fn non_canonical_s(sig: &[u8; 64]) -> [u8; 64] {
        // l = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let mut l = (-Scalar::ONE).to_bytes();
        l[0] += 1;
        let mut out = *sig;
        let mut carry = 0u16;
        for (i, l) in l.iter().enumerate() {
            let v = u16::from(sig[32 + i]) + u16::from(*l) + carry;
            out[32 + i] = v as u8;
            carry = v >> 8;
        }
        out
    }

    /// A valid signature, each of its one-bit changes, and the same with `s + l`.
    fn variants(good: [u8; 64]) -> Vec<[u8; 64]> {
        let mut cases = vec![good];
        for bit in 0..512 {
            let mut c = good;
            c[bit / 8] ^= 1 << (bit % 8);
            cases.push(c);
        }
        cases.push(non_canonical_s(&good));
        cases
    }

    /// Every one-bit change of a valid signature, a non-canonical `s`, and the valid
    /// signatures themselves: accepted exactly when `verify_strict` accepts.
    #[test]
    fn accepts_exactly_what_verify_strict_accepts() {
        let mut accepted = 0;
        for seed_byte in 0u8..2 {
            let signer = SigningKey::from_seed(&[seed_byte; 32]);
            let key = signer.public_bytes();
            let msg = [seed_byte; 40];
            let good: [u8; 64] = Signer::sign(&signer, &msg).try_into().expect("64 bytes");
            for sig in &variants(good) {
                let strict = dalek_strict(&key, &msg, sig);
                assert_eq!(ours(&key, &msg, sig), strict, "signature {sig:02x?}");
                accepted += usize::from(strict);
            }
            // The wrong message.
            assert!(!ours(&key, b"other", &good));
        }
        assert_eq!(accepted, 2, "only the untouched signatures verify");
    }

    /// Two signatures checked together are judged exactly as each is alone, whichever of
    /// the two is altered (each one-bit change, `s + l`, a small-order `R` forgery, the
    /// wrong length), and in either order.
    #[cfg(feature = "fast")]
    #[test]
    fn two_at_once_are_judged_each_as_alone() {
        let (sa, sb) = (
            SigningKey::from_seed(&SEED),
            SigningKey::from_seed(&[7; 32]),
        );
        let (ka, kb) = (
            decode(&sa.public_bytes()).unwrap(),
            decode(&sb.public_bytes()).unwrap(),
        );
        let (ma, mb) = (b"the token".as_slice(), b"the request".as_slice());
        let good_a: [u8; 64] = Signer::sign(&sa, ma).try_into().expect("64 bytes");
        let good_b = Signer::sign(&sb, mb);
        let forged = small_order_r_signature(
            &secret_scalar(&SEED),
            &sa.public_bytes(),
            &SMALL_ORDER_ENCODINGS[0],
            ma,
        );
        let mut cases: Vec<Vec<u8>> = variants(good_a).iter().map(|c| c.to_vec()).collect();
        cases.extend([forged.to_vec(), good_a[..63].to_vec(), Vec::new()]);
        let alone_b = verify(&kb, mb, &good_b);
        assert_eq!(alone_b, Ok(()));
        let mut accepted = 0;
        for sig in &cases {
            let alone_a = verify(&ka, ma, sig);
            assert_eq!(
                verify_two((&ka, ma, sig), (&kb, mb, &good_b)),
                [alone_a, alone_b]
            );
            assert_eq!(
                verify_two((&kb, mb, &good_b), (&ka, ma, sig)),
                [alone_b, alone_a]
            );
            accepted += usize::from(alone_a.is_ok());
        }
        assert_eq!(accepted, 1, "only the untouched signature verifies");
        // Each signature under the other's key and message.
        assert_eq!(
            verify_two((&ka, mb, &good_b), (&kb, ma, &good_a)),
            [Err(VerifyError::BadSignature); 2]
        );
    }
}
