//! `Signature-Input` and `Signature` fields (RFC 9421 §4.1, §4.2) and `@signature-params`.

use alloc::string::String;
use alloc::vec::Vec;

use super::SignatureError;
use super::component::Component;
use crate::b64;
use crate::sf::{self, BareItem, Member};

/// The covered components and signature parameters of one signature (RFC 9421 §2.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureParams {
    /// Covered components, in order.
    pub components: Vec<Component>,
    /// `created`: when the signature was made.
    pub created: Option<u64>,
    /// `expires`: when the signature stops being valid.
    pub expires: Option<u64>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `alg`: ignored when verifying; the key decides the algorithm.
    pub alg: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// Parameter names in the order received, so `@signature-params` is rebuilt as sent.
    order: Vec<ParamName>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamName {
    Alg,
    Created,
    Expires,
    Keyid,
    Nonce,
    Tag,
}

impl SignatureParams {
    /// Parameters for a new signature covering `components`, created at `created`.
    pub fn new(components: Vec<Component>, created: u64) -> Self {
        Self {
            components,
            created: Some(created),
            order: alloc::vec![ParamName::Created],
            ..Self::default()
        }
    }

    /// Adds `expires`.
    #[must_use]
    pub fn with_expires(mut self, expires: u64) -> Self {
        self.expires = Some(expires);
        self.order.push(ParamName::Expires);
        self
    }

    /// Adds `nonce`.
    #[must_use]
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self.order.push(ParamName::Nonce);
        self
    }

    /// Adds `keyid`.
    #[must_use]
    pub fn with_keyid(mut self, keyid: impl Into<String>) -> Self {
        self.keyid = Some(keyid.into());
        self.order.push(ParamName::Keyid);
        self
    }

    /// Adds `tag`.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self.order.push(ParamName::Tag);
        self
    }

    /// True when `c` is covered.
    pub fn covers(&self, c: &Component) -> bool {
        self.components.contains(c)
    }

    /// The `@signature-params` value (RFC 9421 §2.3): the inner list and its parameters,
    /// exactly as it appears after `label=` in `Signature-Input`.
    ///
    /// # Errors
    /// [`SignatureError::MalformedInput`] when a string parameter cannot be serialized.
    pub fn serialize(&self) -> Result<String, SignatureError> {
        let mut out = String::with_capacity(96);
        out.push('(');
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            sf::write_string(&mut out, c.name()).map_err(|_| SignatureError::MalformedInput)?;
        }
        out.push(')');
        for p in &self.order {
            let (name, int, s) = match p {
                ParamName::Created => ("created", self.created, None),
                ParamName::Expires => ("expires", self.expires, None),
                ParamName::Nonce => ("nonce", None, self.nonce.as_deref()),
                ParamName::Keyid => ("keyid", None, self.keyid.as_deref()),
                ParamName::Alg => ("alg", None, self.alg.as_deref()),
                ParamName::Tag => ("tag", None, self.tag.as_deref()),
            };
            out.push(';');
            out.push_str(name);
            out.push('=');
            match (int, s) {
                (Some(v), _) => sf::write_integer(&mut out, i64::try_from(v).unwrap_or(i64::MAX)),
                (None, Some(s)) => {
                    sf::write_string(&mut out, s).map_err(|_| SignatureError::MalformedInput)?;
                }
                (None, None) => return Err(SignatureError::MalformedInput),
            }
        }
        Ok(out)
    }
}

/// Upper bound on a `Signature-Input` value; real ones are under 300 bytes.
const MAX_INPUT_LEN: usize = 4096;

/// Parses a `Signature-Input` value holding exactly one signature (digest §5.1 L-03).
/// Returns the label and the parameters.
///
/// # Errors
/// [`SignatureError::MalformedInput`] for any grammar error, unknown or repeated parameter,
/// component parameters, duplicate components or a non-integer `created`/`expires`;
/// [`SignatureError::MultipleSignatures`] for more than one label.
pub fn parse_signature_input(value: &str) -> Result<(&str, SignatureParams), SignatureError> {
    if value.len() > MAX_INPUT_LEN {
        return Err(SignatureError::MalformedInput);
    }
    let mut dict = sf::parse_dictionary(value).map_err(|_| SignatureError::MalformedInput)?;
    if dict.len() > 1 {
        return Err(SignatureError::MultipleSignatures);
    }
    // Taken by value: the component names move into the result instead of being copied.
    let Some((label, Member::InnerList(items, params))) = dict.pop() else {
        return Err(SignatureError::MalformedInput);
    };
    let mut out = SignatureParams {
        components: Vec::with_capacity(items.len()),
        ..SignatureParams::default()
    };
    for (item, item_params) in items {
        // Component parameters (`;sf`, `;key`, `;bs`, `;req`, `;name`) are not part of the
        // AAuth profile; refusing them keeps the base unambiguous.
        let (BareItem::String(name), true) = (item, item_params.is_empty()) else {
            return Err(SignatureError::MalformedInput);
        };
        let c = Component::parse_owned(name)?;
        // RFC 9421 §2.5: a component identifier must not be listed twice.
        if out.components.contains(&c) {
            return Err(SignatureError::MalformedInput);
        }
        out.components.push(c);
    }
    for (name, v) in params {
        let p = match name {
            "created" => ParamName::Created,
            "expires" => ParamName::Expires,
            "nonce" => ParamName::Nonce,
            "keyid" => ParamName::Keyid,
            "alg" => ParamName::Alg,
            "tag" => ParamName::Tag,
            _ => return Err(SignatureError::MalformedInput),
        };
        if out.order.contains(&p) {
            return Err(SignatureError::MalformedInput);
        }
        out.order.push(p);
        match (p, v) {
            (ParamName::Created, BareItem::Integer(i)) => {
                out.created = Some(u64::try_from(i).map_err(|_| SignatureError::MalformedInput)?);
            }
            (ParamName::Expires, BareItem::Integer(i)) => {
                out.expires = Some(u64::try_from(i).map_err(|_| SignatureError::MalformedInput)?);
            }
            (ParamName::Nonce, BareItem::String(s)) => out.nonce = Some(s),
            (ParamName::Keyid, BareItem::String(s)) => out.keyid = Some(s),
            (ParamName::Alg, BareItem::String(s)) => out.alg = Some(s),
            (ParamName::Tag, BareItem::String(s)) => out.tag = Some(s),
            _ => return Err(SignatureError::MalformedInput),
        }
    }
    Ok((label, out))
}

/// How `Signature` byte sequences are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureEncoding {
    /// Unpadded base64url: what the 0.1.0 reference accepts (its parser refuses `+`, `/`
    /// and `=`; digest §2.11 D2). The default, for interoperability.
    #[default]
    Base64Url,
    /// RFC 8941 byte sequence (standard base64 with padding), as RFC 9421 specifies.
    Standard,
}

/// Serializes a `Signature` value `label=:…:`.
pub fn serialize_signature(label: &str, sig: &[u8], encoding: SignatureEncoding) -> String {
    let mut out = String::with_capacity(label.len() + 92);
    out.push_str(label);
    out.push_str("=:");
    match encoding {
        SignatureEncoding::Base64Url => b64::url_encode_into(sig, &mut out),
        SignatureEncoding::Standard => out.push_str(&b64::std_encode(sig)),
    }
    out.push(':');
    out
}

/// Parses a `Signature` value with exactly one member; accepts both base64 alphabets.
///
/// # Errors
/// [`SignatureError::MalformedSignature`] or [`SignatureError::MultipleSignatures`].
pub fn parse_signature(value: &str) -> Result<(&str, Vec<u8>), SignatureError> {
    if value.len() > MAX_INPUT_LEN {
        return Err(SignatureError::MalformedSignature);
    }
    let dict = sf::parse_dictionary(value).map_err(|_| SignatureError::MalformedSignature)?;
    let [(label, member)] = dict.as_slice() else {
        return Err(if dict.is_empty() {
            SignatureError::MalformedSignature
        } else {
            SignatureError::MultipleSignatures
        });
    };
    let Member::Item(BareItem::ByteSequence(b), _) = member else {
        return Err(SignatureError::MalformedSignature);
    };
    let bytes = b64::any_decode(b).ok_or(SignatureError::MalformedSignature)?;
    Ok((label, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_preserves_parameter_order() {
        let v = r#"sig1=("@method" "@authority" "@path" "signature-key");keyid="k";created=1768785919;nonce="n""#;
        let (label, p) = parse_signature_input(v).unwrap();
        assert_eq!(label, "sig1");
        assert_eq!(p.created, Some(1_768_785_919));
        assert_eq!(alloc::format!("{label}={}", p.serialize().unwrap()), v);
    }

    #[test]
    fn l03_more_than_one_label_rejected() {
        let v = r#"sig1=("@method");created=1, sig2=("@method");created=1"#;
        assert_eq!(
            parse_signature_input(v),
            Err(SignatureError::MultipleSignatures)
        );
        assert_eq!(
            parse_signature("sig1=:AAAA:, sig2=:AAAA:").map(|_| ()),
            Err(SignatureError::MultipleSignatures)
        );
    }

    #[test]
    fn rejects_bad_inputs() {
        for bad in [
            r#"sig1=("@method" "@method");created=1"#,
            r#"sig1=("@method";sf);created=1"#,
            r#"sig1=("@method");created="1""#,
            r#"sig1=("@method");created=-1"#,
            r#"sig1=("@method");created=1;created=2"#,
            r#"sig1=("@method");foo=1"#,
            r#"sig1=("@status");created=1"#,
            r#"sig1="@method";created=1"#,
            "",
        ] {
            assert!(parse_signature_input(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_encodings() {
        let sig = [0xfb_u8; 64];
        let url = serialize_signature("sig1", &sig, SignatureEncoding::Base64Url);
        let std = serialize_signature("sig1", &sig, SignatureEncoding::Standard);
        assert!(!url["sig1=:".len()..].contains(['=', '+', '/']));
        assert!(std.contains('+') || std.contains('/'));
        assert_eq!(parse_signature(&url).unwrap().1, sig);
        assert_eq!(parse_signature(&std).unwrap().1, sig);
    }
}
