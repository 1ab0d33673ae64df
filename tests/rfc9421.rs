//! RFC 9421 test vectors, as data files under `tests/vectors/rfc9421/`.

use aauth_core::httpsig::{SignatureEncoding, SignedRequest, VerifyPolicy, params, signature_base};
use aauth_core::{Jwk, Signer, SigningKey, UnixTime};
use aauth_tests::{OwnedRequest, read_json, vectors_dir};

/// RFC 9421 Appendix B.2.6, "Signing a Request Using ed25519":
/// <https://www.rfc-editor.org/rfc/rfc9421#appendix-B.2.6>. Ed25519 is deterministic, so
/// the signature is reproduced byte for byte, then verified.
#[test]
fn appendix_b_2_6_ed25519() {
    let v = read_json(&vectors_dir().join("rfc9421/b2-6-ed25519.json"));
    let r = &v["request"];
    let mut req = OwnedRequest::new(
        r["method"].as_str().unwrap(),
        &format!(
            "{}://{}{}",
            r["scheme"].as_str().unwrap(),
            r["authority"].as_str().unwrap(),
            r["target"].as_str().unwrap()
        ),
    )
    .body(r["body"].as_str().unwrap().as_bytes());
    for h in r["headers"].as_array().unwrap() {
        req = req.header(h[0].as_str().unwrap(), h[1].as_str().unwrap());
    }
    let jwk: Jwk = serde_json::from_value(v["key"].clone()).unwrap();
    let key = SigningKey::from_private_jwk(&jwk, v["key"]["d"].as_str().unwrap()).unwrap();

    let input = v["signature_input"].as_str().unwrap();
    let (label, params) = params::parse_signature_input(input).unwrap();
    assert_eq!(label, v["label"]);
    assert_eq!(format!("{label}={}", params.serialize().unwrap()), input);
    let base = req.with_parts(|p| signature_base(p, &params)).unwrap();
    assert_eq!(
        String::from_utf8(base.clone()).unwrap(),
        v["signature_base"].as_str().unwrap()
    );

    let sig = key.sign(&base);
    let header = params::serialize_signature(label, &sig, SignatureEncoding::Standard);
    assert_eq!(header, v["signature"].as_str().unwrap());

    // And the verifier path, under plain RFC 9421 rules (no AAuth profile: no signature-key).
    let req = req
        .header("Signature-Input", input)
        .header("Signature", v["signature"].as_str().unwrap())
        .header("Signature-Key", "sig-b26=(scheme=hwk kty=\"OKP\")");
    let now = UnixTime::from_secs(v["created"].as_u64().unwrap() + 5);
    let policy = VerifyPolicy::rfc9421();
    req.with_parts(|p| {
        let signed = SignedRequest::parse(p, &policy, now).unwrap();
        signed.verify(p, &key.public_key(), &policy).unwrap();
        // One flipped byte in a covered field breaks it.
        let mut tampered = req.clone().set("Date", "Tue, 20 Apr 2021 02:07:56 GMT");
        tampered.body = p.body.map(<[u8]>::to_vec);
        tampered.with_parts(|t| {
            let s = SignedRequest::parse(t, &policy, now).unwrap();
            assert!(s.verify(t, &key.public_key(), &policy).is_err());
        });
    });
}
