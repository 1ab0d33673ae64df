//! `Signature-Input` parsing never panics, and what parses serializes to a value that parses
//! back to the same parameters (RFC 9421 §4.1).
#![no_main]

use aauth_core::httpsig::params::parse_signature_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok((label, params)) = parse_signature_input(text) else {
        return;
    };
    let Ok(serialized) = params.serialize() else {
        return;
    };
    let again = format!("{label}={serialized}");
    let (label2, params2) = parse_signature_input(&again).expect("serialized value parses");
    assert_eq!(label, label2);
    assert_eq!(params, params2);
    assert_eq!(params2.serialize().as_deref(), Ok(serialized.as_str()));
});
