//! The request-verification fixture shared by the criterion benchmark and the
//! instruction-count example: a GET signed with `scheme=jwt` (auth token) or `jwks`, and the
//! raw Ed25519 verifications it needs, on pre-parsed keys.
//!
//! The floor is ed25519-dalek's cofactorless `verify`: one double-base scalar multiplication,
//! one point compression and SHA-512, the least arithmetic an Ed25519 verification needs.
//! aauth-core accepts only what `verify_strict` accepts, but gets there with a table lookup
//! on `R` and a check per key at decode instead of `verify_strict`'s extra point
//! decompression per signature (core/src/crypto/ed25519.rs), so its strictness is not part of
//! the floor it is measured against.

use std::sync::Arc;

use aauth_core::httpsig::{SignOptions, VerifyPolicy, sign_request};
use aauth_core::signature_key::{JwksRef, KeyScheme};
use aauth_core::token::AuthClaims;
use aauth_core::verify::{
    KeyRequest, ResolvedKey, TokenCache, TokenDigest, TokenPolicy, ValidatedToken, VerifiedRequest,
    verify_request, verify_request_cached,
};
use aauth_core::{RequestParts, Signer, SigningKey, UnixTime};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha512};

const NOW: UnixTime = UnixTime::from_secs(1_768_785_919);
const RESOURCE: &str = "https://resource.example";
const AS: &str = "https://auth.example";

/// A signed request and what verifying it needs.
pub struct Fixture {
    /// The signature headers as sent.
    pub headers: Vec<(String, String)>,
    /// The key the resolver hands out (auth server key for `jwt`, agent key for `jwks`).
    pub issuer: Arc<ResolvedKey>,
    /// Each raw verification: pre-parsed key, message, signature.
    pub raw: Vec<(VerifyingKey, Vec<u8>, Signature)>,
}

/// The fixture for `scheme` (`jwt` with an auth token, or `jwks`).
pub fn fixture(scheme: &str) -> Fixture {
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

impl Fixture {
    /// The raw verifications: what any implementation must compute.
    pub fn raw(&self) {
        for (k, m, s) in &self.raw {
            k.verify(m, s).expect("raw verify");
        }
    }

    /// The first raw verification only: the request signature.
    pub fn raw_first(&self) {
        let (k, m, s) = &self.raw[0];
        k.verify(m, s).expect("raw verify");
    }

    /// The raw verifications plus decoding the request-signing key from its 32 bytes, as a
    /// verifier of `scheme=jwt` must (the key arrives in the token's `cnf.jwk`).
    pub fn raw_with_key_decode(&self) {
        for (i, (k, m, s)) in self.raw.iter().enumerate() {
            let key = if i == 0 {
                VerifyingKey::from_bytes(&k.to_bytes()).expect("decode")
            } else {
                *k
            };
            key.verify(m, s).expect("raw verify");
        }
    }

    /// The least arithmetic the request needs: the raw verifications, decoding the
    /// request-signing key, and the two computed points encoded with one field inversion
    /// (curve25519-dalek's `compress_batch`), as aauth-core's `scheme=jwt` path does; two
    /// separate `verify` calls spend an inversion each.
    pub fn raw_shared_inversion(&self) {
        let computed = |k: &VerifyingKey, m: &[u8], s: &Signature| {
            let h = Sha512::new()
                .chain_update(s.r_bytes())
                .chain_update(k.as_bytes())
                .chain_update(m)
                .finalize();
            let k_scalar = Scalar::from_bytes_mod_order_wide(&h.into());
            let s_scalar =
                Option::<Scalar>::from(Scalar::from_canonical_bytes(*s.s_bytes())).expect("s");
            EdwardsPoint::vartime_double_scalar_mul_basepoint(
                &k_scalar,
                &-k.to_edwards(),
                &s_scalar,
            )
        };
        let [(rk, rm, rs), (tk, tm, ts)] = [&self.raw[0], &self.raw[1]];
        let rk = VerifyingKey::from_bytes(&rk.to_bytes()).expect("decode");
        let points = EdwardsPoint::compress_batch(&[computed(&rk, rm, rs), computed(tk, tm, ts)]);
        assert!(
            points[0].as_bytes() == rs.r_bytes() && points[1].as_bytes() == ts.r_bytes(),
            "raw verify"
        );
    }

    /// The full verification of the request.
    pub fn verify(&self) -> VerifiedRequest {
        self.check(|req, resolver, policy, tokens| {
            verify_request(req, &resolver, policy, tokens, NOW)
        })
    }

    /// The verification of the request with a token cache: after the first call the token
    /// is remembered and only the request signature is verified (`scheme=jwt`).
    pub fn verify_cached(&self, cache: &OneToken) -> VerifiedRequest {
        self.check(|req, resolver, policy, tokens| {
            verify_request_cached(req, &resolver, cache, policy, tokens, NOW)
        })
    }

    /// Runs `verify` on the signed request with the fixture's policies and resolver.
    fn check(
        &self,
        verify: impl FnOnce(
            &RequestParts<'_>,
            &dyn Fn(&KeyRequest<'_>) -> Option<Arc<ResolvedKey>>,
            &VerifyPolicy,
            &TokenPolicy<'_>,
        ) -> Result<VerifiedRequest, aauth_core::verify::VerifyError>,
    ) -> VerifiedRequest {
        let trusted = [AS];
        let tokens = TokenPolicy::new(RESOURCE).with_trusted_issuers(&trusted);
        let resolver = |_: &KeyRequest<'_>| Some(Arc::clone(&self.issuer));
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let req = RequestParts::new("GET", "resource.example", "/data-auth", &headers);
        verify(&req, &resolver, &VerifyPolicy::default(), &tokens).expect("verify")
    }
}

/// A token cache of one entry: the cost of a hit without a host's map and lock.
#[derive(Default)]
pub struct OneToken(std::sync::Mutex<Option<Arc<ValidatedToken>>>);

impl TokenCache for OneToken {
    fn get(&self, digest: &TokenDigest, _: UnixTime) -> Option<Arc<ValidatedToken>> {
        let slot = self.0.lock().expect("lock");
        slot.as_ref().filter(|t| t.digest() == *digest).cloned()
    }

    fn insert(&self, token: Arc<ValidatedToken>, _: UnixTime) {
        *self.0.lock().expect("lock") = Some(token);
    }
}
