//! The adapter that makes a remote MCP tool an `sre_core::Tool`, and tool naming.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec};

use crate::connector::{CallFailure, Inner, RemoteTool};
use crate::content::map_call_result;

/// Longest tool name most providers accept.
pub const MAX_TOOL_NAME_LEN: usize = 64;

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 32 bits: a stable (cross-platform, cross-version) hash for name suffixes.
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn with_suffix(base: &str, suffix: &str) -> String {
    let keep = MAX_TOOL_NAME_LEN.saturating_sub(suffix.len());
    let mut s: String = base.chars().take(keep).collect();
    s.push_str(suffix);
    s
}

/// The local names of `remote` tools of `connector`, in the same order: `mcp__<connector>__<tool>`
/// sanitised to `[A-Za-z0-9_-]`, at most 64 characters. Names that had to be shortened or that
/// collide after sanitising get `_<8 hex of FNV-1a(original)>`; the result depends only on
/// the (connector, tool) names, so it is deterministic across runs.
pub fn local_tool_names(connector: &str, remote: &[&str]) -> Vec<String> {
    let bases: Vec<String> = remote
        .iter()
        .map(|t| format!("mcp__{}__{}", sanitize(connector), sanitize(t)))
        .collect();
    // Count how many remote names map to each base, to detect sanitising collisions.
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for b in &bases {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    let mut used = BTreeSet::new();
    let mut out = Vec::with_capacity(remote.len());
    for (t, base) in remote.iter().zip(&bases) {
        let collides = counts.get(base.as_str()).copied().unwrap_or(0) > 1;
        let mut name = if base.len() > MAX_TOOL_NAME_LEN || collides {
            with_suffix(
                base,
                &format!("_{:08x}", fnv1a(&format!("{connector}\u{0}{t}"))),
            )
        } else {
            base.clone()
        };
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = with_suffix(
                base,
                &format!("_{:08x}_{n}", fnv1a(&format!("{connector}\u{0}{t}"))),
            );
            n += 1;
        }
        out.push(name);
    }
    out
}

/// Make sure the schema is an object schema (`"type": "object"` with `properties`).
pub fn normalize_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            let mut m = m.clone();
            match m.get("type") {
                Some(Value::String(t)) if t == "object" => {}
                _ => {
                    m.insert("type".into(), json!("object"));
                }
            }
            if !m.get("properties").is_some_and(Value::is_object) {
                m.insert("properties".into(), json!({}));
            }
            Value::Object(m)
        }
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// One remote tool as an `sre_core::Tool`.
pub struct McpTool {
    spec: ToolSpec,
    remote_name: String,
    annotations: ToolAnnotations,
    connector: Arc<Inner>,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool")
            .field("name", &self.spec.name)
            .field("remote_name", &self.remote_name)
            .field("connector", &self.connector.name())
            .finish()
    }
}

impl McpTool {
    pub(crate) fn build(connector: &Arc<Inner>, remote: &[RemoteTool]) -> Vec<McpTool> {
        let names: Vec<&str> = remote.iter().map(|t| t.name.as_str()).collect();
        let local = local_tool_names(connector.name(), &names);
        remote
            .iter()
            .zip(local)
            .map(|(t, name)| {
                let description = if !t.description.is_empty() {
                    t.description.clone()
                } else if let Some(title) = &t.title {
                    title.clone()
                } else {
                    format!("Tool `{}` of MCP connector `{}`.", t.name, connector.name())
                };
                McpTool {
                    spec: ToolSpec {
                        name,
                        description,
                        input_schema: normalize_schema(&t.input_schema),
                    },
                    remote_name: t.name.clone(),
                    annotations: t.annotations,
                    connector: connector.clone(),
                }
            })
            .collect()
    }

    /// The server's name of this tool.
    pub fn remote_name(&self) -> &str {
        &self.remote_name
    }

    /// The connector's name.
    pub fn connector_name(&self) -> &str {
        self.connector.name()
    }
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    /// From the server's hints; absent hints take MCP's defaults (may write, destroy,
    /// not idempotent).
    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let args = match input {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(ToolError::Invalid(format!(
                    "arguments of `{}` must be a JSON object, got {}",
                    self.spec.name,
                    sre_core::text::json_kind(&other)
                )));
            }
        };
        let trace = ctx
            .events
            .as_ref()
            .and_then(|e| e.trace_context(&ctx.session_id, &ctx.tool_use_id));
        let started = std::time::Instant::now();
        let result = self
            .connector
            .call(&self.remote_name, args, &ctx.cancel, trace.as_ref())
            .await;
        // The request itself, for telemetry (an MCP client span under the tool call's).
        if let Some(events) = &ctx.events
            && !matches!(result, Err(CallFailure::Cancelled))
        {
            events.emit(sre_core::AgentEvent {
                agent: ctx.agent_name.clone(),
                session_id: ctx.session_id.clone(),
                kind: sre_core::EventKind::McpCall {
                    id: ctx.tool_use_id.clone(),
                    server: self.connector.name().to_string(),
                    method: "tools/call".into(),
                    tool: self.remote_name.clone(),
                    transport: self.connector.config.transport.kind().into(),
                    duration: started.elapsed(),
                    failed: result.is_err(),
                },
            });
        }
        match result {
            Ok(result) => Ok(map_call_result(&result)),
            Err(CallFailure::Cancelled) => Err(ToolError::Cancelled),
            Err(CallFailure::Failed(e)) => Err(ToolError::Invalid(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn names_are_sanitised_bounded_and_unique() {
        let long = "x".repeat(80);
        let names = local_tool_names("dd", &["get logs", "get_logs", "echo", &long, "a.b"]);
        assert_eq!(names[2], "mcp__dd__echo");
        assert_eq!(names[4], "mcp__dd__a_b");
        assert!(
            names[0].starts_with("mcp__dd__get_logs_")
                && names[1].starts_with("mcp__dd__get_logs_")
        );
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| n.len() <= MAX_TOOL_NAME_LEN));
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }));
        // Deterministic and order-independent for the collision suffixes.
        let again = local_tool_names("dd", &["get_logs", "get logs"]);
        assert_eq!(again[1], names[0]);
        assert_eq!(again[0], names[1]);
    }

    #[test]
    fn schema_is_object() {
        assert_eq!(
            normalize_schema(&Value::Null),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            normalize_schema(&json!({"properties": {"a": {"type": "string"}}})),
            json!({"type": "object", "properties": {"a": {"type": "string"}}})
        );
    }
}
