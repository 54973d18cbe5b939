//! A client for the official MCP conformance suite, built on sre-mcp.
//!
//! `npx @modelcontextprotocol/conformance client --command "<this binary>" --scenario <s>`
//! runs it as `<this binary> <server-url>` with `MCP_CONFORMANCE_SCENARIO` set. It connects
//! (Streamable HTTP), lists the tools, calls each one with arguments synthesised from its
//! input schema, prints the results and exits 0 (1 on connection failure).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sre_mcp::{ConnectorConfig, ElicitationPolicy, McpConnector, process_env};

fn sample(schema: &Value) -> Value {
    if let Some(v) = schema.get("default") {
        return v.clone();
    }
    if let Some(v) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("number") => json!(2.5),
        Some("integer") => json!(2),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => arguments(schema),
        _ => json!("test"),
    }
}

fn arguments(schema: &Value) -> Value {
    let mut out = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            out.insert(k.clone(), sample(s));
        }
    }
    Value::Object(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: conformance_client <server-url>");
        std::process::exit(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    eprintln!("scenario `{scenario}` against {url}");
    let config = ConnectorConfig::streamable_http("conformance", url)
        .call_timeout(Duration::from_secs(20))
        .startup_timeout(Duration::from_secs(20));
    let conn = match McpConnector::with_options(
        config,
        Arc::new(process_env),
        ElicitationPolicy::AcceptDefaults,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = conn.connect().await {
        eprintln!("{e}");
        std::process::exit(1);
    }
    for tool in conn.remote_tools() {
        let args = arguments(&tool.input_schema);
        match conn.call(&tool.name, args).await {
            Ok(out) => println!(
                "{} -> {}{}",
                tool.name,
                if out.is_error { "[error] " } else { "" },
                out.content
            ),
            Err(e) => println!("{} -> call failed: {e}", tool.name),
        }
    }
    conn.shutdown().await;
}
