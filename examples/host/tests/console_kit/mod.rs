//! What the web console's browser tests share: a home with `fixer` taking checkout alerts,
//! an Alertmanager payload, signing in through the form, where screenshots go.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::server::TOKEN;
use crate::webdriver::Browser;

/// Where screenshots go (test artefacts, looked at by people).
pub fn shots() -> PathBuf {
    crate::common::repo().join("target/console-screenshots")
}

/// An Alertmanager delivery of one firing `alertname` alert on service checkout.
pub fn alert(fingerprint: &str, alertname: &str, summary: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4", "status": "firing", "receiver": "sre", "groupKey": fingerprint,
        "alerts": [{"status": "firing",
                    "labels": {"alertname": alertname, "severity": "critical", "service": "checkout"},
                    "annotations": {"summary": summary}, "startsAt": "2026-11-30T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}]
    }))
    .unwrap()
}

/// A home: `fixer` with `tools` (a YAML list), which the plan `checkout-plan` gives checkout
/// alerts in `mode`, answering from `script`.
pub fn fixer_home(tools: &str, mode: &str, script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let h: &Path = dir.path();
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/fixer.yaml"),
        format!("kind: ExtendedAgent\nspec:\n  name: fixer\n  system_prompt: You fix checkout.\n  tools: {tools}\n"),
    )
    .unwrap();
    std::fs::write(
        h.join("plans.yaml"),
        format!("kind: IncidentFilter\nmetadata: {{name: checkout-plan}}\nspec:\n  incidentPlatform: Prometheus\n  impactedService: checkout\n  handlingAgent: fixer\n  agentMode: {mode}\n"),
    )
    .unwrap();
    std::fs::write(h.join("script.yaml"), script).unwrap();
    dir
}

/// Sign in through the form, giving `name` unless it is empty.
pub fn sign_in(b: &Browser, addr: &str, name: &str) {
    b.goto(&format!("http://{addr}/"));
    b.type_text(&b.wait("#token", 30), TOKEN);
    if !name.is_empty() {
        b.type_text(&b.wait("#name", 5), name);
    }
    b.click_on("form.login button", 5);
    b.wait("table", 15);
}
