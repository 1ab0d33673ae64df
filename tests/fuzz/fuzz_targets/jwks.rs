//! JWKS parsing and key selection never panic; a found key carries the requested kid;
//! a set without private members survives serialize → parse unchanged.
#![no_main]

use aauth_core::Jwks;
use aauth_core::jwk::SelectError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(set) = Jwks::from_json(data) else {
        return;
    };
    let _ = set.select(None);
    for jwk in set.keys.iter().take(16) {
        let kid = jwk.kid.as_deref();
        match set.find(kid) {
            Ok(found) => assert!(kid.is_none() || found.kid.as_deref() == kid),
            Err(SelectError::AmbiguousKid) => {
                assert!(set.keys.iter().filter(|k| k.kid.as_deref() == kid).count() > 1);
            }
            Err(e) => assert!(kid.is_none() && set.keys.len() > 1, "{e:?}"),
        }
        let _ = set.select(kid);
    }
    if set.keys.iter().any(|k| k.has_private_members()) {
        return;
    }
    let json = serde_json::to_vec(&set).expect("a JWKS serializes");
    assert_eq!(Jwks::from_json(&json).expect("serialized JWKS parses"), set);
});
