//! The request verification a resource performs on every `scheme=jwt` call, as two exported
//! functions with no imports, so the very same code runs natively (`src/main.rs`), in
//! wasmtime (`tests/spin-host/src/bin/wasm-verify-bench.rs`) and in Node
//! (`tests/bench/wasm-node.mjs`), each timing [`aauth_verify_loop`] from the outside.
//!
//! Build: `cargo build --release -p aauth-verify-loop --target wasm32-unknown-unknown --lib`.

use std::sync::{Arc, OnceLock};

use aauth_core::httpsig::{SignOptions, VerifyPolicy, sign_request};
use aauth_core::token::AuthClaims;
use aauth_core::verify::{KeyRequest, ResolvedKey, TokenPolicy, verify_request};
use aauth_core::{KeyScheme, RequestParts, Signer as _, SigningKey, UnixTime};

const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);
const RESOURCE: &str = "https://resource.example";
const AS: &str = "https://auth.example";

/// A GET signed with `scheme=jwt` carrying an auth token, and the auth server's key.
struct Fixture {
    headers: Vec<(String, String)>,
    issuer: Arc<ResolvedKey>,
}

static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();

fn fixture() -> Option<Fixture> {
    let agent = SigningKey::from_seed(&[1; 32]).with_kid("key-1");
    let auth = SigningKey::from_seed(&[2; 32]).with_kid("auth-key-1");
    let token = AuthClaims::new(AS, RESOURCE, agent.public_jwk(), NOW.saturating_add(3600))
        .with_agent("https://agent.example")
        .with_scope("data.read data.write")
        .sign(&auth)
        .ok()?;
    let sk = KeyScheme::Jwt { jwt: token }.to_header("sig1").ok()?;
    let unsigned = RequestParts::new("GET", "resource.example", "/data-auth", &[]);
    let h = sign_request(&unsigned, &sk, &agent, &SignOptions::new(NOW)).ok()?;
    Some(Fixture {
        headers: h.iter().map(|(n, v)| (n.into(), v.into())).collect(),
        issuer: Arc::new(ResolvedKey::from_jwk(auth.public_jwk()).ok()?),
    })
}

/// Signs the request once (not timed). Returns 1 when the fixture is ready.
#[unsafe(no_mangle)]
pub extern "C" fn aauth_setup() -> u32 {
    u32::from(FIXTURE.get_or_init(fixture).is_some())
}

/// Fully verifies the request `iters` times (`verify_request`: header parsing, the auth
/// token's signature and claims, the request signature with its `cnf.jwk`). Returns how
/// many verifications succeeded (all of them, or 0 without [`aauth_setup`]).
#[unsafe(no_mangle)]
pub extern "C" fn aauth_verify_loop(iters: u32) -> u32 {
    let Some(Some(f)) = FIXTURE.get() else {
        return 0;
    };
    let policy = VerifyPolicy::default();
    let trusted = [AS];
    let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(&trusted);
    let resolver = |_: &KeyRequest<'_>| Some(Arc::clone(&f.issuer));
    let headers: Vec<(&str, &[u8])> = f
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = RequestParts::new("GET", "resource.example", "/data-auth", &headers);
    let mut ok = 0;
    for _ in 0..iters {
        ok += u32::from(verify_request(&req, &resolver, &policy, &tokens, NOW).is_ok());
    }
    ok
}
