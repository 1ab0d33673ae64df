//! `Content-Digest` verification never panics, and the digest we compute always verifies.
#![no_main]

use aauth_core::content_digest::{sha256, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    if let Ok(h) = core::str::from_utf8(header) {
        let _ = verify(h, body);
    }
    verify(&sha256(body), body).expect("own digest verifies");
});
