//! End to end: the agent loop calls an MCP tool discovered from server-everything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use sre_core::{Agent, AgentLoop, ScriptedModel, Session};
use sre_mcp::{McpConfig, McpConnectors};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_loop_uses_mcp_tools() {
    let yaml = format!(
        "connectors:\n  - name: everything\n    transport: stdio\n    command: {}\n    args: [{:?}, stdio]\n",
        common::node().display(),
        common::everything_js().display().to_string()
    );
    let mcp = McpConnectors::new(McpConfig::from_yaml_str(&yaml).unwrap()).unwrap();
    let script = r#"
turns:
  - tool_calls:
      - tool: mcp__everything__echo
        args: {message: from the agent}
  - expect:
      last_message_contains: ["Echo: from the agent"]
    final: done
"#;
    let model = Arc::new(ScriptedModel::from_yaml(script).unwrap());
    let agent = AgentLoop::builder(model)
        .tools(mcp.connect_all().await.unwrap())
        .build()
        .unwrap();
    let outcome = agent
        .run(&Session::new("mcp-e2e"), "echo something")
        .await
        .unwrap();
    assert_eq!(outcome.answer.as_deref(), Some("done"));
    let manifest = mcp.manifest();
    assert_eq!(manifest.connectors[0].status, "connected");
    assert!(
        manifest.connectors[0]
            .tools
            .contains(&"mcp__everything__echo".to_string())
    );
    mcp.shutdown().await;
}
