//! `aauth token decode`: header and payload of a compact JWT, never verified.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::CliError;

/// Decodes `token` into pretty JSON `{"header", "payload"}` followed by a line about `exp`.
///
/// # Errors
/// [`CliError::Usage`] when it is not a compact JWS with JSON header and payload.
pub fn decode(token: &str) -> Result<String, CliError> {
    let token = token.trim();
    if token.split('.').count() != 3 {
        return Err(CliError::usage(
            "not a compact JWT (expected three dot-separated parts)",
        ));
    }
    let v = aauth_agent::trace::decode_jwt(token).ok_or_else(|| {
        CliError::usage("not a JWT: header or payload is not base64url-encoded JSON")
    })?;
    let mut out = serde_json::to_string_pretty(&json!({
        "header": v["header"],
        "payload": v["payload"],
    }))
    .unwrap_or_default();
    out.push('\n');
    out.push_str(&describe_exp(
        v["payload"].get("exp").and_then(Value::as_u64),
    ));
    out.push_str("\n(signature not verified)");
    Ok(out)
}

fn describe_exp(exp: Option<u64>) -> String {
    let Some(exp) = exp else {
        return "exp: none".to_owned();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if exp >= now {
        format!("exp: {exp} (expires in {})", human(exp - now))
    } else {
        format!("exp: {exp} (expired {} ago)", human(now - exp))
    }
}

fn human(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86400, secs % 86400 / 3600),
    }
}
