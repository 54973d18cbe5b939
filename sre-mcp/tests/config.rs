//! Config parsing (YAML, JSON, code), errors naming file/field, manifest determinism.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use sre_mcp::{Auth, ConnectorConfig, McpConfig, McpConnectors, McpError, ProtocolMode, Transport};

const YAML: &str = r#"
connectors:
  - name: datadog
    transport: streamable_http
    url: https://mcp.datadoghq.eu/api/unstable/mcp-server/mcp?toolsets=core,apm&api_key=${DD_API_KEY}
    headers:
      DD_API_KEY: ${DD_API_KEY}
      DD_APPLICATION_KEY: ${DD_APPLICATION_KEY}
    region: eu1
    description: Datadog logs, metrics, APM
    call_timeout_secs: 45
    startup_timeout_secs: 10
    tools:
      allow: ["*"]
      deny: ["*delete*"]
  - name: grafana
    transport: streamable_http
    url: https://grafana.example.com/mcp
    auth:
      token: ${GRAFANA_TOKEN}
  - name: pagerduty
    transport: stdio
    command: /usr/local/bin/pagerduty-mcp
    args: ["--read-only"]
    env:
      PAGERDUTY_USER_API_KEY: ${PD_KEY}
    protocol: auto
"#;

#[test]
fn yaml_and_json_agree() {
    let y = McpConfig::from_yaml_str(YAML).unwrap();
    assert_eq!(y.connectors.len(), 3);
    let dd = &y.connectors[0];
    assert_eq!(dd.call_timeout, Duration::from_secs(45));
    assert_eq!(dd.startup_timeout, Duration::from_secs(10));
    match &dd.transport {
        Transport::StreamableHttp { url, headers, .. } => {
            assert!(
                url.ends_with("?toolsets=core,apm&api_key=${DD_API_KEY}"),
                "untouched"
            );
            assert_eq!(headers.0.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(y.connectors[2].protocol, ProtocolMode::Auto);
    let json = r#"{"connectors": [{"name": "grafana", "transport": "streamable_http",
        "url": "https://grafana.example.com/mcp", "auth": {"token": "${GRAFANA_TOKEN}"}}]}"#;
    let j = McpConfig::from_json_str(json).unwrap();
    assert_eq!(j.connectors[0], y.connectors[1]);
    let code = ConnectorConfig::streamable_http("grafana", "https://grafana.example.com/mcp")
        .auth(Auth::Token("${GRAFANA_TOKEN}".into()));
    assert_eq!(code, j.connectors[0]);
}

#[test]
fn debug_never_shows_secrets() {
    let cfg = ConnectorConfig::streamable_http("x", "https://h/mcp")
        .header("DD_API_KEY", "literal-secret-1")
        .auth(Auth::Basic {
            username: "u".into(),
            password: "literal-secret-2".into(),
        });
    let s = format!("{cfg:?}");
    assert!(!s.contains("literal-secret"), "{s}");
    let stdio = ConnectorConfig::stdio("y", "cmd", ["a"]).env("TOKEN", "literal-secret-3");
    assert!(!format!("{stdio:?}").contains("literal-secret"));
}

fn config_err(text: &str) -> String {
    match McpConfig::from_yaml_str(text) {
        Err(e @ McpError::Config { .. }) => e.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_config_names_the_field() {
    let e = config_err("connectors:\n  - name: a\n    transport: stdio\n");
    assert!(e.contains("connectors[0].command"), "{e}");
    let e = config_err("connectors:\n  - name: a\n    transport: ws\n    url: x\n");
    assert!(
        e.contains("connectors[0].transport") && e.contains("ws"),
        "{e}"
    );
    let e =
        config_err("connectors:\n  - name: a\n    transport: streamable_http\n    url: ftp://x\n");
    assert!(e.contains("connectors[0].url"), "{e}");
    let e = config_err(
        "connectors:\n  - name: a\n    transport: stdio\n    command: x\n    url: http://x\n",
    );
    assert!(
        e.contains("connectors[0].url") && e.contains("streamable_http"),
        "{e}"
    );
    let e = config_err("connectors:\n  - name: a b\n    transport: stdio\n    command: x\n");
    assert!(e.contains("connectors[0].name"), "{e}");
    let e = config_err(
        "connectors:\n  - name: a\n    transport: stdio\n    command: x\n  - name: a\n    transport: stdio\n    command: y\n",
    );
    assert!(
        e.contains("connectors[1].name") && e.contains("duplicate"),
        "{e}"
    );
    let e = config_err(
        "connectors:\n  - name: a\n    transport: stdio\n    command: x\n    call_timeout_secs: -1\n",
    );
    assert!(e.contains("call_timeout_secs"), "{e}");
    let e = config_err(
        "connectors:\n  - name: a\n    transport: stdio\n    command: x\n    colour: red\n",
    );
    assert!(e.contains("colour"), "{e}");
    let e = config_err(
        "connectors:\n  - name: a\n    transport: streamable_http\n    url: http://x\n    headers:\n      Accept: x\n",
    );
    assert!(e.contains("headers.Accept"), "{e}");
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.yaml");
    std::fs::write(&path, "connectors:\n  - name: a\n    transport: stdio\n").unwrap();
    let e = McpConfig::from_path(&path).unwrap_err().to_string();
    assert!(
        e.contains("mcp.yaml") && e.contains("connectors[0].command"),
        "{e}"
    );
    let json = dir.path().join("mcp.json");
    std::fs::write(&json, "{\"connectors\": [{\"name\": 1}]}").unwrap();
    let e = McpConfig::from_path(&json).unwrap_err().to_string();
    assert!(e.contains("mcp.json"), "{e}");
    let e = McpConfig::from_path(dir.path().join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.yaml"), "{e}");
}

#[test]
fn manifest_is_deterministic_and_secret_free() {
    let env: sre_mcp::EnvLookup = Arc::new(|n: &str| match n {
        "DD_API_KEY" => Some("dd-secret-value".into()),
        "DD_APPLICATION_KEY" => Some("app-secret-value".into()),
        _ => None,
    });
    let set = McpConnectors::with_env(McpConfig::from_yaml_str(YAML).unwrap(), env).unwrap();
    let a = set.manifest().to_json();
    let b = set.manifest().to_json();
    assert_eq!(a, b);
    assert!(!a.contains("secret-value"), "{a}");
    let m = set.manifest();
    let names: Vec<_> = m.connectors.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["datadog", "grafana", "pagerduty"]);
    let dd = &m.connectors[0];
    assert_eq!(dd.host.as_deref(), Some("mcp.datadoghq.eu"));
    assert_eq!(dd.path.as_deref(), Some("/api/unstable/mcp-server/mcp"));
    assert_eq!(
        dd.query.get("toolsets").map(String::as_str),
        Some("core,apm")
    );
    assert_eq!(
        dd.query.get("api_key").map(String::as_str),
        Some("[redacted]")
    );
    assert_eq!(dd.region.as_deref(), Some("eu1"));
    assert_eq!(dd.status, "idle");
    assert_eq!(m.connectors[1].auth_scheme.as_deref(), Some("token"));
    assert_eq!(m.connectors[2].command.as_deref(), Some("pagerduty-mcp"));
    let text = m.to_text();
    assert!(
        text.contains(
            "datadog (streamable_http, idle, host mcp.datadoghq.eu, region eu1, toolsets core,apm)"
        ),
        "{text}"
    );
}
