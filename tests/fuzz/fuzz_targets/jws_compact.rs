//! JWS compact and token parsing never panic, whatever the bytes; verification with a fixed
//! key never succeeds on input the fuzzer made up (it cannot forge Ed25519).
#![no_main]

use aauth_core::jws::UnverifiedJws;
use aauth_core::token::{AuthClaims, UnverifiedToken, Validation};
use aauth_core::{SigningKey, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let key = SigningKey::from_seed(&[7; 32]).public_key();
    if let Ok(jws) = UnverifiedJws::parse(text) {
        let _ = jws.header().typ();
        assert!(jws.verify(&key).is_err());
    }
    if let Ok(t) = UnverifiedToken::parse(text) {
        let _ = (t.iss(), t.kid(), t.token_type());
        let v = Validation::any_issuer();
        assert!(t.verify::<AuthClaims>(&key, &v, UnixTime::from_secs(0)).is_err());
    }
});
