//! JSON Web Keys (RFC 7517), key sets, and RFC 7638 thumbprints.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::b64;
use crate::crypto::{KeyError, PublicKey};

/// A public JSON Web Key.
///
/// Members are serialized in the order the reference writes them (`kty`, `crv`, `x`, …,
/// `kid`), so a `cnf.jwk` copied from an agent's JWKS is reproduced byte for byte.
/// Unknown members are dropped on parse; private members (`d`, `p`, `q`, …) are detected by
/// [`Jwk::has_private_members`] and refused where a public key is required.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Curve for `OKP` and `EC` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (OKP, EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Set when the parsed JSON carried private members; never serialized.
    #[serde(default, skip_serializing, rename = "d", deserialize_with = "present")]
    private: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl Jwk {
    /// An OKP Ed25519 public key (RFC 8037 §2).
    pub fn ed25519(public: &[u8; 32], kid: Option<String>) -> Self {
        Self {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64::url_encode(public)),
            kid,
            ..Self::default()
        }
    }

    /// Parses a JWK from JSON.
    ///
    /// # Errors
    /// [`KeyError::InvalidMember`] when the JSON is not a JWK object.
    pub fn from_json(json: &[u8]) -> Result<Self, KeyError> {
        serde_json::from_slice(json).map_err(|_| KeyError::InvalidMember("kty"))
    }

    /// True when the JWK carried a private member (`d`).
    pub fn has_private_members(&self) -> bool {
        self.private
    }

    /// A JWK with no members (`kty` empty): usable as a `static`.
    pub(crate) const fn empty() -> Self {
        Self {
            kty: String::new(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            kid: None,
            alg: None,
            use_: None,
            private: false,
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order,
    /// base64url without padding. `kid`, `alg` and `use` are not part of it.
    ///
    /// ```
    /// use aauth_core::Jwk;
    /// let jwk = Jwk::from_json(br#"{"kty":"OKP","crv":"Ed25519",
    ///     "x":"v4w1nfeU2IV9Mi7N_pLDbBvNMerWhlMwagF1Dw_7wXQ","kid":"key-1"}"#).unwrap();
    /// assert_eq!(jwk.thumbprint().unwrap(), "zAkRaFpmIxi7kHESqzoRr3ihmKPJHBejcHrzOUqTeGo");
    /// ```
    ///
    /// # Errors
    /// [`KeyError`] when a required member for the key type is missing or the type is unknown.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        Ok(b64::url_encode(&self.thumbprint_sha256()?))
    }

    /// The raw SHA-256 thumbprint bytes.
    ///
    /// # Errors
    /// As [`Jwk::thumbprint`].
    pub fn thumbprint_sha256(&self) -> Result<[u8; 32], KeyError> {
        let members = self.thumbprint_members()?;
        let mut json = String::with_capacity(128);
        json.push('{');
        for (i, (k, v)) in members.as_slice().iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push('"');
            json.push_str(k);
            json.push_str("\":");
            // Values are base64url or curve names; escaping keeps hostile input well-formed.
            json.push_str(&serde_json::to_string(v).map_err(|_| KeyError::InvalidKey)?);
        }
        json.push('}');
        Ok(Sha256::digest(json.as_bytes()).into())
    }

    /// The members RFC 7638 §3.2 hashes for this key type, `kty` included, already in the
    /// lexicographic order §3.3 hashes them in: the check [`Jwk::thumbprint`] makes before
    /// hashing, on its own (a verifier runs it eagerly and hashes only when the thumbprint
    /// is asked for).
    pub(crate) fn thumbprint_members(&self) -> Result<ThumbprintMembers<'_>, KeyError> {
        fn req<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, KeyError> {
            v.as_deref().ok_or(KeyError::InvalidMember(name))
        }
        let kty = ("kty", self.kty.as_str());
        Ok(match self.kty.as_str() {
            "OKP" => ThumbprintMembers::Three([
                ("crv", req(&self.crv, "crv")?),
                kty,
                ("x", req(&self.x, "x")?),
            ]),
            "EC" => ThumbprintMembers::Four([
                ("crv", req(&self.crv, "crv")?),
                kty,
                ("x", req(&self.x, "x")?),
                ("y", req(&self.y, "y")?),
            ]),
            "RSA" => ThumbprintMembers::Three([
                ("e", req(&self.e, "e")?),
                kty,
                ("n", req(&self.n, "n")?),
            ]),
            _ => return Err(KeyError::UnsupportedKeyType),
        })
    }

    /// Parses this JWK into a verification key.
    ///
    /// # Errors
    /// See [`PublicKey::from_jwk`].
    pub fn to_public_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_jwk(self)
    }
}

/// A JWK Set (RFC 7517 §5). Entries that are not JWK objects are skipped, so one unusable
/// key never hides the others (digest §5.2 S-10).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl<'de> Deserialize<'de> for Jwks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Key(alloc::boxed::Box<Jwk>),
            Other(serde::de::IgnoredAny),
        }
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<Entry>,
        }
        let raw = Raw::deserialize(d)?;
        Ok(Self {
            keys: raw
                .keys
                .into_iter()
                .filter_map(|e| match e {
                    Entry::Key(k) => Some(*k),
                    Entry::Other(_) => None,
                })
                .collect(),
        })
    }
}

/// Why no key could be taken from a key set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectError {
    /// Two keys carry the requested `kid`.
    AmbiguousKid,
    /// No key carries the requested `kid` (or, without a `kid`, the set is not a single key).
    UnknownKid,
    /// The selected key cannot be used.
    Key(KeyError),
}

impl core::fmt::Display for SelectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AmbiguousKid => f.write_str("the key set has more than one key with this kid"),
            Self::UnknownKid => f.write_str("no key with this kid in the key set"),
            Self::Key(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for SelectError {}

impl Jwks {
    /// A set of keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    /// Parses a JWKS document.
    ///
    /// # Errors
    /// [`KeyError::InvalidMember`] when the JSON is not an object with a `keys` array.
    pub fn from_json(json: &[u8]) -> Result<Self, KeyError> {
        serde_json::from_slice(json).map_err(|_| KeyError::InvalidMember("keys"))
    }

    /// The JWK with this `kid`. Without a `kid`, the set must hold exactly one key.
    ///
    /// # Errors
    /// [`SelectError`] when the kid is unknown or ambiguous.
    pub fn find(&self, kid: Option<&str>) -> Result<&Jwk, SelectError> {
        let mut it = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid);
        let first = it.next().ok_or(SelectError::UnknownKid)?;
        if it.next().is_some() {
            return Err(if kid.is_some() {
                SelectError::AmbiguousKid
            } else {
                SelectError::UnknownKid
            });
        }
        Ok(first)
    }

    /// The verification key with this `kid`, parsed. Only the selected member has to be
    /// usable (digest §5.2 S-10).
    ///
    /// # Errors
    /// [`SelectError`] when the kid is unknown or ambiguous or the key is unusable.
    pub fn select(&self, kid: Option<&str>) -> Result<PublicKey, SelectError> {
        self.find(kid)?.to_public_key().map_err(SelectError::Key)
    }
}

/// The required members of a key type with `kty` (RFC 7638 §3.2), sorted by name.
pub(crate) enum ThumbprintMembers<'a> {
    Three([(&'static str, &'a str); 3]),
    Four([(&'static str, &'a str); 4]),
}

impl<'a> ThumbprintMembers<'a> {
    fn as_slice(&self) -> &[(&'static str, &'a str)] {
        match self {
            Self::Three(m) => m,
            Self::Four(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_members_are_detected_and_never_serialized() {
        let jwk = Jwk::from_json(
            br#"{"kty":"OKP","crv":"Ed25519","x":"Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU","d":"99Vltfk4qczWEneZQ7kEYtHQd-EW9rrpJwo6XWoRDcs"}"#,
        )
        .unwrap();
        assert!(jwk.has_private_members());
        assert!(!serde_json::to_string(&jwk).unwrap().contains("\"d\""));
        assert_eq!(jwk.to_public_key(), Err(KeyError::PrivateKeyMaterial));
    }

    #[test]
    fn serialization_order_matches_reference() {
        let jwk = Jwk::ed25519(&[1; 32], Some("key-1".into()));
        let s = serde_json::to_string(&jwk).unwrap();
        assert!(s.starts_with(r#"{"kty":"OKP","crv":"Ed25519","x":""#));
        assert!(s.ends_with(r#","kid":"key-1"}"#));
    }

    #[test]
    fn jwks_skips_garbage_and_selects_by_kid() {
        let set = Jwks::from_json(
            br#"{"keys":[42,{"kty":"OKP","crv":"Ed25519","x":"Rgk8ITfq1QfMBRe6MCkZe6YxH0TLUs25XbhfCVOwDjU","kid":"a"},{"kty":"RSA","kid":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(set.keys.len(), 2);
        assert!(set.select(Some("a")).is_ok());
        assert_eq!(set.select(Some("zz")), Err(SelectError::UnknownKid));
        assert!(matches!(set.select(Some("b")), Err(SelectError::Key(_))));
        assert_eq!(set.find(None), Err(SelectError::UnknownKid));
    }
}
