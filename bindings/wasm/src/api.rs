//! The binding logic, free of wasm-bindgen types so it runs (and is tested) natively.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use aauth_core::agent_auth::AgentAuth;
use aauth_core::httpsig::{self, SignOptions, VerifyPolicy};
use aauth_core::jws::UnverifiedJws;
use aauth_core::replay::{self, ReplayCache, ReplayScope};
use aauth_core::signature_key::{JwksRef, KeyScheme};
use aauth_core::verify::{
    self, Identity, KeyPurpose, KeySource, PendingRequest, ResolvedKey, TokenPolicy, TokenStore,
    VerifiedRequest,
};
use aauth_core::{
    AgentClaims, AuthClaims, ErrorCode, Jwk, Jwks, ProtocolError, RequestParts, ResourceClaims,
    Signer, SigningKey, UnixTime, UnverifiedToken, Validation,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// An error for JS: the protocol `code` and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The stable code (`invalid_signature`, `invalid_request`, …).
    pub code: &'static str,
    /// A human-readable description.
    pub message: String,
}

impl Error {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str(),
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    fn protocol(e: &impl ProtocolError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

type Result<T> = core::result::Result<T, Error>;

fn parse<'de, T: Deserialize<'de>>(what: &str, json: &'de str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::invalid(format!("{what}: {e}")))
}

fn to_json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::new(ErrorCode::ServerError, e.to_string()))
}

/// A request as the JS wrapper passes it (URL already split by `new URL`).
#[derive(Deserialize)]
struct Req {
    method: String,
    #[serde(default = "https")]
    scheme: String,
    authority: String,
    target: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

fn https() -> String {
    "https".into()
}

impl Req {
    fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect()
    }
}

fn parts<'a>(
    req: &'a Req,
    headers: &'a [(&'a str, &'a [u8])],
    body: Option<&'a [u8]>,
) -> RequestParts<'a> {
    let mut p = RequestParts::new(&req.method, &req.authority, &req.target, headers)
        .with_scheme(&req.scheme);
    if let Some(b) = body {
        p = p.with_body(b);
    }
    p
}

fn signing_key(jwk: &Value) -> Result<SigningKey> {
    let d = jwk
        .get("d")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("the signing key is not a private JWK (no `d`)"))?;
    let public: Jwk = serde_json::from_value(jwk.clone())
        .map_err(|e| Error::invalid(format!("signing key: {e}")))?;
    SigningKey::from_private_jwk(&public, d).map_err(|e| Error::protocol(&e))
}

pub(crate) fn generate_key(seed: Option<&[u8]>, kid: Option<String>) -> Result<String> {
    let mut bytes = [0u8; 32];
    match seed {
        Some(s) => {
            bytes = s
                .try_into()
                .map_err(|_| Error::invalid("the seed must be 32 bytes"))?;
        }
        None => getrandom::fill(&mut bytes)
            .map_err(|e| Error::new(ErrorCode::ServerError, format!("no randomness: {e}")))?,
    }
    let mut key = SigningKey::from_seed(&bytes);
    bytes.fill(0);
    if let Some(k) = kid {
        key = key.with_kid(k);
    }
    let mut v = serde_json::to_value(key.public_jwk())
        .map_err(|e| Error::new(ErrorCode::ServerError, e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("d".into(), Value::String(key.private_d().to_string()));
    }
    to_json(&v)
}

pub(crate) fn public_jwk(jwk: &str) -> Result<String> {
    let public = public_of(jwk)?;
    // Refuse keys this build cannot use (unknown `kty`, bad coordinates, …).
    public.to_public_key().map_err(|e| Error::protocol(&e))?;
    to_json(&public)
}

/// The public members of a JWK (private members are never serialized by [`Jwk`]).
fn public_of(jwk: &str) -> Result<Jwk> {
    let parsed = Jwk::from_json(jwk.as_bytes()).map_err(|e| Error::protocol(&e))?;
    Jwk::from_json(to_json(&parsed)?.as_bytes()).map_err(|e| Error::protocol(&e))
}

pub(crate) fn thumbprint(jwk: &str) -> Result<String> {
    public_of(jwk)?
        .thumbprint()
        .map_err(|e| Error::protocol(&e))
}

/// Signing options from JS.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignOpts {
    #[serde(default)]
    key: Option<Value>,
    scheme: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    well_known: Option<String>,
    #[serde(default)]
    jwks: Option<String>,
    #[serde(default)]
    jwt: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    expires: Option<u64>,
    #[serde(default)]
    components: Vec<String>,
}

fn scheme_of(o: &SignOpts, signer: Option<&SigningKey>) -> Result<KeyScheme> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .ok_or_else(|| Error::invalid(format!("scheme {} needs `{what}`", o.scheme)))
    };
    match o.scheme.as_str() {
        "hwk" => {
            let key = signer.ok_or_else(|| Error::invalid("scheme hwk needs `key`"))?;
            Ok(KeyScheme::Hwk(key.public_jwk()))
        }
        "jwks" => {
            let kid = match (&o.kid, signer.and_then(SigningKey::kid)) {
                (Some(k), _) => k.clone(),
                (None, Some(k)) => k.to_owned(),
                (None, None) => return Err(Error::invalid("scheme jwks needs `kid`")),
            };
            Ok(KeyScheme::Jwks(match (&o.id, &o.jwks) {
                (Some(id), _) => JwksRef::Id {
                    id: id.clone(),
                    kid,
                    well_known: Some(
                        o.well_known
                            .clone()
                            .unwrap_or_else(|| "aauth-agent".to_owned()),
                    ),
                },
                (None, Some(jwks)) => JwksRef::Url {
                    jwks: jwks.clone(),
                    kid,
                },
                (None, None) => return Err(Error::invalid("scheme jwks needs `id` or `jwks`")),
            }))
        }
        "jwt" => Ok(KeyScheme::Jwt {
            jwt: need(&o.jwt, "jwt")?,
        }),
        other => Err(Error::new(
            ErrorCode::UnsupportedScheme,
            format!("unsupported scheme `{other}`"),
        )),
    }
}

pub(crate) fn signature_key_header(opts: &str) -> Result<String> {
    let o: SignOpts = parse("options", opts)?;
    let key = o.key.as_ref().map(signing_key).transpose()?;
    let label = o.label.as_deref().unwrap_or(httpsig::DEFAULT_LABEL);
    scheme_of(&o, key.as_ref())?
        .to_header(label)
        .map_err(|e| Error::protocol(&e))
}

pub(crate) fn sign_request(req: &str, body: Option<&[u8]>, opts: &str) -> Result<String> {
    let req: Req = parse("request", req)?;
    let o: SignOpts = parse("options", opts)?;
    let key = signing_key(
        o.key
            .as_ref()
            .ok_or_else(|| Error::invalid("`key` (a private JWK) is required"))?,
    )?;
    let created = o
        .created
        .ok_or_else(|| Error::invalid("`created` (seconds) is required"))?;
    let label = o.label.as_deref().unwrap_or(httpsig::DEFAULT_LABEL);
    let sk = scheme_of(&o, Some(&key))?
        .to_header(label)
        .map_err(|e| Error::protocol(&e))?;
    let headers = req.header_refs();
    let p = parts(&req, &headers, body);
    let extra: Vec<&str> = o.components.iter().map(String::as_str).collect();
    let mut so = SignOptions::new(UnixTime::from_secs(created))
        .with_label(label)
        .with_extra_components(&extra);
    if let Some(e) = o.expires {
        so = so.with_expires(UnixTime::from_secs(e));
    }
    let h = httpsig::sign_request(&p, &sk, &key, &so).map_err(|e| Error::protocol(&e))?;
    let out: Vec<(&str, &str)> = h.iter().collect();
    to_json(&out)
}

/// Verification options from JS.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyOpts {
    now: u64,
    audience: String,
    #[serde(default)]
    trusted_issuers: Vec<String>,
    #[serde(default)]
    window: Option<u64>,
    #[serde(default)]
    leeway: Option<u64>,
    /// Whether the replay cache passed along is to be used (the token-cache exports always
    /// take one).
    #[serde(default)]
    replay: bool,
}

fn with_policies<T>(
    o: &VerifyOpts,
    f: impl FnOnce(&VerifyPolicy, &TokenPolicy<'_>) -> Result<T>,
) -> Result<T> {
    let issuers: Vec<&str> = o.trusted_issuers.iter().map(String::as_str).collect();
    let mut tokens = TokenPolicy::new(&o.audience).with_trusted_issuers(&issuers);
    if let Some(l) = o.leeway {
        tokens = tokens.with_leeway(l);
    }
    let mut policy = VerifyPolicy::default();
    if let Some(w) = o.window {
        policy = policy.with_window(w);
    }
    f(&policy, &tokens)
}

#[cfg(test)]
pub(crate) fn verify_key_request(
    req: &str,
    body: Option<&[u8]>,
    opts: &str,
) -> Result<Option<String>> {
    match first_step(None, req, body, opts, None)? {
        First::Key(kr) => Ok(kr),
        First::Verified(_) => Err(Error::new(ErrorCode::ServerError, "no token cache")),
    }
}

/// The key a pending request needs, as JSON `{source, kid, purpose}`; `None` for `hwk`.
fn key_request_json(pending: &PendingRequest<'_>) -> Result<Option<String>> {
    let Some(kr) = pending.key_request() else {
        return Ok(None);
    };
    let source = match kr.source {
        KeySource::Jwks(url) => json!({ "jwks": url }),
        KeySource::Metadata { id, well_known } => {
            json!({ "metadata": { "id": id, "wellKnown": well_known,
                "url": aauth_core::metadata::well_known_url(id, well_known) } })
        }
        _ => {
            return Err(Error::new(
                ErrorCode::UnsupportedScheme,
                "unknown key source",
            ));
        }
    };
    let purpose = match kr.purpose {
        KeyPurpose::Signer => "signer",
        KeyPurpose::AgentToken => "agentToken",
        KeyPurpose::AuthToken => "authToken",
        _ => "other",
    };
    to_json(&json!({ "source": source, "kid": kr.kid, "purpose": purpose })).map(Some)
}

/// A JWK Set or a single JWK, narrowed to `kid`.
fn resolve(key: &str, kid: Option<&str>) -> Result<ResolvedKey> {
    let v: Value = parse("key", key)?;
    if v.get("keys").is_some() {
        let set = Jwks::from_json(key.as_bytes()).map_err(|e| Error::protocol(&e))?;
        ResolvedKey::select(&set, kid)
            .map_err(|e| Error::new(ErrorCode::InvalidSignature, e.to_string()))
    } else {
        let jwk = Jwk::from_json(key.as_bytes()).map_err(|e| Error::protocol(&e))?;
        ResolvedKey::from_jwk(jwk).map_err(|e| Error::protocol(&e))
    }
}

/// `replay`: when given (and `opts.replay` is true), a `Nonce` on an unsafe method is
/// checked against and recorded in it once the request verified (digest L§10.5; the same
/// rule as aauth-tower's).
#[cfg(test)]
pub(crate) fn verify_request(
    req: &str,
    body: Option<&[u8]>,
    opts: &str,
    key: Option<&str>,
    replay: Option<&RefCell<ReplayCache>>,
) -> Result<String> {
    verify_remembering(None, req, body, opts, key, replay)
}

/// A verified request as JSON for JS, after the `Nonce` replay check when `replay` is given.
fn output(
    v: &VerifiedRequest,
    req: &Req,
    headers: &[(&str, &[u8])],
    o: &VerifyOpts,
    policy: &VerifyPolicy,
    replay: Option<&RefCell<ReplayCache>>,
) -> Result<String> {
    if let Some(cache) = replay {
        let nonces = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("nonce"))
            .map(|(_, v)| *v);
        let claim = replay::nonce_claim(
            &req.method,
            nonces,
            &req.authority,
            v,
            policy.window,
            ReplayScope::Unsafe,
        )
        .map_err(|e| Error::protocol(&e))?;
        if let Some(c) = claim {
            cache
                .borrow_mut()
                .check_and_insert(c, o.now)
                .map_err(|e| Error::protocol(&e))?;
        }
    }
    let (scheme, claims) = match v.identity() {
        Identity::Pseudonymous => ("hwk", Value::Null),
        Identity::Agent { .. } => ("jwks", Value::Null),
        Identity::Delegate { token } => (
            "jwt",
            serde_json::to_value(token.claims()).unwrap_or(Value::Null),
        ),
        Identity::Authorized { token } => (
            "jwt",
            serde_json::to_value(token.claims()).unwrap_or(Value::Null),
        ),
        _ => ("other", Value::Null),
    };
    to_json(&json!({
        "scheme": scheme,
        "agent": v.agent(),
        "agentDelegate": v.agent_delegate(),
        "thumbprint": v.signer_thumbprint(),
        "jwk": v.signer_jwk(),
        "label": v.label(),
        "created": v.created(),
        "claims": claims,
    }))
}

/// What the first step of a verification found.
enum First {
    /// A remembered token: the verified request as JSON.
    Verified(String),
    /// The key the request needs, as JSON (`None` for `hwk`).
    Key(Option<String>),
}

/// First step with a token cache: a `scheme=jwt` token remembered in `store` finishes the
/// verification here with no key (the JSON [`verify_request`] returns, with `scheme`);
/// otherwise the key the request needs (JSON with `source`; `None` for `hwk`), for
/// [`verify_remembering`] once the caller has fetched it. The request signature is verified
/// on every hit; the token's claims are rechecked at `now`.
pub(crate) fn verify_cached(
    store: &RefCell<TokenStore>,
    req: &str,
    body: Option<&[u8]>,
    opts: &str,
    replay: Option<&RefCell<ReplayCache>>,
) -> Result<Option<String>> {
    Ok(match first_step(Some(store), req, body, opts, replay)? {
        First::Verified(v) => Some(v),
        First::Key(kr) => kr,
    })
}

/// Every keyless check, then a lookup of a `scheme=jwt` token in `store`.
fn first_step(
    store: Option<&RefCell<TokenStore>>,
    req: &str,
    body: Option<&[u8]>,
    opts: &str,
    replay: Option<&RefCell<ReplayCache>>,
) -> Result<First> {
    let req: Req = parse("request", req)?;
    let o: VerifyOpts = parse("options", opts)?;
    let headers = req.header_refs();
    let p = parts(&req, &headers, body);
    let now = UnixTime::from_secs(o.now);
    let replay = replay.filter(|_| o.replay);
    with_policies(&o, |policy, tokens| {
        let mut checked =
            verify::begin_headers(&p, policy, now).map_err(|e| Error::protocol(&e))?;
        let hit = store.and_then(|s| {
            let d = checked.token_digest()?;
            s.borrow_mut().get(&d, now)
        });
        if let Some(hit) = hit {
            let v = checked
                .finish_cached(&p, &hit, policy, tokens, now)
                .map_err(|e| Error::protocol(&e))?;
            return output(&v, &req, &headers, &o, policy, replay).map(First::Verified);
        }
        let pending = checked
            .decode_token(tokens)
            .map_err(|e| Error::protocol(&e))?;
        key_request_json(&pending).map(First::Key)
    })
}

/// Verifies with the fetched `key` (the second step after a miss in [`verify_cached`]),
/// remembering a verified `scheme=jwt` token in `store` when given.
pub(crate) fn verify_remembering(
    store: Option<&RefCell<TokenStore>>,
    req: &str,
    body: Option<&[u8]>,
    opts: &str,
    key: Option<&str>,
    replay: Option<&RefCell<ReplayCache>>,
) -> Result<String> {
    let req: Req = parse("request", req)?;
    let o: VerifyOpts = parse("options", opts)?;
    let headers = req.header_refs();
    let p = parts(&req, &headers, body);
    let now = UnixTime::from_secs(o.now);
    let replay = replay.filter(|_| o.replay);
    with_policies(&o, |policy, tokens| {
        let pending = verify::begin_headers(&p, policy, now)
            .and_then(|c| c.decode_token(tokens))
            .map_err(|e| Error::protocol(&e))?;
        let kid = pending.key_request().and_then(|k| k.kid.map(str::to_owned));
        let resolved = key.map(|k| resolve(k, kid.as_deref())).transpose()?;
        let (v, remembered) = pending
            .finish_remembering(&p, resolved.as_ref(), policy, tokens, now)
            .map_err(|e| Error::protocol(&e))?;
        let out = output(&v, &req, &headers, &o, policy, replay)?;
        if let (Some(s), Some(t)) = (store, remembered) {
            s.borrow_mut().insert(Arc::new(t), now);
        }
        Ok(out)
    })
}

pub(crate) fn parse_agent_auth(value: &str) -> Result<String> {
    let c = AgentAuth::parse(value).map_err(|e| Error::protocol(&e))?;
    to_json(&json!({
        "identity": c.identity,
        "authToken": c.auth_token,
        "resourceToken": c.resource_token,
        "authServer": c.auth_server,
        "userInteraction": c.user_interaction,
        "algs": c.algs,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChallengeIn {
    #[serde(default)]
    identity: Option<bool>,
    #[serde(default)]
    auth_token: bool,
    #[serde(default)]
    resource_token: Option<String>,
    #[serde(default)]
    auth_server: Option<String>,
    #[serde(default)]
    user_interaction: Option<String>,
    #[serde(default)]
    algs: Vec<String>,
}

pub(crate) fn build_agent_auth(challenge: &str) -> Result<String> {
    let c: ChallengeIn = parse("challenge", challenge)?;
    let mut a = AgentAuth::pseudonymous();
    a.identity = c.identity;
    a.auth_token = c.auth_token;
    a.resource_token = c.resource_token;
    a.auth_server = c.auth_server;
    a.user_interaction = c.user_interaction;
    a.algs = c.algs;
    a.to_header().map_err(|e| Error::protocol(&e))
}

pub(crate) fn decode_token(token: &str) -> Result<String> {
    let jws = UnverifiedJws::parse(token).map_err(|e| Error::protocol(&e))?;
    let payload: Value = serde_json::from_slice(jws.payload())
        .map_err(|e| Error::new(ErrorCode::InvalidToken, format!("claims: {e}")))?;
    let h = jws.header();
    to_json(&json!({
        "header": { "alg": h.alg().as_str(), "typ": h.typ(), "kid": h.kid() },
        "payload": payload,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenOpts {
    #[serde(rename = "type")]
    kind: String,
    now: u64,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    leeway: Option<u64>,
}

pub(crate) fn verify_token(token: &str, jwks: &str, opts: &str) -> Result<String> {
    let o: TokenOpts = parse("options", opts)?;
    let t = UnverifiedToken::parse(token).map_err(|e| Error::protocol(&e))?;
    let key = resolve(jwks, t.kid())?;
    let mut v = match &o.issuer {
        Some(i) => Validation::issuer(i),
        None => Validation::any_issuer(),
    };
    if let Some(a) = &o.audience {
        v = v.with_audience(a);
    }
    if let Some(l) = o.leeway {
        v = v.with_leeway(l);
    }
    let now = UnixTime::from_secs(o.now);
    let e = |e: aauth_core::token::TokenError| Error::protocol(&e);
    match o.kind.as_str() {
        "agent" => to_json(
            t.verify::<AgentClaims>(&key.key, &v, now)
                .map_err(e)?
                .claims(),
        ),
        "auth" => to_json(
            t.verify::<AuthClaims>(&key.key, &v, now)
                .map_err(e)?
                .claims(),
        ),
        "resource" => to_json(
            t.verify::<ResourceClaims>(&key.key, &v, now)
                .map_err(e)?
                .claims(),
        ),
        other => Err(Error::invalid(format!(
            "token type must be agent, auth or resource, not `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_hwk() -> Result<()> {
        let key = generate_key(Some(&[7; 32]), None)?;
        let req = r#"{"method":"POST","scheme":"http","authority":"127.0.0.1:1","target":"/x?y=1","headers":[["content-type","text/plain"]]}"#;
        let opts = format!(r#"{{"key":{key},"scheme":"hwk","created":1000}}"#);
        let added: Vec<(String, String)> =
            serde_json::from_str(&sign_request(req, Some(b"hi"), &opts)?)
                .map_err(|e| Error::invalid(e.to_string()))?;
        let mut r: Value = serde_json::from_str(req).map_err(|e| Error::invalid(e.to_string()))?;
        if let Some(h) = r["headers"].as_array_mut() {
            for (n, v) in added {
                h.push(json!([n, v]));
            }
        }
        let r = r.to_string();
        let vo = r#"{"now":1001,"audience":"http://127.0.0.1:1"}"#;
        assert_eq!(verify_key_request(&r, Some(b"hi"), vo)?, None);
        let out: Value = serde_json::from_str(&verify_request(&r, Some(b"hi"), vo, None, None)?)
            .map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(out["scheme"], "hwk");
        let bad = verify_request(&r, Some(b"ho"), vo, None, None);
        assert_eq!(bad.map_err(|e| e.code), Err("invalid_signature"));
        Ok(())
    }

    /// A signed POST with `headers` (and the signature headers added), as JSON.
    fn signed_post(headers: &str, created: u64) -> Result<String> {
        let key = generate_key(Some(&[7; 32]), None)?;
        let req = format!(
            r#"{{"method":"POST","scheme":"http","authority":"127.0.0.1:1","target":"/x","headers":{headers}}}"#
        );
        let opts = format!(r#"{{"key":{key},"scheme":"hwk","created":{created}}}"#);
        let added: Vec<(String, String)> =
            serde_json::from_str(&sign_request(&req, Some(b"hi"), &opts)?)
                .map_err(|e| Error::invalid(e.to_string()))?;
        let mut r: Value = serde_json::from_str(&req).map_err(|e| Error::invalid(e.to_string()))?;
        if let Some(h) = r["headers"].as_array_mut() {
            for (n, v) in added {
                h.push(json!([n, v]));
            }
        }
        Ok(r.to_string())
    }

    #[test]
    fn a_replayed_nonce_is_refused_with_a_cache_and_only_then() -> Result<()> {
        let with_nonce = signed_post(
            r#"[["content-type","text/plain"],["nonce","Y3VyaW91c2x5Y3VyaW91cw"]]"#,
            1000,
        )?;
        let vo = r#"{"now":1001,"audience":"http://127.0.0.1:1","replay":true}"#;
        let cache = RefCell::new(ReplayCache::new(16));
        let once = verify_request(&with_nonce, Some(b"hi"), vo, None, Some(&cache));
        assert!(once.is_ok(), "{once:?}");
        let again = verify_request(&with_nonce, Some(b"hi"), vo, None, Some(&cache));
        assert_eq!(again.map_err(|e| e.code), Err("invalid_signature"));
        // Without a cache nothing is remembered (the caller opted out).
        assert!(verify_request(&with_nonce, Some(b"hi"), vo, None, None).is_ok());
        assert_eq!(cache.borrow().len(), 1);
        // A POST without a Nonce is not remembered.
        let plain = signed_post(r#"[["content-type","text/plain"]]"#, 1000)?;
        assert!(verify_request(&plain, Some(b"hi"), vo, None, Some(&cache)).is_ok());
        assert!(verify_request(&plain, Some(b"hi"), vo, None, Some(&cache)).is_ok());
        assert_eq!(cache.borrow().len(), 1);
        Ok(())
    }

    /// With a token cache, a `scheme=jwt` token is verified with a key once; afterwards the
    /// first step finishes without asking for one, and still checks the request signature.
    #[test]
    fn a_remembered_token_needs_no_key() -> Result<()> {
        let issuer = SigningKey::from_seed(&[5; 32]).with_kid("auth-key-1");
        let agent = generate_key(Some(&[6; 32]), None)?;
        let agent_key: Value =
            serde_json::from_str(&agent).map_err(|e| Error::invalid(e.to_string()))?;
        let agent_key = signing_key(&agent_key)?;
        let jwt = AuthClaims::new(
            "https://auth.example",
            "https://r.example",
            agent_key.public_jwk(),
            UnixTime::from_secs(2000),
        )
        .with_agent("https://agent.example")
        .sign(&issuer)
        .map_err(|e| Error::protocol(&e))?;
        let req = r#"{"method":"GET","scheme":"https","authority":"r.example","target":"/x","headers":[]}"#;
        let sign_with = |key: &str| -> Result<String> {
            let opts = format!(r#"{{"key":{key},"scheme":"jwt","jwt":"{jwt}","created":1000}}"#);
            let added: Vec<(String, String)> =
                serde_json::from_str(&sign_request(req, None, &opts)?)
                    .map_err(|e| Error::invalid(e.to_string()))?;
            Ok(json!({"method":"GET","scheme":"https","authority":"r.example","target":"/x","headers":added}).to_string())
        };
        let signed = sign_with(&agent)?;
        let vo = r#"{"now":1001,"audience":"https://r.example","trustedIssuers":["https://auth.example"]}"#;
        let store = RefCell::new(TokenStore::new(4));
        let first = verify_cached(&store, &signed, None, vo, None)?.unwrap_or_default();
        let first: Value =
            serde_json::from_str(&first).map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(first["purpose"], "authToken");
        let jwks = json!({ "keys": [issuer.public_jwk()] }).to_string();
        verify_remembering(Some(&store), &signed, None, vo, Some(&jwks), None)?;
        assert_eq!(store.borrow().len(), 1);
        let hit = verify_cached(&store, &signed, None, vo, None)?.unwrap_or_default();
        let hit: Value = serde_json::from_str(&hit).map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(hit["scheme"], "jwt");
        assert_eq!(hit["agent"], "https://agent.example");
        // The same token, the request signed by another key: refused on the hit.
        let other = sign_with(&generate_key(Some(&[7; 32]), None)?)?;
        let bad = verify_cached(&store, &other, None, vo, None);
        assert_eq!(bad.map_err(|e| e.code), Err("invalid_signature"));
        Ok(())
    }

    #[test]
    fn errors_carry_codes() {
        assert_eq!(
            parse_agent_auth("nope").map_err(|e| e.code),
            Err("invalid_request")
        );
        assert_eq!(
            generate_key(Some(&[1; 3]), None).map_err(|e| e.code),
            Err("invalid_request")
        );
        assert!(decode_token("x").is_err());
    }

    /// The same JSON-boundary calls as `bench/bench.mjs`, natively, for comparison:
    /// `cargo test --release -p aauth-wasm -- --ignored --nocapture bench_native`.
    #[test]
    #[ignore = "timing, run by hand"]
    fn bench_native() -> Result<()> {
        let key = generate_key(Some(&[3; 32]), Some("key-1".into()))?;
        let req = r#"{"method":"POST","scheme":"https","authority":"resource.example","target":"/items?x=1","headers":[["content-type","application/json"]]}"#;
        let body: &[u8] = br#"{"hello":"world"}"#;
        let opts = format!(r#"{{"key":{key},"scheme":"hwk","created":1768785919}}"#);
        // Best of five rounds, like bench.mjs (the round least disturbed by other load).
        let time = |name: &str, n: u32, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let t0 = std::time::Instant::now();
                for _ in 0..n {
                    f()?;
                }
                best = best.min(t0.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            }
            println!("{name:28} {best:8.1} us/op {:9.0} ops/s", 1e6 / best);
            Ok(())
        };
        let added: Vec<(String, String)> =
            serde_json::from_str(&sign_request(req, Some(body), &opts)?)
                .map_err(|e| Error::invalid(e.to_string()))?;
        let mut r: Value = serde_json::from_str(req).map_err(|e| Error::invalid(e.to_string()))?;
        if let Some(h) = r["headers"].as_array_mut() {
            for (n, v) in added {
                h.push(json!([n, v]));
            }
        }
        let signed = r.to_string();
        let vo = r#"{"now":1768785919,"audience":"https://resource.example"}"#;
        time("signRequest (hwk, body)", 1000, &mut || {
            sign_request(req, Some(body), &opts).map(drop)
        })?;
        time("verifyRequest (hwk, body)", 1000, &mut || {
            verify_request(&signed, Some(body), vo, None, None).map(drop)
        })?;
        time("parseAgentAuth", 10000, &mut || {
            parse_agent_auth(r#"httpsig; auth-token; resource_token="eyJ.x.y"; auth_server="https://auth.example""#).map(drop)
        })?;
        time("thumbprint", 10000, &mut || thumbprint(&key).map(drop))?;
        Ok(())
    }
}
