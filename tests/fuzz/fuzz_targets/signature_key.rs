//! `Signature-Key` parsing never panics, and a parsed value builds (legacy syntax) into a
//! header that parses back to the same label and scheme.
#![no_main]

use aauth_core::signature_key::{MAX_HEADER_LEN, SignatureKey, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(sk) = SignatureKey::parse(text) else {
        return;
    };
    let built = sk.scheme.to_header(sk.label);
    // Everything the legacy parser accepts can be written back (no `hwk` `alg` there).
    if sk.syntax == Syntax::Legacy {
        assert!(built.is_ok(), "legacy value did not build: {text:?}");
    }
    let Ok(built) = built else { return };
    if built.len() > MAX_HEADER_LEN {
        return;
    }
    let again = SignatureKey::parse(&built).expect("built header parses");
    assert_eq!(again.label, sk.label);
    assert_eq!(again.scheme, sk.scheme);
    assert_eq!(again.syntax, Syntax::Legacy);
    assert_eq!(again.raw, built);
    assert_eq!(
        again.scheme.to_header(again.label).as_deref(),
        Ok(built.as_str())
    );
});
