//! Key files: a private OKP (Ed25519) JWK with `d`, written with permissions 0600.

use std::path::{Path, PathBuf};

use aauth_core::{Jwk, Signer as _, SigningKey};
use serde_json::Value;

use crate::CliError;

/// The user's data directory for `aauth`: `$AAUTH_HOME`, else `$XDG_DATA_HOME/aauth`,
/// else `$HOME/.local/share/aauth`, else `./.aauth`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AAUTH_HOME") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("aauth");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".local/share/aauth");
    }
    PathBuf::from(".aauth")
}

/// The default agent key file, shared by `fetch` and `serve agent`.
pub fn default_agent_key_file() -> PathBuf {
    data_dir().join("agent-key.json")
}

/// A fresh Ed25519 key with `kid`.
///
/// # Errors
/// When the OS RNG is unavailable.
pub fn generate(kid: &str) -> Result<SigningKey, CliError> {
    aauth_agent::generate_signing_key(kid).map_err(|e| CliError::io("OS random generator", e))
}

/// The private JWK (`kty`, `crv`, `x`, `d`, `kid`) as pretty JSON.
pub fn private_jwk_json(key: &SigningKey) -> String {
    let mut v = serde_json::to_value(key.public_jwk()).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("d".to_owned(), Value::String(key.private_d().to_string()));
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// Parses a private JWK.
///
/// # Errors
/// [`CliError::Usage`] when it is not an Ed25519 private JWK.
pub fn parse_private_jwk(text: &str) -> Result<SigningKey, CliError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| CliError::usage(format!("key file: {e}")))?;
    let d = v
        .get("d")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::usage("key file: no private member `d`"))?
        .to_owned();
    let jwk: Jwk =
        serde_json::from_value(v).map_err(|e| CliError::usage(format!("key file: {e}")))?;
    let key = SigningKey::from_private_jwk(&jwk, &d)
        .map_err(|e| CliError::usage(format!("key file: {e}")))?;
    Ok(if key.kid().is_none() {
        key.with_kid("key-1")
    } else {
        key
    })
}

/// Writes `key` to `path` (creating parent directories) with permissions 0600.
///
/// # Errors
/// [`CliError::Io`].
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent.display(), e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .map_err(|e| CliError::io(path.display(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    use std::io::Write as _;
    writeln!(file, "{}", private_jwk_json(key)).map_err(|e| CliError::io(path.display(), e))
}

/// Loads the key at `path`, or creates it (kid `key-1`) when the file does not exist.
///
/// # Errors
/// [`CliError`] when the file cannot be read, parsed or created.
pub fn load_or_create(path: &Path) -> Result<SigningKey, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_private_jwk(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate("key-1")?;
            write_key_file(path, &key)?;
            Ok(key)
        }
        Err(e) => Err(CliError::io(path.display(), e)),
    }
}

/// A copy of `key` (same seed and kid).
pub fn clone_key(key: &SigningKey) -> SigningKey {
    let copy = SigningKey::from_seed(&key.seed());
    match key.kid() {
        Some(kid) => copy.with_kid(kid),
        None => copy,
    }
}
