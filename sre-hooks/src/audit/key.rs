//! The audit key: HMAC-SHA256, given by the host from memory or from a private file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ANCHOR_DOMAIN, GENESIS_MAC};
use crate::error::HookError;

/// The secret key of an audit trail (HMAC-SHA256). `Debug` does not show it.
///
/// ```
/// let key = sre_hooks::AuditKey::from_bytes(vec![7u8; 32]).unwrap();
/// assert!(!format!("{key:?}").contains('7'));
/// assert!(sre_hooks::AuditKey::from_bytes(b"short".to_vec()).is_err());
/// ```
#[derive(Clone)]
pub struct AuditKey(Arc<[u8]>);

impl AuditKey {
    /// Minimum key length in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key held in memory (e.g. fetched by the host from a secret manager).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, HookError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(HookError::config(
                "audit key",
                format!(
                    "must be at least {} bytes, got {}",
                    Self::MIN_LEN,
                    bytes.len()
                ),
            ));
        }
        Ok(AuditKey(bytes.into()))
    }

    /// Read a key file: the key is the file's bytes (one trailing newline ignored), at least
    /// [`AuditKey::MIN_LEN`] of them. The file must not be readable or writable by group or
    /// others (mode `0600` or stricter): keep it outside the workspace, owned by the host
    /// user, so the agent's commands cannot read it back.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HookError> {
        use std::os::unix::fs::PermissionsExt;
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| HookError::io(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if !meta.is_file() || mode & 0o077 != 0 {
            return Err(HookError::config(
                path.display().to_string(),
                format!(
                    "an audit key file must be a regular file readable only by its owner (mode 0600), got mode {mode:04o}"
                ),
            ));
        }
        let mut bytes = std::fs::read(path).map_err(|e| HookError::io(path, e))?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        Self::from_bytes(bytes).map_err(|e| match e {
            HookError::Config { message, .. } => {
                HookError::config(path.display().to_string(), message)
            }
            other => other,
        })
    }

    /// A new random key: 64 hex characters from the system's random source.
    pub fn generate() -> Result<Self, HookError> {
        let mut raw = [0u8; 32];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut raw))
            .map_err(|e| HookError::io("/dev/urandom", e))?;
        Self::from_bytes(hex(&raw).into_bytes())
    }

    /// Generate a key and write it to a new file with mode `0600` (an existing file is an
    /// error, never overwritten).
    pub fn create_file(path: impl AsRef<Path>) -> Result<Self, HookError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = path.as_ref();
        let key = Self::generate()?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| HookError::io(path, e))?;
        f.write_all(&key.0)
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(|e| HookError::io(path, e))?;
        Ok(key)
    }

    pub(super) fn mac(&self, domain: &[u8], data: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return GENESIS_MAC.to_string(),
        };
        m.update(domain);
        m.update(data);
        hex(&m.finalize().into_bytes())
    }

    pub(super) fn anchor_mac(&self, seq: u64, mac: &str) -> String {
        self.mac(ANCHOR_DOMAIN, format!("{seq}:{mac}").as_bytes())
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(<{} bytes, redacted>)", self.0.len())
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
