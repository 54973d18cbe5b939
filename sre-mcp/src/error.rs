//! The crate's one error type and the classification of connection failures.

use std::fmt;

/// Why a connector could not be used, classified so the message can name the likely fix.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// HTTP 401: the credentials are missing, wrong or in the wrong header format.
    Unauthorized,
    /// HTTP 403: the credentials are valid but lack a scope/permission.
    Forbidden,
    /// HTTP 404 on the endpoint itself (not a stale session): wrong URL, path or region.
    NotFound,
    /// Nothing listens at the address.
    ConnectionRefused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol, plain HTTP on an HTTPS port...).
    Tls,
    /// The server did not answer in time.
    Timeout,
    /// The stdio command could not be started.
    Spawn,
    /// The server closed the connection or its process exited.
    Closed,
    /// The peer spoke something that is not MCP / JSON-RPC.
    Protocol,
    /// Any other HTTP status (429, 5xx...).
    HttpStatus,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// A short hint on how to fix this kind of failure.
    pub fn hint(self) -> &'static str {
        match self {
            FailureKind::Unauthorized => {
                "check that the API key/token is set and valid and that the header format matches \
                 what the server expects (e.g. `Authorization: Token <t>` vs `Authorization: Bearer <t>`, \
                 or custom headers such as DD_API_KEY/DD_APPLICATION_KEY)"
            }
            FailureKind::Forbidden => {
                "the credentials were accepted but lack permission: check the key's scopes/role \
                 and that it belongs to the right organisation/site"
            }
            FailureKind::NotFound => {
                "check the URL: the path (e.g. `/mcp`), the regional host (e.g. US1 vs EU1 site) \
                 and any query parameters such as `?toolsets=`"
            }
            FailureKind::ConnectionRefused => {
                "nothing listens at that host/port: check the URL's host and port and that the \
                 server is running"
            }
            FailureKind::Dns => "the host name does not resolve: check the URL's host (and region)",
            FailureKind::Tls => {
                "TLS failed: check `https://` vs `http://`, the port, and that the server's \
                 certificate is valid for the host"
            }
            FailureKind::Timeout => {
                "the server did not answer in time: check network reachability, or raise \
                 `startup_timeout_secs` / `call_timeout_secs`"
            }
            FailureKind::Spawn => {
                "the command could not be started: check `command` is installed and on PATH \
                 (or give an absolute path)"
            }
            FailureKind::Closed => {
                "the server closed the connection (for stdio: the process exited); check its \
                 stderr/logs"
            }
            FailureKind::Protocol => {
                "the peer did not speak MCP (JSON-RPC 2.0): check the command/URL points at an \
                 MCP server and, for stdio, that it logs to stderr, not stdout"
            }
            FailureKind::HttpStatus => {
                "the server answered with an HTTP error; retry later or check its status"
            }
            FailureKind::Other => "see the detail above",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            FailureKind::Unauthorized => "unauthorized (HTTP 401)",
            FailureKind::Forbidden => "forbidden (HTTP 403)",
            FailureKind::NotFound => "not found (HTTP 404)",
            FailureKind::ConnectionRefused => "connection refused",
            FailureKind::Dns => "DNS lookup failed",
            FailureKind::Tls => "TLS failure",
            FailureKind::Timeout => "timed out",
            FailureKind::Spawn => "failed to start",
            FailureKind::Closed => "connection closed",
            FailureKind::Protocol => "protocol error",
            FailureKind::HttpStatus => "HTTP error",
            FailureKind::Other => "error",
        };
        f.write_str(s)
    }
}

/// Errors of sre-mcp. Messages never contain header values or environment values.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// The configuration is invalid.
    #[error("invalid MCP config{}: field `{field}`: {message}", source_suffix(.source_name))]
    Config {
        /// File the config came from, if any.
        source_name: Option<String>,
        /// Path of the offending field (e.g. `connectors[1].transport.url`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A `${NAME}` reference names an unset environment variable.
    #[error(
        "MCP connector `{connector}`: field `{field}` references environment variable `{var}`, which is not set"
    )]
    MissingEnv {
        /// Connector name.
        connector: String,
        /// Field holding the reference (e.g. `headers.DD_API_KEY`).
        field: String,
        /// The variable.
        var: String,
    },
    /// The config file could not be read.
    #[error("cannot read MCP config `{path}`: {message}")]
    Read {
        /// The path.
        path: String,
        /// The io error.
        message: String,
    },
    /// Connecting (spawn, handshake, tool listing) failed.
    #[error("MCP connector `{connector}`: {kind}: {detail}. Hint: {}", .kind.hint())]
    Connect {
        /// Connector name.
        connector: String,
        /// Classification.
        kind: FailureKind,
        /// Redacted detail.
        detail: String,
    },
    /// A tool call failed at the transport/protocol level.
    #[error("MCP connector `{connector}` tool `{tool}`: {kind}: {detail}")]
    Call {
        /// Connector name.
        connector: String,
        /// Remote tool name.
        tool: String,
        /// Classification.
        kind: FailureKind,
        /// Redacted detail.
        detail: String,
    },
    /// No connector of that name.
    #[error("no MCP connector named `{0}`")]
    UnknownConnector(String),
}

fn source_suffix(source: &Option<String>) -> String {
    match source {
        Some(s) => format!(" in `{s}`"),
        None => String::new(),
    }
}

impl McpError {
    /// The failure classification, for connect and call errors.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            McpError::Connect { kind, .. } | McpError::Call { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        McpError::Config {
            source_name: None,
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn with_source_name(self, name: &str) -> Self {
        match self {
            McpError::Config {
                source_name: None,
                field,
                message,
            } => McpError::Config {
                source_name: Some(name.to_string()),
                field,
                message,
            },
            other => other,
        }
    }
}

/// Classify an error chain (rmcp, reqwest, io...) into a [`FailureKind`] plus a detail text.
pub(crate) fn classify(err: &(dyn std::error::Error + 'static)) -> (FailureKind, String) {
    let mut parts: Vec<String> = Vec::new();
    let mut kind: Option<FailureKind> = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if parts.last().is_none_or(|p| !p.contains(&text)) {
            parts.push(text.clone());
        }
        if kind.is_none() {
            kind = classify_one(e, &text);
        }
        cur = e.source();
    }
    let detail = parts.join(": ");
    let kind = kind.unwrap_or_else(|| classify_text(&detail).unwrap_or(FailureKind::Other));
    (kind, detail)
}

fn classify_one(e: &(dyn std::error::Error + 'static), text: &str) -> Option<FailureKind> {
    use rmcp::transport::streamable_http_client::{
        AuthRequiredError, HttpStatusError, InsufficientScopeError,
    };
    if e.downcast_ref::<AuthRequiredError>().is_some() {
        return Some(FailureKind::Unauthorized);
    }
    if e.downcast_ref::<InsufficientScopeError>().is_some() {
        return Some(FailureKind::Forbidden);
    }
    if let Some(s) = e.downcast_ref::<HttpStatusError>() {
        return Some(status_kind(s.status));
    }
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        if let Some(status) = r.status() {
            return Some(status_kind(status.as_u16()));
        }
        if r.is_timeout() {
            return Some(FailureKind::Timeout);
        }
        if r.is_connect() {
            // Look deeper: refused, DNS or TLS.
            return None;
        }
    }
    if e.downcast_ref::<rustls::Error>().is_some() {
        return Some(FailureKind::Tls);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return Some(FailureKind::ConnectionRefused),
            std::io::ErrorKind::TimedOut => return Some(FailureKind::Timeout),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                return Some(FailureKind::Spawn);
            }
            _ => {}
        }
    }
    classify_text(text)
}

fn status_kind(status: u16) -> FailureKind {
    match status {
        401 => FailureKind::Unauthorized,
        403 => FailureKind::Forbidden,
        404 => FailureKind::NotFound,
        _ => FailureKind::HttpStatus,
    }
}

fn classify_text(text: &str) -> Option<FailureKind> {
    let lower = text.to_ascii_lowercase();
    let has = |s: &str| lower.contains(s);
    if has("http 401") || has("401 unauthorized") || has("auth required") {
        Some(FailureKind::Unauthorized)
    } else if has("http 403") || has("403 forbidden") || has("insufficient scope") {
        Some(FailureKind::Forbidden)
    } else if has("http 404") && !has("session expired") {
        Some(FailureKind::NotFound)
    } else if has("connection refused") {
        Some(FailureKind::ConnectionRefused)
    } else if has("dns error")
        || has("failed to lookup address")
        || has("name or service not known")
    {
        Some(FailureKind::Dns)
    } else if has("certificate")
        || has("tls")
        || has("handshake")
        || has("invalidcontenttype")
        || has("corrupt message")
    {
        Some(FailureKind::Tls)
    } else if has("timed out") || has("timeout") {
        Some(FailureKind::Timeout)
    } else if has("connection closed") || has("transport closed") || has("broken pipe") {
        Some(FailureKind::Closed)
    } else if has("json") || has("deserialize") || has("expected value") {
        Some(FailureKind::Protocol)
    } else {
        None
    }
}

/// Replaces every occurrence of known secret values by `[REDACTED]`.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(mut secrets: Vec<String>) -> Self {
        // Only redact values long enough to be meaningful; longest first so overlaps vanish.
        secrets.retain(|s| s.len() >= 4);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[REDACTED]");
            }
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_classification() {
        assert_eq!(
            classify_text("HTTP 401 Unauthorized: nope"),
            Some(FailureKind::Unauthorized)
        );
        assert_eq!(classify_text("HTTP 404: x"), Some(FailureKind::NotFound));
        assert_eq!(
            classify_text("error sending request: Connection refused (os error 111)"),
            Some(FailureKind::ConnectionRefused)
        );
    }

    #[test]
    fn redactor_replaces_secrets() {
        let r = Redactor::new(vec!["s3cr3t-key".into(), "ab".into()]);
        assert_eq!(r.redact("key=s3cr3t-key ab"), "key=[REDACTED] ab");
    }
}
