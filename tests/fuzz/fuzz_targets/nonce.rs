//! The `Nonce` replay check (digest §2.4) on hostile header values: never panics, accepts
//! only base64url values of 96 to 768 bits, and the claim it builds keeps the value as sent.
#![no_main]

use aauth_core::replay::{MAX_NONCE_CHARS, MIN_NONCE_CHARS, NonceClaim, ReplayScope, parse_nonce};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (method, nonce) = match data.split_first() {
        Some((m, rest)) => (
            ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"][*m as usize % 6],
            rest,
        ),
        None => return,
    };
    if let Ok(n) = parse_nonce(nonce) {
        assert!((MIN_NONCE_CHARS..=MAX_NONCE_CHARS).contains(&n.len()));
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    for scope in [ReplayScope::Off, ReplayScope::Unsafe, ReplayScope::All] {
        match NonceClaim::new(
            method,
            Some(nonce),
            "a.example",
            "jkt",
            u64::MAX - 1,
            60,
            scope,
        ) {
            Ok(Some(c)) => {
                assert!(scope.applies_to(method));
                assert_eq!(c.key.nonce.as_bytes(), nonce);
                assert_eq!(c.expires_at, u64::MAX, "saturates");
            }
            Ok(None) => assert!(!scope.applies_to(method)),
            Err(_) => assert!(scope.applies_to(method) && parse_nonce(nonce).is_err()),
        }
    }
});
