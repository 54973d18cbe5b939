//! Connector configuration: in code, YAML or JSON.
//!
//! ```yaml
//! connectors:
//!   - name: datadog
//!     transport: streamable_http
//!     url: https://mcp.datadoghq.com/api/unstable/mcp-server/mcp?toolsets=core,apm
//!     headers:
//!       DD_API_KEY: ${DD_API_KEY}
//!       DD_APPLICATION_KEY: ${DD_APPLICATION_KEY}
//!     region: us1
//!     call_timeout_secs: 60
//!     tools: { deny: ["*delete*"] }
//!   - name: everything
//!     transport: stdio
//!     command: npx
//!     args: ["@modelcontextprotocol/server-everything"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::McpError;
use crate::headers::{Auth, SecretMap};

/// Default per-call timeout.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default startup (spawn + handshake + tool listing) timeout.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A set of connectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct McpConfig {
    /// The connectors, in order.
    pub connectors: Vec<ConnectorConfig>,
}

/// Which handshake to use.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolMode {
    /// The `initialize` handshake, offering protocol version 2025-11-25 (the server may
    /// answer with an older version it supports).
    #[default]
    Initialize,
    /// Probe with the stateless 2026-07-28 `server/discover`; fall back to `initialize`
    /// (2025-11-25) when the server is legacy or does not answer within 10 s.
    Auto,
}

/// How to reach the server.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    /// MCP Streamable HTTP.
    StreamableHttp {
        /// Endpoint URL, passed through untouched (query parameters such as `?toolsets=`
        /// included). May contain `${NAME}` references.
        url: String,
        /// Extra headers (values may contain `${NAME}`; they are secrets).
        headers: SecretMap,
        /// `Authorization` shorthand.
        auth: Option<Auth>,
    },
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// Program.
        command: String,
        /// Arguments (may contain `${NAME}`).
        args: Vec<String>,
        /// Extra environment (values may contain `${NAME}`; they are secrets).
        env: SecretMap,
        /// Working directory.
        cwd: Option<PathBuf>,
    },
}

impl Transport {
    /// `streamable_http` or `stdio`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::StreamableHttp { .. } => "streamable_http",
            Transport::Stdio { .. } => "stdio",
        }
    }
}

/// Which remote tools to expose. Patterns match the server's tool name; `*` matches any run
/// of characters. A tool is exposed if it matches `allow` (or `allow` is empty) and does not
/// match `deny`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolFilter {
    /// Patterns of tools to keep (empty = all).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Patterns of tools to drop.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl ToolFilter {
    /// Whether `tool` passes the filter.
    pub fn accepts(&self, tool: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| glob_match(p, tool)))
            && !self.deny.iter().any(|p| glob_match(p, tool))
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// One connector.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorConfig {
    /// Name, used in tool names (`mcp__<name>__<tool>`), errors and the manifest.
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Per tool-call timeout (progress notifications do not extend it).
    pub call_timeout: Duration,
    /// Timeout for spawn/connect + handshake + tool listing.
    pub startup_timeout: Duration,
    /// Which tools to expose.
    pub tools: ToolFilter,
    /// Region/site, informational (shown in the manifest).
    pub region: Option<String>,
    /// A line for the context layer describing what this connector is for.
    pub description: Option<String>,
    /// Handshake.
    pub protocol: ProtocolMode,
}

impl ConnectorConfig {
    /// A Streamable HTTP connector with default timeouts.
    pub fn streamable_http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(
            name,
            Transport::StreamableHttp {
                url: url.into(),
                headers: SecretMap::default(),
                auth: None,
            },
        )
    }

    /// A stdio connector with default timeouts.
    pub fn stdio<I, S>(name: impl Into<String>, command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(
            name,
            Transport::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: SecretMap::default(),
                cwd: None,
            },
        )
    }

    fn new(name: impl Into<String>, transport: Transport) -> Self {
        ConnectorConfig {
            name: name.into(),
            transport,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            tools: ToolFilter::default(),
            region: None,
            description: None,
            protocol: ProtocolMode::default(),
        }
    }

    /// Add an HTTP header (HTTP only; ignored for stdio). The value may contain `${NAME}`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Transport::StreamableHttp { headers, .. } = &mut self.transport {
            headers.insert(name, value);
        }
        self
    }

    /// Set the `Authorization` shorthand (HTTP only).
    pub fn auth(mut self, new_auth: Auth) -> Self {
        if let Transport::StreamableHttp { auth, .. } = &mut self.transport {
            *auth = Some(new_auth);
        }
        self
    }

    /// Add an environment variable for the child (stdio only).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Transport::Stdio { env, .. } = &mut self.transport {
            env.insert(name, value);
        }
        self
    }

    /// Set the per-call timeout.
    pub fn call_timeout(mut self, t: Duration) -> Self {
        self.call_timeout = t;
        self
    }

    /// Set the startup timeout.
    pub fn startup_timeout(mut self, t: Duration) -> Self {
        self.startup_timeout = t;
        self
    }

    /// Set the tool filter.
    pub fn tools(mut self, filter: ToolFilter) -> Self {
        self.tools = filter;
        self
    }

    /// Set the handshake.
    pub fn protocol(mut self, mode: ProtocolMode) -> Self {
        self.protocol = mode;
        self
    }

    /// Set the description shown in the manifest.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Set the region (informational).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Check names, URLs, timeouts. `field_prefix` is e.g. `connectors[0]`.
    pub fn validate(&self, field_prefix: &str) -> Result<(), McpError> {
        let f = |field: &str| format!("{field_prefix}.{field}");
        if self.name.is_empty() {
            return Err(McpError::config(f("name"), "must not be empty"));
        }
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(McpError::config(
                f("name"),
                format!(
                    "`{}` may only contain ASCII letters, digits, `_` and `-`",
                    self.name
                ),
            ));
        }
        if self.call_timeout.is_zero() {
            return Err(McpError::config(f("call_timeout_secs"), "must be > 0"));
        }
        if self.startup_timeout.is_zero() {
            return Err(McpError::config(f("startup_timeout_secs"), "must be > 0"));
        }
        match &self.transport {
            Transport::StreamableHttp { url, headers, auth } => {
                // A URL that starts with `${VAR}` is checked once expanded (at connect time).
                let scheme_ok = url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with("${");
                if !scheme_ok {
                    return Err(McpError::config(
                        f("url"),
                        "must start with `http://` or `https://`",
                    ));
                }
                if !url.contains("${") && reqwest::Url::parse(url).is_err() {
                    return Err(McpError::config(f("url"), "is not a valid URL"));
                }
                for name in headers.0.keys() {
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        return Err(McpError::config(
                            f(&format!("headers.{name}")),
                            "is not a valid HTTP header name",
                        ));
                    }
                    let lower = name.to_ascii_lowercase();
                    if matches!(
                        lower.as_str(),
                        "accept" | "mcp-session-id" | "last-event-id" | "content-type"
                    ) {
                        return Err(McpError::config(
                            f(&format!("headers.{name}")),
                            "is managed by the MCP transport and cannot be set",
                        ));
                    }
                    if lower == "authorization" && auth.is_some() {
                        return Err(McpError::config(
                            f("auth"),
                            "both `auth` and an `Authorization` header are set; keep one",
                        ));
                    }
                }
            }
            Transport::Stdio { command, .. } => {
                if command.trim().is_empty() {
                    return Err(McpError::config(f("command"), "must not be empty"));
                }
            }
        }
        Ok(())
    }
}

// ---- file formats ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    connectors: Vec<RawConnector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    name: String,
    transport: String,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    auth: Option<Auth>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    call_timeout_secs: Option<f64>,
    startup_timeout_secs: Option<f64>,
    #[serde(default)]
    tools: ToolFilter,
    region: Option<String>,
    description: Option<String>,
    protocol: Option<ProtocolMode>,
}

fn secs(v: Option<f64>, default: Duration, field: String) -> Result<Duration, McpError> {
    match v {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        Some(_) => Err(McpError::config(
            field,
            "must be a positive number of seconds",
        )),
    }
}

impl RawConnector {
    fn into_config(self, i: usize) -> Result<ConnectorConfig, McpError> {
        let p = format!("connectors[{i}]");
        let only_http = |present: bool, field: &str| {
            if present {
                Err(McpError::config(
                    format!("{p}.{field}"),
                    "only valid with `transport: streamable_http`",
                ))
            } else {
                Ok(())
            }
        };
        let only_stdio = |present: bool, field: &str| {
            if present {
                Err(McpError::config(
                    format!("{p}.{field}"),
                    "only valid with `transport: stdio`",
                ))
            } else {
                Ok(())
            }
        };
        let transport = match self.transport.as_str() {
            "streamable_http" | "streamable-http" | "http" => {
                only_stdio(self.command.is_some(), "command")?;
                only_stdio(!self.args.is_empty(), "args")?;
                only_stdio(!self.env.is_empty(), "env")?;
                only_stdio(self.cwd.is_some(), "cwd")?;
                let Some(url) = self.url else {
                    return Err(McpError::config(
                        format!("{p}.url"),
                        "is required for `transport: streamable_http`",
                    ));
                };
                Transport::StreamableHttp {
                    url,
                    headers: SecretMap(self.headers),
                    auth: self.auth,
                }
            }
            "stdio" => {
                only_http(self.url.is_some(), "url")?;
                only_http(!self.headers.is_empty(), "headers")?;
                only_http(self.auth.is_some(), "auth")?;
                let Some(command) = self.command else {
                    return Err(McpError::config(
                        format!("{p}.command"),
                        "is required for `transport: stdio`",
                    ));
                };
                Transport::Stdio {
                    command,
                    args: self.args,
                    env: SecretMap(self.env),
                    cwd: self.cwd,
                }
            }
            other => {
                return Err(McpError::config(
                    format!("{p}.transport"),
                    format!("unknown transport `{other}` (expected `streamable_http` or `stdio`)"),
                ));
            }
        };
        let cfg = ConnectorConfig {
            name: self.name,
            transport,
            call_timeout: secs(
                self.call_timeout_secs,
                DEFAULT_CALL_TIMEOUT,
                format!("{p}.call_timeout_secs"),
            )?,
            startup_timeout: secs(
                self.startup_timeout_secs,
                DEFAULT_STARTUP_TIMEOUT,
                format!("{p}.startup_timeout_secs"),
            )?,
            tools: self.tools,
            region: self.region,
            description: self.description,
            protocol: self.protocol.unwrap_or_default(),
        };
        cfg.validate(&p)?;
        Ok(cfg)
    }
}

impl McpConfig {
    /// Parse YAML (JSON is valid YAML too, but prefer [`McpConfig::from_json_str`] for it).
    pub fn from_yaml_str(text: &str) -> Result<Self, McpError> {
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            let field = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "<document>".into());
            McpError::config(field, e.to_string())
        })?;
        Self::from_raw(raw)
    }

    /// Parse JSON.
    pub fn from_json_str(text: &str) -> Result<Self, McpError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| {
            McpError::config(
                format!("line {} column {}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        Self::from_raw(raw)
    }

    /// Read a `.yaml`/`.yml`/`.json` file; errors name the file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, McpError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| McpError::Read {
            path: name.clone(),
            message: e.to_string(),
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            Self::from_json_str(&text)
        } else {
            Self::from_yaml_str(&text)
        };
        parsed.map_err(|e| e.with_source_name(&name))
    }

    fn from_raw(raw: RawConfig) -> Result<Self, McpError> {
        let connectors = raw
            .connectors
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.into_config(i))
            .collect::<Result<Vec<_>, _>>()?;
        let cfg = McpConfig { connectors };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Validate every connector and that names are unique.
    pub fn validate(&self) -> Result<(), McpError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.connectors.iter().enumerate() {
            c.validate(&format!("connectors[{i}]"))?;
            if !seen.insert(c.name.as_str()) {
                return Err(McpError::config(
                    format!("connectors[{i}].name"),
                    format!("duplicate connector name `{}`", c.name),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "x"));
        assert!(glob_match("get_*", "get_logs"));
        assert!(!glob_match("get_*", "list_logs"));
        assert!(glob_match("*delete*", "bulk_delete_monitors"));
        assert!(glob_match("a*c", "abc"));
        assert!(!glob_match("a*c", "abd"));
        let f = ToolFilter {
            allow: vec!["get_*".into(), "echo".into()],
            deny: vec!["get_env".into()],
        };
        assert!(f.accepts("echo") && f.accepts("get_sum") && !f.accepts("get_env"));
    }
}
