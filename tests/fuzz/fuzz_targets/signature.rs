//! `Signature` parsing never panics; a parsed value re-serializes (in both encodings) to a
//! value that parses to the same bytes.
#![no_main]

use aauth_core::httpsig::SignatureEncoding;
use aauth_core::httpsig::params::{parse_signature, serialize_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok((label, bytes)) = parse_signature(text) else {
        return;
    };
    for enc in [SignatureEncoding::Base64Url, SignatureEncoding::Standard] {
        let s = serialize_signature(label, &bytes, enc);
        let (l2, b2) = parse_signature(&s).expect("serialized signature parses");
        assert_eq!((l2, b2.as_slice()), (label, bytes.as_slice()));
    }
});
