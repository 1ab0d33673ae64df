//! Metadata documents (digest §2.7, L§8): `/.well-known/aauth-agent`,
//! `/.well-known/aauth-issuer` and `/.well-known/aauth-resource`.
//!
//! Agent servers, auth servers and resources MUST publish them with the required fields
//! (digest §5.1 L-28). Members serialize in the reference's order, so
//! `serde_json::to_string` of a document built with `for_id` reproduces the reference's
//! bytes; optional members are omitted when absent. Unknown members are ignored on parse.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorCode, ProtocolError};

/// The well-known metadata document names of L§8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WellKnown {
    /// `aauth-agent`: agent server metadata ([`AgentMetadata`]).
    Agent,
    /// `aauth-issuer`: auth server metadata ([`IssuerMetadata`]).
    Issuer,
    /// `aauth-resource`: resource metadata ([`ResourceMetadata`]).
    Resource,
}

impl WellKnown {
    /// `aauth-agent`.
    pub const AGENT: &'static str = "aauth-agent";
    /// `aauth-issuer`.
    pub const ISSUER: &'static str = "aauth-issuer";
    /// `aauth-resource`.
    pub const RESOURCE: &'static str = "aauth-resource";

    /// The path segment after `/.well-known/`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Agent => Self::AGENT,
            Self::Issuer => Self::ISSUER,
            Self::Resource => Self::RESOURCE,
        }
    }

    /// The document URL for a party: [`well_known_url`]`(id, self.as_str())`.
    pub fn url(self, id: &str) -> String {
        well_known_url(id, self.as_str())
    }
}

impl fmt::Display for WellKnown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{id}/.well-known/{name}`, with trailing slashes of `id` removed first (L-13).
///
/// ```
/// use aauth_core::metadata::{WellKnown, well_known_url};
/// assert_eq!(well_known_url("https://agent.example/", "aauth-agent"),
///            "https://agent.example/.well-known/aauth-agent");
/// assert_eq!(WellKnown::Issuer.url("http://127.0.0.1:8003"),
///            "http://127.0.0.1:8003/.well-known/aauth-issuer");
/// ```
pub fn well_known_url(id: &str, name: &str) -> String {
    join(id, &["/.well-known/", name])
}

fn join(id: &str, parts: &[&str]) -> String {
    let base = id.trim_end_matches('/');
    let mut s = String::with_capacity(base.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    s.push_str(base);
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A metadata document could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// The document's identifier (`agent`, `issuer`, `resource`) is not the one it was
    /// fetched for (byte equality, SK §3.6).
    IdentifierMismatch,
    /// The JSON is not a document of this kind (a required member is missing or mistyped).
    Malformed,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IdentifierMismatch => f.write_str("metadata identifier does not match"),
            Self::Malformed => f.write_str("malformed metadata document"),
        }
    }
}

impl core::error::Error for MetadataError {}

impl ProtocolError for MetadataError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

fn check_id(actual: &str, expected: &str) -> Result<(), MetadataError> {
    if actual == expected {
        Ok(())
    } else {
        Err(MetadataError::IdentifierMismatch)
    }
}

/// `/.well-known/aauth-agent` (L§8.1).
///
/// ```
/// use aauth_core::metadata::AgentMetadata;
/// let doc = AgentMetadata::for_id("http://127.0.0.1:8001");
/// assert_eq!(serde_json::to_string(&doc).unwrap(),
///            r#"{"agent":"http://127.0.0.1:8001","jwks_uri":"http://127.0.0.1:8001/jwks.json"}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentMetadata {
    /// The agent identifier.
    pub agent: String,
    /// URL of the agent's JWK Set.
    pub jwks_uri: String,
    /// Redirect URIs; required if the agent requests user authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Logo URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Privacy policy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Terms of service URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Home page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
}

impl AgentMetadata {
    /// The reference's document for an agent: `jwks_uri` = `{id}/jwks.json`.
    pub fn for_id(id: &str) -> Self {
        Self {
            agent: String::from(id),
            jwks_uri: join(id, &["/jwks.json"]),
            ..Self::default()
        }
    }

    /// Parses a document.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`].
    pub fn from_json(json: &[u8]) -> Result<Self, MetadataError> {
        serde_json::from_slice(json).map_err(|_| MetadataError::Malformed)
    }

    /// Checks that the document was published for `id` (`agent` equals it byte for byte).
    ///
    /// # Errors
    /// [`MetadataError::IdentifierMismatch`].
    pub fn check_id(&self, id: &str) -> Result<&Self, MetadataError> {
        check_id(&self.agent, id).map(|()| self)
    }
}

/// `/.well-known/aauth-issuer` (L§8.2).
///
/// ```
/// use aauth_core::metadata::IssuerMetadata;
/// let doc = IssuerMetadata::for_id("https://auth.example/");
/// assert_eq!(doc.agent_token_endpoint, "https://auth.example/agent/token");
/// assert_eq!(doc.request_types_supported, ["auth", "code", "exchange", "refresh"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuerMetadata {
    /// The auth server identifier.
    pub issuer: String,
    /// URL of the auth server's JWK Set.
    pub jwks_uri: String,
    /// Auth requests, code exchange, token exchange and refresh.
    pub agent_token_endpoint: String,
    /// User authentication and consent.
    pub agent_auth_endpoint: String,
    /// HTTP signature algorithms accepted from agents (`ed25519`, …).
    pub agent_signing_algs_supported: Vec<String>,
    /// `request_type` values accepted at the token endpoint.
    pub request_types_supported: Vec<String>,
    /// Scopes the server knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
}

impl IssuerMetadata {
    /// The reference's document for an auth server: `{id}/jwks.json`, `{id}/agent/token`,
    /// `{id}/agent/auth`, algorithms `["ed25519"]`, request types
    /// `["auth", "code", "exchange", "refresh"]`.
    pub fn for_id(id: &str) -> Self {
        Self {
            issuer: String::from(id),
            jwks_uri: join(id, &["/jwks.json"]),
            agent_token_endpoint: join(id, &["/agent/token"]),
            agent_auth_endpoint: join(id, &["/agent/auth"]),
            agent_signing_algs_supported: alloc::vec![String::from("ed25519")],
            request_types_supported: ["auth", "code", "exchange", "refresh"]
                .into_iter()
                .map(String::from)
                .collect(),
            scopes_supported: None,
        }
    }

    /// Parses a document.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`].
    pub fn from_json(json: &[u8]) -> Result<Self, MetadataError> {
        serde_json::from_slice(json).map_err(|_| MetadataError::Malformed)
    }

    /// Checks that the document was published for `id` (`issuer` equals it byte for byte).
    ///
    /// # Errors
    /// [`MetadataError::IdentifierMismatch`].
    pub fn check_id(&self, id: &str) -> Result<&Self, MetadataError> {
        check_id(&self.issuer, id).map(|()| self)
    }
}

/// `/.well-known/aauth-resource` (L§8.3; `additional_signature_components` from the
/// 2026-01-09 draft).
///
/// ```
/// use aauth_core::metadata::ResourceMetadata;
/// let mut doc = ResourceMetadata::for_id("http://127.0.0.1:8002");
/// doc.supported_scopes = Some(vec!["data.read".into()]);
/// assert_eq!(serde_json::to_string(&doc).unwrap(),
///     r#"{"resource":"http://127.0.0.1:8002","jwks_uri":"http://127.0.0.1:8002/jwks.json","resource_token_endpoint":"http://127.0.0.1:8002/resource/token","supported_scopes":["data.read"]}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// The resource identifier.
    pub resource: String,
    /// URL of the resource's JWK Set (resource tokens are verified with it).
    pub jwks_uri: String,
    /// Where agents obtain resource tokens.
    pub resource_token_endpoint: String,
    /// Scopes the resource knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_scopes: Option<Vec<String>>,
    /// Human-readable text per scope, in document order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_descriptions: Option<ScopeDescriptions>,
    /// Components the resource wants covered beyond the required ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_signature_components: Option<Vec<String>>,
}

impl ResourceMetadata {
    /// The reference's document for a resource: `{id}/jwks.json`, `{id}/resource/token`.
    pub fn for_id(id: &str) -> Self {
        Self {
            resource: String::from(id),
            jwks_uri: join(id, &["/jwks.json"]),
            resource_token_endpoint: join(id, &["/resource/token"]),
            ..Self::default()
        }
    }

    /// Parses a document.
    ///
    /// # Errors
    /// [`MetadataError::Malformed`], also for a `scope_descriptions` key given twice.
    pub fn from_json(json: &[u8]) -> Result<Self, MetadataError> {
        serde_json::from_slice(json).map_err(|_| MetadataError::Malformed)
    }

    /// Checks that the document was published for `id` (`resource` equals it byte for
    /// byte).
    ///
    /// # Errors
    /// [`MetadataError::IdentifierMismatch`].
    pub fn check_id(&self, id: &str) -> Result<&Self, MetadataError> {
        check_id(&self.resource, id).map(|()| self)
    }
}

/// The `scope_descriptions` object: scope → description, in document order. Serialized
/// as a JSON object; a key given twice is refused on parse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeDescriptions(pub Vec<(String, String)>);

impl ScopeDescriptions {
    /// The description of a scope.
    pub fn get(&self, scope: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == scope)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for ScopeDescriptions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ScopeDescriptions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ScopeDescriptions;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of scope descriptions")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    // Quadratic, but bounded by the document the host chose to read.
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom("duplicate scope"));
                    }
                    out.push((k, v));
                }
                Ok(ScopeDescriptions(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn reference_documents() {
        assert_eq!(
            serde_json::to_string(&IssuerMetadata::for_id("http://127.0.0.1:8003")).unwrap(),
            r#"{"issuer":"http://127.0.0.1:8003","jwks_uri":"http://127.0.0.1:8003/jwks.json","agent_token_endpoint":"http://127.0.0.1:8003/agent/token","agent_auth_endpoint":"http://127.0.0.1:8003/agent/auth","agent_signing_algs_supported":["ed25519"],"request_types_supported":["auth","code","exchange","refresh"]}"#
        );
        assert_eq!(
            AgentMetadata::for_id("https://a.example//").jwks_uri,
            "https://a.example/jwks.json"
        );
    }

    #[test]
    fn full_documents_round_trip_in_order() {
        let json = r#"{"resource":"https://r.example","jwks_uri":"https://r.example/jwks.json","resource_token_endpoint":"https://r.example/resource/token","supported_scopes":["b","a"],"scope_descriptions":{"b":"Bee","a":"Ay"},"additional_signature_components":["content-type","content-digest"]}"#;
        let doc = ResourceMetadata::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            doc.scope_descriptions.as_ref().unwrap().get("a"),
            Some("Ay")
        );
        assert_eq!(serde_json::to_string(&doc).unwrap(), json);
        assert_eq!(
            doc.check_id("https://r.example").unwrap().resource,
            "https://r.example"
        );
        assert_eq!(
            doc.check_id("https://r.example/"),
            Err(MetadataError::IdentifierMismatch)
        );

        let json = r#"{"agent":"https://a.example","jwks_uri":"https://a.example/jwks.json","redirect_uris":["https://a.example/callback"],"name":"A","logo_uri":"https://a.example/l.png","policy_uri":"https://a.example/p","tos_uri":"https://a.example/t","homepage":"https://a.example"}"#;
        let doc = AgentMetadata::from_json(json.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&doc).unwrap(), json);
        assert!(doc.check_id("https://a.example").is_ok());

        let mut doc = IssuerMetadata::for_id("https://i.example");
        doc.scopes_supported = Some(alloc::vec!["openid".into()]);
        let s = serde_json::to_string(&doc).unwrap();
        assert!(s.ends_with(r#","scopes_supported":["openid"]}"#));
        assert_eq!(IssuerMetadata::from_json(s.as_bytes()).unwrap(), doc);
    }

    #[test]
    fn l28_required_members() {
        assert_eq!(
            AgentMetadata::from_json(br#"{"agent":"a"}"#),
            Err(MetadataError::Malformed)
        );
        assert_eq!(
            IssuerMetadata::from_json(br#"{"issuer":"i","jwks_uri":"j"}"#),
            Err(MetadataError::Malformed)
        );
        assert_eq!(
            ResourceMetadata::from_json(br#"{"resource":"r","jwks_uri":"j"}"#),
            Err(MetadataError::Malformed)
        );
        assert_eq!(
            ResourceMetadata::from_json(
                br#"{"resource":"r","jwks_uri":"j","resource_token_endpoint":"t","scope_descriptions":{"a":"1","a":"2"}}"#
            ),
            Err(MetadataError::Malformed)
        );
        // Unknown members are ignored.
        assert!(AgentMetadata::from_json(br#"{"agent":"a","jwks_uri":"j","x":1}"#).is_ok());
    }

    #[test]
    fn well_known_names() {
        assert_eq!(WellKnown::Agent.as_str(), "aauth-agent");
        assert_eq!(WellKnown::Resource.to_string(), "aauth-resource");
        assert_eq!(
            well_known_url("http://h:1", WellKnown::ISSUER),
            "http://h:1/.well-known/aauth-issuer"
        );
    }
}
