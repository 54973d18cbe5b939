//! The connectors manifest: a deterministic, secret-free description of the connectors
//! for the context layer (sre-context renders it as the "connectors" layer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Query parameters whose values are shown; any other parameter shows as `[redacted]`
/// (query strings sometimes carry API keys).
pub const SAFE_QUERY_KEYS: &[&str] = &[
    "toolsets",
    "tools",
    "toolset",
    "region",
    "site",
    "readonly",
    "read_only",
    "mode",
    "env",
    "environment",
    "cluster",
    "database",
    "project",
    "version",
];

/// One connector, as the model should know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorManifest {
    /// Connector name (tool names are `mcp__<name>__<tool>`).
    pub name: String,
    /// `streamable_http` or `stdio`.
    pub transport: String,
    /// `idle`, `connecting`, `connected`, `restarting`, `failed` or `closed`.
    pub status: String,
    /// Why it failed, when it did (secret-free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Number of exposed tools.
    pub tool_count: usize,
    /// Exposed tool names (local names), sorted.
    pub tools: Vec<String>,
    /// URL host (HTTP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// URL path (HTTP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// URL query parameters (values of non-allow-listed keys redacted).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Program name (stdio only; no arguments or environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Authorization scheme if recognisable (`bearer`, `token`, `basic`), never the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<String>,
    /// Names of the configured headers (values are never included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header_names: Vec<String>,
    /// Region/site from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Description from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Negotiated MCP protocol version, when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
}

/// All connectors, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorsManifest {
    /// The connectors.
    pub connectors: Vec<ConnectorManifest>,
}

impl ConnectorsManifest {
    /// Deterministic JSON (sorted connectors, fixed field order, sorted maps).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A compact text rendering (one line per connector) for prompts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.connectors {
            out.push_str(&format!("- {} ({}, {}", c.name, c.transport, c.status));
            if c.status == "connected" {
                out.push_str(&format!(", {} tools", c.tool_count));
            }
            if let Some(h) = &c.host {
                out.push_str(&format!(", host {h}"));
            }
            if let Some(r) = &c.region {
                out.push_str(&format!(", region {r}"));
            }
            if let Some(t) = c.query.get("toolsets") {
                out.push_str(&format!(", toolsets {t}"));
            }
            out.push(')');
            if let Some(d) = &c.description {
                out.push_str(&format!(": {d}"));
            }
            if let Some(e) = &c.error {
                out.push_str(&format!(" [error: {e}]"));
            }
            out.push('\n');
        }
        out
    }
}

/// Split a URL into host, path and (redacted) query for the manifest.
pub(crate) fn url_parts(url: &str) -> (Option<String>, Option<String>, BTreeMap<String, String>) {
    let Ok(u) = reqwest::Url::parse(url) else {
        return (None, None, BTreeMap::new());
    };
    let host = u.host_str().map(|h| match u.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_string(),
    });
    let mut query = BTreeMap::new();
    for (k, v) in u.query_pairs() {
        let shown = if SAFE_QUERY_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
            v.to_string()
        } else {
            "[redacted]".to_string()
        };
        query.insert(k.to_string(), shown);
    }
    (host, Some(u.path().to_string()), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_redact_unknown_query() {
        let (h, p, q) =
            url_parts("https://user:pw@mcp.datadoghq.eu/api/mcp?toolsets=core,apm&api_key=abc");
        assert_eq!(h.as_deref(), Some("mcp.datadoghq.eu"));
        assert_eq!(p.as_deref(), Some("/api/mcp"));
        assert_eq!(q.get("toolsets").map(String::as_str), Some("core,apm"));
        assert_eq!(q.get("api_key").map(String::as_str), Some("[redacted]"));
    }
}
