//! Authentication by HTTP headers, `${NAME}` environment references, and redaction.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::McpError;

/// Shorthand for the `Authorization` header. Values may contain `${NAME}` references.
///
/// In YAML: `auth: { bearer: "${TOKEN}" }`, `auth: { token: "${TOKEN}" }`,
/// `auth: { basic: { username: "u", password: "${PASS}" } }`.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAuth", into = "RawAuth")]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Token <token>` (e.g. some Grafana/PagerDuty-style APIs).
    Token(String),
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password or API token.
        password: String,
    },
}

/// The file form of [`Auth`]: exactly one of `bearer`, `token`, `basic`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bearer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    basic: Option<RawBasic>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasic {
    username: String,
    password: String,
}

impl TryFrom<RawAuth> for Auth {
    type Error = String;

    fn try_from(raw: RawAuth) -> Result<Self, Self::Error> {
        match (raw.bearer, raw.token, raw.basic) {
            (Some(t), None, None) => Ok(Auth::Bearer(t)),
            (None, Some(t), None) => Ok(Auth::Token(t)),
            (None, None, Some(b)) => Ok(Auth::Basic {
                username: b.username,
                password: b.password,
            }),
            _ => Err("`auth` needs exactly one of `bearer`, `token`, `basic`".into()),
        }
    }
}

impl From<Auth> for RawAuth {
    fn from(a: Auth) -> Self {
        let mut raw = RawAuth {
            bearer: None,
            token: None,
            basic: None,
        };
        match a {
            Auth::Bearer(t) => raw.bearer = Some(t),
            Auth::Token(t) => raw.token = Some(t),
            Auth::Basic { username, password } => raw.basic = Some(RawBasic { username, password }),
        }
        raw
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer([redacted])"),
            Auth::Token(_) => f.write_str("Token([redacted])"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
        }
    }
}

impl Auth {
    /// The header value (after `${NAME}` expansion).
    pub(crate) fn header_value(
        &self,
        connector: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, McpError> {
        Ok(match self {
            Auth::Bearer(t) => format!("Bearer {}", expand(t, connector, "auth.bearer", env)?),
            Auth::Token(t) => format!("Token {}", expand(t, connector, "auth.token", env)?),
            Auth::Basic { username, password } => {
                let u = expand(username, connector, "auth.basic.username", env)?;
                let p = expand(password, connector, "auth.basic.password", env)?;
                format!("Basic {}", base64_encode(format!("{u}:{p}").as_bytes()))
            }
        })
    }
}

/// A map whose values are secrets: `Debug` shows only the keys.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretMap(pub BTreeMap<String, String>);

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

impl SecretMap {
    /// Insert a value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Expand `${NAME}` references in `value` using `env`. A missing variable is an error that
/// names the connector, the field and the variable (never the value).
pub fn expand(
    value: &str,
    connector: &str,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, McpError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(McpError::Config {
                source_name: None,
                field: format!("connectors.{connector}.{field}"),
                message: "unterminated `${` reference".into(),
            });
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(McpError::Config {
                source_name: None,
                field: format!("connectors.{connector}.{field}"),
                message: format!("`${{{name}}}` is not a valid environment variable reference"),
            });
        }
        match env(name) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(McpError::MissingEnv {
                    connector: connector.to_string(),
                    field: field.to_string(),
                    var: name.to_string(),
                });
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The process environment as a lookup function.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = |shift: u32| ALPHABET[((n >> shift) & 63) as usize] as char;
        out.push(idx(18));
        out.push(idx(12));
        out.push(if chunk.len() > 1 { idx(6) } else { '=' });
        out.push(if chunk.len() > 2 { idx(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0k".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_and_reports_missing() {
        assert_eq!(
            expand("a ${TOKEN} b", "c", "f", &env).ok(),
            Some("a t0k b".into())
        );
        let err = expand("${NOPE}", "dd", "headers.DD_API_KEY", &env).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("`NOPE`") && msg.contains("dd") && msg.contains("DD_API_KEY"));
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn auth_values_and_debug() {
        let a = Auth::Basic {
            username: "user".into(),
            password: "${TOKEN}".into(),
        };
        assert_eq!(
            a.header_value("c", &env).ok(),
            Some("Basic dXNlcjp0MGs=".into())
        );
        assert!(!format!("{a:?}").contains("TOKEN"));
        assert_eq!(
            Auth::Token("x".into()).header_value("c", &env).ok(),
            Some("Token x".into())
        );
    }
}
