//! # sre-mcp
//!
//! MCP connectors for sre-harness: observability and incident platforms (Datadog,
//! PagerDuty, Atlassian, Grafana, Kusto...) reach the agent as MCP servers; each server's
//! tools become `Arc<dyn sre_core::Tool>` named `mcp__<connector>__<tool>`.
//!
//! Built on [`rmcp`](https://docs.rs/rmcp), the official Rust SDK, kept behind
//! [`McpConnector`] so SDK churn stays inside this crate.
//!
//! * Transports: Streamable HTTP (custom headers, `Authorization: Bearer/Token/Basic`,
//!   `${ENV}` references, query parameters passed through) and stdio (command, args, env).
//! * Discovery follows pagination; results (text, structured content, resource links,
//!   images as placeholders, `isError`) map to [`sre_core::ToolOutput`].
//! * Per-call and startup timeouts, cancellation, stdio restart with backoff, HTTP session
//!   re-initialisation, and errors that name the connector and the likely fix.
//! * A secret-free [`ConnectorsManifest`] for the context layer.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sre_core::{AgentLoop, ScriptedModel};
//! use sre_mcp::{McpConfig, McpConnectors};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = McpConfig::from_yaml_str(r#"
//! connectors:
//!   - name: datadog
//!     transport: streamable_http
//!     url: https://mcp.datadoghq.com/api/unstable/mcp-server/mcp?toolsets=core,apm
//!     headers:
//!       DD_API_KEY: ${DD_API_KEY}
//!       DD_APPLICATION_KEY: ${DD_APPLICATION_KEY}
//!   - name: everything
//!     transport: stdio
//!     command: npx
//!     args: ["-y", "@modelcontextprotocol/server-everything"]
//! "#)?;
//! let mcp = McpConnectors::new(config)?;
//! let model = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: done\n")?);
//! let agent = AgentLoop::builder(model).tools(mcp.connect_all().await?).build()?;
//! let manifest_json = mcp.manifest().to_json(); // feed to the "connectors" context layer
//! # let _ = (agent, manifest_json);
//! # Ok(()) }
//! ```

mod config;
mod connector;
mod content;
mod error;
mod headers;
mod manifest;
mod status;
mod tool;

use std::sync::Arc;

use serde_json::{Map, Value};
use sre_core::{Tool, ToolOutput};
use tokio_util::sync::CancellationToken;

pub use config::{
    ConnectorConfig, DEFAULT_CALL_TIMEOUT, DEFAULT_STARTUP_TIMEOUT, McpConfig, ProtocolMode,
    ToolFilter, Transport,
};
pub use connector::{CallFailure, ElicitationPolicy, EnvLookup, RemoteTool};
pub use content::{SAME_AS_TEXT, map_call_result};
pub use error::{FailureKind, McpError};
pub use headers::{Auth, SecretMap, expand, process_env};
pub use manifest::{ConnectorManifest, ConnectorsManifest, SAFE_QUERY_KEYS};
pub use status::ConnectorStatus;
pub use tool::{MAX_TOOL_NAME_LEN, McpTool, local_tool_names, normalize_schema};

use connector::Inner;

/// One MCP server connection, its tools and its status.
#[derive(Clone)]
pub struct McpConnector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for McpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpConnector")
            .field("config", &self.inner.config)
            .field("status", &self.inner.status())
            .finish()
    }
}

impl McpConnector {
    /// A connector for `config`, resolving `${NAME}` from the process environment.
    pub fn new(config: ConnectorConfig) -> Result<Self, McpError> {
        Self::with_options(config, Arc::new(process_env), ElicitationPolicy::Decline)
    }

    /// A connector with a custom environment lookup and elicitation policy.
    pub fn with_options(
        config: ConnectorConfig,
        env: EnvLookup,
        elicitation: ElicitationPolicy,
    ) -> Result<Self, McpError> {
        config.validate(&format!("connectors.{}", config.name))?;
        Ok(McpConnector {
            inner: Inner::new(config, env, elicitation),
        })
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Its configuration (header/env values are redacted in `Debug`).
    pub fn config(&self) -> &ConnectorConfig {
        &self.inner.config
    }

    /// Connect (spawn/handshake/list tools, within the startup timeout) and return the
    /// tools. Calling it again when connected returns the same tool set.
    pub async fn connect(&self) -> Result<Vec<Arc<dyn Tool>>, McpError> {
        let remote = self.inner.connect().await?;
        Ok(McpTool::build(&self.inner, &remote)
            .into_iter()
            .map(|t| Arc::new(t) as Arc<dyn Tool>)
            .collect())
    }

    /// The tools discovered by the last successful connection (empty before).
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        McpTool::build(&self.inner, &self.inner.remote_tools())
            .into_iter()
            .map(|t| Arc::new(t) as Arc<dyn Tool>)
            .collect()
    }

    /// The discovered remote tools (server names, schemas), after filters.
    pub fn remote_tools(&self) -> Vec<RemoteTool> {
        self.inner.remote_tools()
    }

    /// Current status.
    pub fn status(&self) -> ConnectorStatus {
        self.inner.status()
    }

    /// Watch status changes.
    pub fn subscribe_status(&self) -> tokio::sync::watch::Receiver<ConnectorStatus> {
        self.inner.subscribe()
    }

    /// How many times the connection was lost and a restart began.
    pub fn restarts(&self) -> u64 {
        self.inner.restarts()
    }

    /// Progress notifications received so far (all calls).
    pub fn progress_notifications(&self) -> u64 {
        self.inner.progress_notifications()
    }

    /// Call a tool by its server name, bypassing the `Tool` adapter (scripts, benches,
    /// conformance). Returns the mapped output.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<ToolOutput, McpError> {
        self.call_raw(tool, arguments, &CancellationToken::new())
            .await
            .map(|v| map_call_result(&v))
    }

    /// Call a tool by its server name; returns the raw `CallToolResult` JSON.
    pub async fn call_raw(
        &self,
        tool: &str,
        arguments: Value,
        cancel: &CancellationToken,
    ) -> Result<Value, McpError> {
        let args = match arguments {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        match self.inner.call(tool, args, cancel, None).await {
            Ok(v) => Ok(v),
            Err(CallFailure::Failed(e)) => Err(e),
            Err(CallFailure::Cancelled) => Err(McpError::Call {
                connector: self.name().to_string(),
                tool: tool.to_string(),
                kind: FailureKind::Other,
                detail: "cancelled".into(),
            }),
        }
    }

    /// Its manifest entry.
    pub fn manifest(&self) -> ConnectorManifest {
        let cfg = &self.inner.config;
        let status = self.inner.status();
        let tools: Vec<String> = {
            let mut t: Vec<String> = self.tools().iter().map(|t| t.spec().name.clone()).collect();
            t.sort();
            t
        };
        let (host, path, query) = match self.inner.resolved_url() {
            Some(u) => manifest::url_parts(&u),
            None => (None, None, Default::default()),
        };
        let command = match &cfg.transport {
            Transport::Stdio { command, .. } => Some(
                std::path::Path::new(command)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| command.clone()),
            ),
            Transport::StreamableHttp { .. } => None,
        };
        let (header_names, auth_scheme) = connector::header_names(cfg);
        let error = match &status {
            ConnectorStatus::Failed { reason, .. } => Some(reason.clone()),
            ConnectorStatus::Restarting { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        ConnectorManifest {
            name: cfg.name.clone(),
            transport: cfg.transport.kind().to_string(),
            status: status.label().to_string(),
            error,
            tool_count: tools.len(),
            tools,
            host,
            path,
            query,
            command,
            auth_scheme,
            header_names,
            region: cfg.region.clone(),
            description: cfg.description.clone(),
            protocol_version: self.inner.protocol_version(),
        }
    }

    /// Stop the connection (kills a stdio child) and stop restarting it.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await;
    }
}

/// What [`McpConnectors::connect_available`] returns.
#[derive(Default)]
pub struct ConnectReport {
    /// Tools of every connector that connected, in connector order.
    pub tools: Vec<Arc<dyn Tool>>,
    /// Errors of the connectors that did not.
    pub failed: Vec<McpError>,
}

impl std::fmt::Debug for ConnectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectReport")
            .field(
                "tools",
                &self
                    .tools
                    .iter()
                    .map(|t| t.spec().name.clone())
                    .collect::<Vec<_>>(),
            )
            .field("failed", &self.failed)
            .finish()
    }
}

/// A set of connectors built from an [`McpConfig`].
#[derive(Clone, Debug)]
pub struct McpConnectors {
    connectors: Vec<McpConnector>,
}

impl McpConnectors {
    /// Connectors for `config` (validated; nothing is started yet).
    pub fn new(config: McpConfig) -> Result<Self, McpError> {
        Self::with_env(config, Arc::new(process_env))
    }

    /// Like [`McpConnectors::new`] with a custom `${NAME}` lookup.
    pub fn with_env(config: McpConfig, env: EnvLookup) -> Result<Self, McpError> {
        config.validate()?;
        let connectors = config
            .connectors
            .into_iter()
            .map(|c| McpConnector::with_options(c, env.clone(), ElicitationPolicy::Decline))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(McpConnectors { connectors })
    }

    /// Read a YAML/JSON config file and build the connectors.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, McpError> {
        Self::new(McpConfig::from_path(path)?)
    }

    /// The connectors.
    pub fn connectors(&self) -> &[McpConnector] {
        &self.connectors
    }

    /// The connector called `name`.
    pub fn get(&self, name: &str) -> Result<&McpConnector, McpError> {
        self.connectors
            .iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| McpError::UnknownConnector(name.to_string()))
    }

    /// Connect all connectors concurrently; every tool, or the first error (by config
    /// order) if any connector failed. Statuses of all connectors are updated either way.
    pub async fn connect_all(&self) -> Result<Vec<Arc<dyn Tool>>, McpError> {
        let report = self.connect_available().await;
        match report.failed.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(report.tools),
        }
    }

    /// Connect all connectors concurrently; tools of those that connected plus the errors
    /// of those that did not (for hosts that prefer degraded service to none).
    pub async fn connect_available(&self) -> ConnectReport {
        let results =
            futures::future::join_all(self.connectors.iter().map(McpConnector::connect)).await;
        let mut report = ConnectReport::default();
        for r in results {
            match r {
                Ok(tools) => report.tools.extend(tools),
                Err(e) => report.failed.push(e),
            }
        }
        report
    }

    /// Status of each connector, by name.
    pub fn statuses(&self) -> Vec<(String, ConnectorStatus)> {
        self.connectors
            .iter()
            .map(|c| (c.name().to_string(), c.status()))
            .collect()
    }

    /// The manifest of all connectors, sorted by name.
    pub fn manifest(&self) -> ConnectorsManifest {
        let mut connectors: Vec<ConnectorManifest> =
            self.connectors.iter().map(McpConnector::manifest).collect();
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        ConnectorsManifest { connectors }
    }

    /// Shut every connector down.
    pub async fn shutdown(&self) {
        for c in &self.connectors {
            c.shutdown().await;
        }
    }
}

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
