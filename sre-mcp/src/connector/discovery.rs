//! One connection attempt: start the transport, hand-shake, list the tools (with their
//! annotations) and wait for the session's background event stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use sre_core::ToolAnnotations;
use tokio_util::sync::CancellationToken;

use super::{Inner, RemoteTool, Session};
use crate::config::Transport;
use crate::error::{FailureKind, McpError};
use crate::status::ConnectorStatus;

/// A tool's annotations from the hints in its MCP description (absent hints take MCP's
/// defaults, which assume the worst).
pub(crate) fn annotations_from_hints(tool: &Value) -> ToolAnnotations {
    let hint = |name: &str, default: bool| {
        tool.pointer(&format!("/annotations/{name}"))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    let read_only = hint("readOnlyHint", false);
    ToolAnnotations {
        read_only,
        // MCP: destructiveHint and idempotentHint are meaningful only when not read-only.
        destructive: !read_only && hint("destructiveHint", true),
        idempotent: read_only || hint("idempotentHint", false),
        open_world: hint("openWorldHint", true),
    }
}

impl Inner {
    /// One connection attempt: resolve, start, handshake, list tools, and (HTTP) wait until
    /// the background event stream is open or refused.
    pub(super) async fn connect_once(self: &Arc<Self>) -> Result<Arc<Session>, McpError> {
        let resolved = self.resolve()?;
        let startup = self.config.startup_timeout;
        let deadline = tokio::time::Instant::now() + startup;
        let attempt = async {
            let started = self.start(resolved).await?;
            let tools = started
                .running
                .peer()
                .list_all_tools()
                .await
                .map_err(|e| self.classify_connect(&e))?;
            Ok::<_, McpError>((started, tools))
        };
        let (started, tools) = tokio::select! {
            r = tokio::time::timeout_at(deadline, attempt) => match r {
                Ok(r) => r?,
                Err(_) => {
                    let tail = if matches!(self.config.transport, Transport::Stdio { .. }) {
                        self.stderr_tail()
                    } else {
                        String::new()
                    };
                    return Err(self.connect_error(
                        FailureKind::Timeout,
                        format!(
                            "no complete handshake and tool list within {:.1}s (startup_timeout_secs){tail}",
                            startup.as_secs_f64()
                        ),
                    ));
                }
            },
            _ = self.shutdown.cancelled() => {
                return Err(self.connect_error(FailureKind::Closed, "connector shut down"));
            }
        };
        // A server may send requests (elicitation, sampling) for a call on the session's
        // GET stream; if that stream is not open yet, it drops them (the TypeScript SDK
        // does). So no call goes out before the stream is open or refused. Stateless
        // sessions have no such stream. If the server neither opens nor refuses it within
        // the startup window, the connector goes on without it rather than fail.
        if let Some(events) = started.events.as_ref().filter(|e| e.expects_stream()) {
            tokio::select! {
                _ = tokio::time::timeout_at(deadline, events.settled()) => {}
                _ = self.shutdown.cancelled() => {
                    return Err(self.connect_error(FailureKind::Closed, "connector shut down"));
                }
            }
        }
        let running = started.running;
        let mut remote = Vec::new();
        for t in tools {
            let v = serde_json::to_value(&t).unwrap_or(Value::Null);
            let name = t.name.to_string();
            if !self.config.tools.accepts(&name) {
                continue;
            }
            remote.push(RemoteTool {
                name,
                title: t.title.clone(),
                description: t.description.as_deref().unwrap_or_default().to_string(),
                input_schema: v.get("inputSchema").cloned().unwrap_or(Value::Null),
                annotations: annotations_from_hints(&v),
            });
        }
        remote.sort_by(|a, b| a.name.cmp(&b.name));
        let count = remote.len();
        if let Ok(mut t) = self.tools.write() {
            *t = remote;
        }
        let protocol_version = running
            .peer()
            .peer_info()
            .map(|i| i.protocol_version.to_string())
            .unwrap_or_else(|| "unknown".into());
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let session = Arc::new(Session {
            peer: running.peer().clone(),
            generation,
            protocol_version: protocol_version.clone(),
            closer: CancellationToken::new(),
        });
        self.set_status(ConnectorStatus::Connected {
            tools: count,
            protocol_version,
        });
        self.spawn_supervisor(running, generation, session.closer.clone());
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_hints_assume_the_worst() {
        let a = annotations_from_hints(&json!({"name": "x"}));
        assert!(!a.read_only && a.destructive && !a.idempotent && a.open_world);
        assert!(!a.safe_to_repeat());
        let ro = annotations_from_hints(&json!({"annotations": {"readOnlyHint": true}}));
        assert!(ro.read_only && !ro.destructive && ro.idempotent && ro.safe_to_repeat());
        let idem = annotations_from_hints(
            &json!({"annotations": {"idempotentHint": true, "destructiveHint": false}}),
        );
        assert!(!idem.read_only && !idem.destructive && idem.safe_to_repeat());
    }
}
