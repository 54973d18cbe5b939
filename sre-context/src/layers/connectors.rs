//! The connectors layer: what the agent can access.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sre_core::{ContextLayer, LayerContext};

/// One connector (an MCP server, a cloud API, a tool bundle) as the host describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    /// Name (`aws-prod`, `github`).
    pub name: String,
    /// Transport (`stdio`, `http`, `builtin`).
    pub transport: String,
    /// Tools it offers.
    pub tool_count: usize,
    /// Notable configuration (`region = eu-west-1`, `toolsets = logs,metrics`).
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    /// One-line description.
    #[serde(default)]
    pub description: Option<String>,
}

impl Connector {
    /// A connector with no notes.
    pub fn new(name: impl Into<String>, transport: impl Into<String>, tool_count: usize) -> Self {
        Connector {
            name: name.into(),
            transport: transport.into(),
            tool_count,
            ..Connector::default()
        }
    }

    /// Add a note.
    pub fn note(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.notes.insert(key.into(), value.into());
        self
    }

    /// Set the description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// Renders the connectors, sorted by name:
///
/// ```text
/// Connectors (what you can access):
/// - aws-prod (stdio, 42 tools): region=eu-west-1; toolsets=logs,metrics
/// - github (http, 12 tools) — source code and pull requests
/// ```
#[derive(Clone, Debug, Default)]
pub struct ConnectorsLayer {
    connectors: Vec<Connector>,
}

impl ConnectorsLayer {
    /// A layer over `connectors`.
    pub fn new(connectors: impl IntoIterator<Item = Connector>) -> Self {
        let mut connectors: Vec<Connector> = connectors.into_iter().collect();
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        ConnectorsLayer { connectors }
    }

    /// The text (empty when there are no connectors).
    pub fn render_text(&self) -> String {
        if self.connectors.is_empty() {
            return String::new();
        }
        let mut out = String::from("Connectors (what you can access):");
        for c in &self.connectors {
            let tools = if c.tool_count == 1 { "tool" } else { "tools" };
            let _ = write!(
                out,
                "\n- {} ({}, {} {tools})",
                c.name, c.transport, c.tool_count
            );
            if !c.notes.is_empty() {
                let notes: Vec<String> = c.notes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = write!(out, ": {}", notes.join("; "));
            }
            if let Some(d) = &c.description {
                let _ = write!(out, " — {}", d.lines().next().unwrap_or(""));
            }
        }
        out
    }
}

#[async_trait]
impl ContextLayer for ConnectorsLayer {
    fn name(&self) -> &str {
        "connectors"
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.render_text())
    }
}
