//! The host wiring from the README, end to end with sre-core's loop: tools from
//! `Workspace::tools`, offload through `OffloadStore`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use sre_core::{Agent, AgentLoop, ScriptedModel, Session};
use sre_tools::{MountMode, OffloadConfig, OffloadStore, Workspace};

#[tokio::test(flavor = "multi_thread")]
async fn a_large_shell_result_reaches_the_model_as_an_offload_preview() {
    let root = tempfile::tempdir().unwrap();
    let ws = Workspace::builder(root.path())
        .mount("scratch", MountMode::Writable)
        .build()
        .unwrap();
    let tools = ws.tools().unwrap();
    let names: Vec<String> = tools.iter().map(|t| t.spec().name.clone()).collect();
    assert_eq!(
        names,
        [
            "edit_file",
            "find",
            "git_checkout",
            "git_diff",
            "git_live_commit",
            "git_log",
            "grep",
            "list",
            "python",
            "read_file",
            "shell",
            "write_file"
        ]
    );
    for t in &tools {
        let props = &t.spec().input_schema["properties"];
        for (field, schema) in props.as_object().unwrap() {
            assert!(
                schema.get("description").is_some(),
                "{}.{field} has no description",
                t.spec().name
            );
        }
    }
    let offload = Arc::new(OffloadStore::new(ws.clone(), OffloadConfig::default()).unwrap());
    let script = r#"
turns:
  - tool_calls:
      - tool: shell
        args: {command: "seq 1 20000"}
  - expect:
      last_message_contains: ["stored in `scratch/.offload/shell-", "19999"]
    final: done
"#;
    let model = Arc::new(ScriptedModel::from_yaml(script).unwrap());
    let agent = AgentLoop::builder(model)
        .tools(tools)
        .offload(offload)
        .build()
        .unwrap();
    let outcome = agent.run(&Session::new("t"), "count").await.unwrap();
    assert_eq!(outcome.answer.as_deref(), Some("done"));
    let stored: Vec<_> = std::fs::read_dir(root.path().join("scratch/.offload"))
        .unwrap()
        .collect();
    assert_eq!(stored.len(), 1);
}
