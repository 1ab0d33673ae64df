//! What request verification costs over the Ed25519 arithmetic it cannot avoid.
//!
//! `jwt_auth_token/*`: a GET signed with `scheme=jwt` carrying an auth token, as a resource
//! sees it on every authorized call: the token's signature and the request signature are
//! two Ed25519 verifications (the floor, `raw_ed25519_x2`); `verify_request` adds header
//! parsing, policy checks, token claim validation, the `cnf.jwk` key parse and the signer
//! thumbprint. `jwks/*` is the same for an agent server signing with its published key (one
//! verification). `jwt_auth_token/verify_request_cached` is the same request with the auth
//! token remembered by a token cache (`verify_request_cached`): the token's signature is not
//! verified again, the request's is (floor: `raw_ed25519_x1`).
//! Run: `cargo bench -p aauth-core --bench verify`.

use std::hint::black_box;

use aauth_core::httpsig::{SignOptions, sign_request};
use aauth_core::signature_key::KeyScheme;
use aauth_core::{RequestParts, Signer, SigningKey, UnixTime};
use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code, unreachable_pub)]
mod fixture;

fn bench_scheme(c: &mut Criterion, scheme: &str) {
    let f = fixture::fixture(scheme);
    let name = if scheme == "jwt" {
        "jwt_auth_token"
    } else {
        "jwks"
    };
    let mut g = c.benchmark_group(name);
    g.bench_function(format!("raw_ed25519_x{}", f.raw.len()), |b| {
        b.iter(|| f.raw())
    });
    g.bench_function("verify_request", |b| b.iter(|| black_box(f.verify())));
    if scheme == "jwt" {
        // The floor including what the request forces on any verifier: the signing key
        // arrives as 32 bytes in the token's `cnf.jwk` and must be decompressed.
        g.bench_function("raw_ed25519_x2_key_decode", |b| {
            b.iter(|| f.raw_with_key_decode())
        });
        // The same with one field inversion for both signatures, as aauth-core computes it:
        // the least arithmetic the request needs.
        g.bench_function("raw_ed25519_x2_key_decode_shared_inversion", |b| {
            b.iter(|| f.raw_shared_inversion())
        });
        // The same request with the auth token remembered: one Ed25519 verification left.
        g.bench_function("raw_ed25519_x1", |b| b.iter(|| f.raw_first()));
        let cache = fixture::OneToken::default();
        f.verify_cached(&cache);
        g.bench_function("verify_request_cached", |b| {
            b.iter(|| black_box(f.verify_cached(&cache)))
        });
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    bench_scheme(c, "jwt");
    bench_scheme(c, "jwks");
}

fn sign(c: &mut Criterion) {
    let agent = SigningKey::from_seed(&[1; 32]).with_kid("key-1");
    let sk = KeyScheme::Hwk(agent.public_jwk())
        .to_header("sig1")
        .expect("header");
    let now = UnixTime::from_secs(1_768_785_919);
    c.bench_function("sign_request/hwk_get", |b| {
        b.iter(|| {
            let req = RequestParts::new("GET", "resource.example", "/data", &[]);
            black_box(sign_request(&req, &sk, &agent, &SignOptions::new(now)).expect("sign"));
        });
    });
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
