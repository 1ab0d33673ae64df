//! What request verification costs over the Ed25519 arithmetic it cannot avoid.
//!
//! `jwt_auth_token/*`: a GET signed with `scheme=jwt` carrying an auth token, as a resource
//! sees it on every authorized call: the token's signature and the request signature are
//! two Ed25519 verifications (the floor, `raw_ed25519_x2`); `verify_request` adds header
//! parsing, policy checks, token claim validation, the `cnf.jwk` key parse and the signer
//! thumbprint. `jwks/*` is the same for an agent server signing with its published key (one
//! verification). Run: `cargo bench -p aauth-core --bench verify`.

use std::hint::black_box;
use std::sync::Arc;

use aauth_core::httpsig::{SignOptions, VerifyPolicy, sign_request};
use aauth_core::signature_key::{JwksRef, KeyScheme};
use aauth_core::token::AuthClaims;
use aauth_core::verify::{KeyRequest, ResolvedKey, TokenPolicy, verify_request};
use aauth_core::{RequestParts, Signer, SigningKey, UnixTime};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};

const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);
const RESOURCE: &str = "https://resource.example";
const AS: &str = "https://auth.example";

struct Fixture {
    headers: Vec<(String, String)>,
    issuer: Arc<ResolvedKey>,
    raw: Vec<(VerifyingKey, Vec<u8>, Signature)>,
}

fn fixture(scheme: &str) -> Fixture {
    let agent = SigningKey::from_seed(&[1; 32]).with_kid("key-1");
    let auth = SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1");
    let token = AuthClaims::new(AS, RESOURCE, agent.public_jwk(), NOW.saturating_add(3600))
        .with_agent("https://agent.example")
        .with_scope("data.read data.write")
        .sign(&auth)
        .expect("token");
    let (sk, issuer_key) = match scheme {
        "jwt" => (KeyScheme::Jwt { jwt: token.clone() }, &auth),
        _ => (
            KeyScheme::Jwks(JwksRef::Id {
                id: "https://agent.example".into(),
                kid: "key-1".into(),
                well_known: Some("aauth-agent".into()),
            }),
            &agent,
        ),
    };
    let sk = sk.to_header("sig1").expect("header");
    let unsigned = RequestParts::new("GET", "resource.example", "/data-auth", &[]);
    let h = sign_request(&unsigned, &sk, &agent, &SignOptions::new(NOW)).expect("sign");
    let headers: Vec<(String, String)> = h
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();

    // The raw verifications the request needs, with keys already parsed.
    let borrowed: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = RequestParts::new("GET", "resource.example", "/data-auth", &borrowed);
    let signed = aauth_core::httpsig::SignedRequest::parse(&req, &VerifyPolicy::default(), NOW)
        .expect("parse");
    let base = signed
        .signature_base(&req, Default::default())
        .expect("base");
    let http_sig = agent.sign(&base);
    let vk = |k: &SigningKey| VerifyingKey::from_bytes(&k.public_bytes()).expect("key");
    let mut raw = vec![(
        vk(&agent),
        base,
        Signature::from_slice(&http_sig).expect("sig"),
    )];
    if scheme == "jwt" {
        let (input, sig) = token.rsplit_once('.').expect("jws");
        use base64::Engine as _;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .expect("b64");
        raw.push((
            vk(&auth),
            input.as_bytes().to_vec(),
            Signature::from_slice(&sig).expect("sig"),
        ));
    }
    Fixture {
        headers,
        issuer: Arc::new(ResolvedKey::from_jwk(issuer_key.public_jwk()).expect("jwk")),
        raw,
    }
}

fn bench_scheme(c: &mut Criterion, scheme: &str) {
    let f = fixture(scheme);
    let name = if scheme == "jwt" {
        "jwt_auth_token"
    } else {
        "jwks"
    };
    let mut g = c.benchmark_group(name);
    g.bench_function(format!("raw_ed25519_x{}", f.raw.len()), |b| {
        b.iter(|| {
            for (k, m, s) in &f.raw {
                k.verify_strict(black_box(m), black_box(s))
                    .expect("raw verify");
            }
        });
    });
    let policy = VerifyPolicy::default();
    let trusted = [AS];
    let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(&trusted);
    let resolver = |_: &KeyRequest<'_>| Some(Arc::clone(&f.issuer));
    g.bench_function("verify_request", |b| {
        b.iter(|| {
            let headers: Vec<(&str, &[u8])> = f
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            let req = RequestParts::new("GET", "resource.example", "/data-auth", &headers);
            let v =
                verify_request(black_box(&req), &resolver, &policy, &tokens, NOW).expect("verify");
            black_box(v);
        });
    });
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
    c.bench_function("sign_request/hwk_get", |b| {
        b.iter(|| {
            let req = RequestParts::new("GET", "resource.example", "/data", &[]);
            black_box(sign_request(&req, &sk, &agent, &SignOptions::new(NOW)).expect("sign"));
        });
    });
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
