//! Per-connector status, observable by the host.

use serde::{Deserialize, Serialize};

use crate::error::FailureKind;

/// The state of one connector.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectorStatus {
    /// Not connected yet.
    Idle,
    /// Spawning/connecting, handshaking or listing tools.
    Connecting,
    /// Ready.
    Connected {
        /// Tools exposed (after filters).
        tools: usize,
        /// Negotiated protocol version.
        protocol_version: String,
    },
    /// The connection was lost (process exited, session closed); a restart is scheduled.
    Restarting {
        /// Why it was lost.
        reason: String,
        /// Restart attempt number, 1-based.
        attempt: u32,
    },
    /// The last attempt failed.
    Failed {
        /// Classification.
        kind: FailureKind,
        /// Full message, with the hint; no secrets.
        reason: String,
    },
    /// Shut down by the host.
    Closed,
}

impl ConnectorStatus {
    /// `idle`, `connecting`, `connected`, `restarting`, `failed` or `closed`.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectorStatus::Idle => "idle",
            ConnectorStatus::Connecting => "connecting",
            ConnectorStatus::Connected { .. } => "connected",
            ConnectorStatus::Restarting { .. } => "restarting",
            ConnectorStatus::Failed { .. } => "failed",
            ConnectorStatus::Closed => "closed",
        }
    }
}

impl std::fmt::Display for ConnectorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectorStatus::Connected {
                tools,
                protocol_version,
            } => write!(f, "connected ({tools} tools, MCP {protocol_version})"),
            ConnectorStatus::Restarting { reason, attempt } => {
                write!(f, "restarting (attempt {attempt}): {reason}")
            }
            ConnectorStatus::Failed { reason, .. } => write!(f, "failed: {reason}"),
            other => f.write_str(other.label()),
        }
    }
}
