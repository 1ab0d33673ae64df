//! The whole request-verification path over hostile headers and bodies: never panics, and
//! never accepts a request the fuzzer made up (every key it can name is one whose private
//! half it does not have).
//!
//! Input layout: NUL-separated `Signature-Input`, `Signature`, `Signature-Key`,
//! `Content-Digest`, `Content-Type`, `Nonce`, target (path?query), then the body.
#![no_main]

use aauth_core::httpsig::VerifyPolicy;
use aauth_core::verify::{KeyRequest, ResolvedKey, TokenPolicy, verify_request};
use aauth_core::{Signer, SigningKey, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(8, |&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let names = [
        "signature-input",
        "signature",
        "signature-key",
        "content-digest",
        "content-type",
        "nonce",
    ];
    let values: Vec<&[u8]> = names.iter().map(|_| next()).collect();
    let target = core::str::from_utf8(next()).unwrap_or("/");
    let target = if target.starts_with('/') { target } else { "/" };
    let body = next();
    let headers: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (*n, *v))
        .collect();
    let mut req = aauth_core::RequestParts::new("POST", "resource.example", target, &headers);
    if !body.is_empty() {
        req = req.with_body(body);
    }
    let jwk = SigningKey::from_seed(&[3; 32]).public_jwk();
    let resolver = move |_: &KeyRequest<'_>| ResolvedKey::from_jwk(jwk.clone()).ok().map(std::sync::Arc::new);
    let tokens = TokenPolicy::new("https://resource.example").with_trusted_issuers(&["https://as.example"]);
    let now = UnixTime::from_secs(1_768_785_919);
    let r = verify_request(&req, &resolver, &VerifyPolicy::default(), &tokens, now);
    // hwk carries its own key, so a fuzzer could only pass with a real signature, which it
    // cannot produce; every other scheme resolves to a key it does not hold.
    assert!(r.is_err(), "accepted a made-up request");
});
