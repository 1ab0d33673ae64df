//! RFC test vectors for the JOSE layer, loaded from `tests/vectors/<rfc>/*.json`: one test
//! per RFC, each linking the section its data comes from.

use aauth_core::jws::{JwsError, UnverifiedJws, sign_compact};
use aauth_core::{Alg, Jwk, PublicKey, SigningKey};
use aauth_tests::{read_json, vectors_dir};
use serde_json::Value;

fn vector(path: &str) -> Value {
    read_json(&vectors_dir().join(path))
}

fn jwk(v: &Value) -> Jwk {
    Jwk::from_json(v.to_string().as_bytes()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// Flips one bit in the payload segment's first character so the signature no longer
/// matches (the decoded payload changes, the segment stays valid base64url).
fn tamper(compact: &str) -> String {
    let (h, rest) = compact.split_once('.').unwrap();
    let flipped = if rest.starts_with('e') { 'f' } else { 'e' };
    format!("{h}.{flipped}{}", &rest[1..])
}

/// RFC 8037 Appendix A: Ed25519 key (A.1, A.2), its RFC 7638 thumbprint (A.3), and the
/// JWS signing (A.4) and verification (A.5) examples.
/// <https://www.rfc-editor.org/rfc/rfc8037#appendix-A>
#[test]
fn rfc8037_appendix_a() {
    let v = vector("rfc8037/ed25519.json");
    let private = jwk(&v["a1_private_jwk"]);
    let key = SigningKey::from_private_jwk(&private, s(&v["a1_private_jwk"]["d"])).unwrap();
    let public = jwk(&v["a2_public_jwk"]);
    assert_eq!(key.public_bytes().to_vec(), {
        let k = PublicKey::from_jwk(&public).unwrap();
        k.ed25519_bytes().unwrap().to_vec()
    });
    // A.3
    assert_eq!(public.thumbprint().unwrap(), s(&v["a3_thumbprint"]));
    // A.4: Ed25519 is deterministic, so signing reproduces the RFC's JWS exactly.
    let compact = sign_compact(None, None, s(&v["a4_payload"]).as_bytes(), &key);
    assert_eq!(compact, s(&v["a4_compact"]));
    // A.5
    let parsed = UnverifiedJws::parse(s(&v["a4_compact"])).unwrap();
    assert_eq!(parsed.signing_input(), s(&v["a4_signing_input"]));
    assert_eq!(parsed.header().alg(), Alg::EdDsa);
    let pk = public.to_public_key().unwrap();
    assert_eq!(
        parsed.verify(&pk).unwrap().payload(),
        s(&v["a4_payload"]).as_bytes()
    );
    let bad = tamper(s(&v["a4_compact"]));
    assert_eq!(
        UnverifiedJws::parse(&bad).unwrap().verify(&pk).err(),
        Some(JwsError::BadSignature)
    );
}

/// RFC 7638 §3.1: the thumbprint of the example RSA key (members `e`, `kty`, `n` only).
/// <https://www.rfc-editor.org/rfc/rfc7638#section-3.1>
#[test]
fn rfc7638_section_3_1() {
    let v = vector("rfc7638/rsa_thumbprint.json");
    let key = jwk(&v["jwk"]);
    assert_eq!(key.thumbprint().unwrap(), s(&v["thumbprint"]));
    // The key is 2048 bits and published for RS256, so it is also usable for verification.
    assert!(key.to_public_key().unwrap().fits(Alg::Rs256));
    assert!(!key.to_public_key().unwrap().fits(Alg::Ps256));
}

/// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): verification of the published JWSs.
/// <https://www.rfc-editor.org/rfc/rfc7515#appendix-A.2>,
/// <https://www.rfc-editor.org/rfc/rfc7515#appendix-A.3>
#[test]
fn rfc7515_appendix_a2_a3() {
    let v = vector("rfc7515/rs256_es256.json");
    for (name, alg) in [("a2", Alg::Rs256), ("a3", Alg::Es256)] {
        let case = &v[name];
        let key = jwk(&case["jwk"]).to_public_key().unwrap();
        let compact = s(&case["compact"]);
        let parsed = UnverifiedJws::parse(compact).unwrap();
        assert_eq!(parsed.header().alg(), alg, "{name}");
        let verified = parsed
            .verify(&key)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.payload(), s(&case["payload"]).as_bytes(), "{name}");
        let tampered = tamper(compact);
        let bad = UnverifiedJws::parse(&tampered).unwrap();
        assert_eq!(
            bad.verify(&key).err(),
            Some(JwsError::BadSignature),
            "{name}"
        );
    }
    // The RSA signature checked as PS256 (same key, other padding) must fail.
    let a2 = &v["a2"];
    let (_, rest) = s(&a2["compact"]).split_once('.').unwrap();
    let ps = format!("{}.{rest}", "eyJhbGciOiJQUzI1NiJ9"); // {"alg":"PS256"}
    let key = jwk(&a2["jwk"]).to_public_key().unwrap();
    assert_eq!(
        UnverifiedJws::parse(&ps).unwrap().verify(&key).err(),
        Some(JwsError::BadSignature)
    );
}

/// PS256 (RFC 7518 §3.5) and RFC 9421 §3.3.1 `rsa-pss-sha512`: RSASSA-PSS is randomized,
/// so there is no published known answer; `tests/vectors/ps256/gen_ps256.py` generated
/// this one with pyca/cryptography.
/// <https://www.rfc-editor.org/rfc/rfc7518#section-3.5>,
/// <https://www.rfc-editor.org/rfc/rfc9421#section-3.3.1>
#[test]
fn rfc7518_ps256_generated() {
    let v = vector("ps256/ps256.json");
    let key = jwk(&v["jwk"]).to_public_key().unwrap();
    let compact = s(&v["compact"]);
    let parsed = UnverifiedJws::parse(compact).unwrap();
    assert_eq!(parsed.header().alg(), Alg::Ps256);
    assert_eq!(
        parsed.verify(&key).unwrap().payload(),
        s(&v["payload"]).as_bytes()
    );
    let tampered = tamper(compact);
    let bad = UnverifiedJws::parse(&tampered).unwrap();
    assert_eq!(bad.verify(&key).err(), Some(JwsError::BadSignature));

    let http = &v["rsa_pss_sha512"];
    let sig = b64u_decode(s(&http["signature"]));
    let base = s(&http["signature_base"]).as_bytes();
    assert!(key.verify_http(base, &sig).is_ok());
    assert!(key.verify_http(&base[1..], &sig).is_err());
    // The SHA-512 signature is not a PS256 signature.
    assert!(key.verify_jws(Alg::Ps256, base, &sig).is_err());
}

fn b64u_decode(s: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = A.iter().position(|&a| a == c).unwrap() as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n & 0xff) as u8);
        }
    }
    out
}
