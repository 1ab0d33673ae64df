//! JWK parsing, thumbprint and key conversion never panic; a public JWK survives
//! serialize → parse unchanged, thumbprint included.
#![no_main]

use aauth_core::Jwk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(jwk) = Jwk::from_json(data) else {
        return;
    };
    let thumbprint = jwk.thumbprint();
    let key = jwk.to_public_key();
    if jwk.has_private_members() {
        assert!(
            key.is_err(),
            "a JWK with private members must not become a public key"
        );
        return;
    }
    let json = serde_json::to_vec(&jwk).expect("a JWK serializes");
    let again = Jwk::from_json(&json).expect("serialized JWK parses");
    assert_eq!(again, jwk);
    assert_eq!(again.thumbprint(), thumbprint);
    assert_eq!(again.to_public_key().is_ok(), key.is_ok());
});
