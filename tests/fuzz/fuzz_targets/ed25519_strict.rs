//! Differential: aauth-core's Ed25519 verification (cofactorless check + small-order `R`
//! table + non-canonical and weak keys refused at decode) accepts exactly what
//! ed25519-dalek's `verify_strict` accepts for keys encoded as RFC 8032 §5.1.3 requires
//! (the encoding round-trips; ed25519-dalek alone also reduces `y >= p`). Inputs are built
//! around valid signatures, since random bytes almost never are one: arbitrary bytes, a
//! valid signature with input-chosen bit flips, and forgeries with a small-order `R`
//! (`s = k·a`) against honest and mixed-order keys.
#![no_main]

use aauth_core::{PublicKey, Signer as _, SigningKey};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // `challenge` is used by the core unit tests only.
#[path = "../../../core/src/crypto/forge.rs"]
mod forge;

fn check(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) {
    let ours = PublicKey::ed25519(key).is_ok_and(|k| k.verify_http(msg, sig).is_ok());
    let strict = ed25519_dalek::VerifyingKey::from_bytes(key).is_ok_and(|k| {
        k.to_edwards().compress().to_bytes() == *key
            && k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
                .is_ok()
    });
    assert_eq!(ours, strict, "key {key:02x?} sig {sig:02x?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((seed_byte, rest)) = rest.split_first() else {
        return;
    };
    let seed = [*seed_byte; 32];
    match mode % 3 {
        // Arbitrary key and signature bytes.
        0 => {
            if rest.len() < 96 {
                return;
            }
            let key: [u8; 32] = rest[..32].try_into().expect("32");
            let sig: [u8; 64] = rest[32..96].try_into().expect("64");
            check(&key, &rest[96..], &sig);
        }
        // A valid signature with the first 64 input bytes XORed in (all zero: unchanged).
        1 => {
            let (mask, msg) = rest.split_at(rest.len().min(64));
            let signer = SigningKey::from_seed(&seed);
            let mut sig: [u8; 64] = signer.sign(msg).try_into().expect("64");
            for (s, m) in sig.iter_mut().zip(mask) {
                *s ^= m;
            }
            check(&signer.public_bytes(), msg, &sig);
        }
        // `R` a small-order point, `s = k·a`: the key honest or with a torsion component.
        _ => {
            let Some((&choice, msg)) = rest.split_first() else {
                return;
            };
            let a = forge::secret_scalar(&seed);
            let torsion = EIGHT_TORSION[usize::from(choice >> 3) % 8];
            let key = (EdwardsPoint::mul_base(&a) + torsion).compress().to_bytes();
            let r = EIGHT_TORSION[usize::from(choice) % 8].compress().to_bytes();
            let sig = forge::small_order_r_signature(&a, &key, &r, msg);
            check(&key, msg, &sig);
        }
    }
});
