//! Platform payloads written from their documented fields, and a home with response
//! plans, shared by the incident tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use serde_json::json;
use sre_host::home::AgentHome;
use sre_host::incident::Source;
use sre_host::incident::intake::{self, Delivery, IntakeConfig};
use sre_host::store::{Intake, SqliteStore};

pub fn am_alert(
    status: &str,
    name: &str,
    severity: &str,
    fingerprint: &str,
    starts: &str,
) -> serde_json::Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "severity": severity, "service": "checkout", "instance": "10.0.0.7:9090"},
        "annotations": {"summary": "p99 latency over 2s for 10m", "runbook_url": "https://runbooks.example/latency"},
        "startsAt": starts,
        "endsAt": if status == "resolved" { "2026-11-30T09:00:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus.example/graph?g0.expr=latency",
        "fingerprint": fingerprint
    })
}

pub fn alertmanager_body(status: &str, alerts: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighLatency\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "sre-agent",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts
    }))
    .unwrap()
}

pub fn pagerduty_body(event_id: &str, event_type: &str, status: &str, priority: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-30T08:05:00.000Z",
            "agent": {"html_url": "https://acme.pagerduty.com/users/P1", "id": "PUSER1", "type": "user_reference"},
            "client": null,
            "data": {
                "id": "Q2ABC", "type": "incident", "number": 4711, "status": status,
                "title": "Checkout API 5xx above 5%", "urgency": "high",
                "created_at": "2026-11-30T08:00:00Z",
                "html_url": "https://acme.pagerduty.com/incidents/Q2ABC",
                "incident_key": "checkout-5xx",
                "service": {"id": "PSVC1", "summary": "checkout-api", "type": "service_reference"},
                "priority": {"id": "PPRI1", "summary": priority, "type": "priority_reference"},
                "assignees": [], "escalation_policy": {"id": "PEP1", "summary": "SRE"}, "teams": []
            }
        }
    }))
    .unwrap()
}

pub fn azure_body(condition: &str, severity: &str) -> Vec<u8> {
    azure_alert("a-1", condition, severity)
}

pub fn azure_alert(id: &str, condition: &str, severity: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": format!("/subscriptions/s1/providers/Microsoft.AlertsManagement/alerts/{id}"),
                "alertRule": "orders-db-cpu-high",
                "severity": severity,
                "signalType": "Metric",
                "monitorCondition": condition,
                "monitoringService": "Platform",
                "alertTargetIDs": ["/subscriptions/s1/resourcegroups/rg/providers/microsoft.dbforpostgresql/flexibleservers/orders-db"],
                "configurationItems": ["orders-db"],
                "originAlertId": "o-1",
                "firedDateTime": "2026-11-30T07:58:00.000Z",
                "resolvedDateTime": if condition == "Resolved" { json!("2026-11-30T08:30:00.000Z") } else { json!(null) },
                "description": "CPU over 90% for 15 minutes",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0"
            },
            "alertContext": {"conditionType": "SingleResourceMultipleMetricCriteria"},
            "customProperties": {"team": "data"}
        }
    }))
    .unwrap()
}

pub fn plans_home() -> (tempfile::TempDir, AgentHome) {
    let dir = tempfile::tempdir().unwrap();
    let agent = |name: &str| {
        format!(
            "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: {name}\n  system_prompt: You are {name}.\n"
        )
    };
    std::fs::create_dir_all(dir.path().join("agents")).unwrap();
    for name in ["pager", "checkout", "db"] {
        std::fs::write(dir.path().join(format!("agents/{name}.yaml")), agent(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("plans.yaml"),
        "kind: IncidentFilter\nmetadata: {name: pd-urgent}\nspec:\n  incidentPlatform: PagerDuty\n  priorities: [P1, P2]\n  handlingAgent: pager\n  agentMode: Autonomous\n\
         ---\nkind: IncidentFilter\nmetadata: {name: retired}\nspec:\n  isEnabled: false\n  handlingAgent: db\n\
         ---\nkind: IncidentFilter\nmetadata: {name: checkout-latency}\nspec:\n  impactedService: Checkout\n  titleContains: [latency, 5xx]\n  titleNotContains: [test]\n  handlingAgent: checkout\n\
         ---\nkind: IncidentFilter\nmetadata: {name: data-team}\nspec:\n  incidentPlatform: AzMonitor\n  labels: {team: data}\n  priorities: Sev0 Sev1\n  handlingAgent: db\n  agentMode: ReadOnly\n",
    )
    .unwrap();
    let home = AgentHome::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, home)
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn deliver(
    store: &SqliteStore,
    home: &AgentHome,
    source: Source,
    body: &[u8],
    when: &str,
) -> Vec<Intake> {
    intake::receive(
        store,
        &home.plans,
        &IntakeConfig::default(),
        Delivery {
            source,
            trigger: "t",
            body,
            signature: None,
            at: at(when),
        },
    )
    .unwrap()
    .outcomes
}
