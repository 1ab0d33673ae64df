//! A record of every hop of one [`send`](crate::AgentClient::send), for CLIs and logs.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Which hop of the exchange a request was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// The user-consent step run by the consent hook.
    Consent,
    /// `GET {auth_server}/.well-known/aauth-issuer`.
    IssuerMetadata,
    /// The request to the resource.
    Resource,
    /// The request to the resource again, with the auth token.
    Retry,
    /// `POST` to the auth server's `agent_token_endpoint` with this `request_type`
    /// (`auth`, `code` or `refresh`).
    Token(&'static str),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Consent => f.write_str("consent"),
            Self::IssuerMetadata => f.write_str("issuer-metadata"),
            Self::Resource => f.write_str("resource"),
            Self::Retry => f.write_str("retry"),
            Self::Token(rt) => write!(f, "token[{rt}]"),
        }
    }
}

/// One request of the exchange and what came back.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Hop {
    /// Which hop this was.
    pub step: Step,
    /// The request method.
    pub method: String,
    /// The request URL.
    pub url: String,
    /// The response status; `None` when no response arrived.
    pub status: Option<u16>,
    /// The signature headers sent (`Content-Digest`, `Signature-Key`, `Signature-Input`,
    /// `Signature`), exactly as sent.
    pub signature_headers: Vec<(String, String)>,
    /// The request body, for token requests (form-encoded; tokens are not secret-free,
    /// so print traces only where the tokens may be shown).
    pub request_body: Option<String>,
    /// The `Agent-Auth` response header, if any.
    pub challenge: Option<String>,
    /// The resource token from the challenge, decoded (`{"header": …, "payload": …}`),
    /// not verified.
    pub resource_token: Option<Value>,
    /// The auth token received or presented, decoded (`{"header": …, "payload": …}`),
    /// not verified.
    pub auth_token: Option<Value>,
    /// The response body when it was a protocol answer (token endpoint JSON, error body).
    pub response_body: Option<Value>,
}

impl Hop {
    pub(crate) fn new(step: Step, method: &str, url: &str) -> Self {
        Self {
            step,
            method: method.to_owned(),
            url: url.to_owned(),
            status: None,
            signature_headers: Vec::new(),
            request_body: None,
            challenge: None,
            resource_token: None,
            auth_token: None,
            response_body: None,
        }
    }
}

/// Every hop of one `send`, in order.
///
/// `Display` prints it in the style of the reference demo logs: one block per hop with the
/// signed headers, the challenge and the decoded tokens.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Trace {
    /// The hops, first to last.
    pub hops: Vec<Hop>,
}

impl Trace {
    /// The hops of a given step.
    pub fn steps(&self, step: Step) -> impl Iterator<Item = &Hop> {
        self.hops.iter().filter(move |h| h.step == step)
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hop) in self.hops.iter().enumerate() {
            let status = match (hop.status, hop.step) {
                (Some(s), _) => s.to_string(),
                (None, Step::Consent) => "consent hook".to_owned(),
                (None, _) => "no response".to_owned(),
            };
            writeln!(
                f,
                "[{}] {} {} {} -> {status}",
                i + 1,
                hop.step,
                hop.method,
                hop.url
            )?;
            for (name, value) in &hop.signature_headers {
                writeln!(f, "    {name}: {value}")?;
            }
            if let Some(body) = &hop.request_body {
                writeln!(f, "    body: {body}")?;
            }
            if let Some(c) = &hop.challenge {
                writeln!(f, "    Agent-Auth: {c}")?;
            }
            if let Some(t) = &hop.resource_token {
                writeln!(f, "    resource token: {t}")?;
            }
            if let Some(t) = &hop.auth_token {
                writeln!(f, "    auth token: {t}")?;
            }
            if let Some(b) = &hop.response_body {
                writeln!(f, "    response: {b}")?;
            }
        }
        Ok(())
    }
}

/// Decodes a compact JWS into `{"header": …, "payload": …}` without verifying it.
pub fn decode_jwt(compact: &str) -> Option<Value> {
    let mut parts = compact.split('.');
    let mut part = || -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header = part()?;
    let payload = part()?;
    Some(serde_json::json!({ "header": header, "payload": payload }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_header_and_payload() {
        // {"alg":"EdDSA","typ":"auth+jwt"} . {"exp":5}
        let t = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF1dGgrand0In0.eyJleHAiOjV9.c2ln";
        let v = decode_jwt(t).unwrap();
        assert_eq!(v["header"]["typ"], "auth+jwt");
        assert_eq!(v["payload"]["exp"], 5);
        assert_eq!(decode_jwt("opaque"), None);
    }
}
