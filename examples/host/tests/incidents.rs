//! Incidents from the platforms' payloads (written from their documented fields), the
//! response plans that route them, and the store that keeps them: merge window,
//! duplicates, resolution, reopening, refusals kept for inspection, signatures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sre_host::home::AgentHome;
use sre_host::incident::intake::{self, Delivery, IntakeConfig, Refused};
use sre_host::incident::{
    AlertStatus, IntakeError, Priority, Source, alertmanager, azure_monitor, pagerduty,
};
use sre_host::store::{IncidentStore, Intake, SqliteStore};

fn am_alert(
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

fn alertmanager_body(status: &str, alerts: Vec<serde_json::Value>) -> Vec<u8> {
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

fn pagerduty_body(event_id: &str, event_type: &str, status: &str, priority: &str) -> Vec<u8> {
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

fn azure_body(condition: &str, severity: &str) -> Vec<u8> {
    azure_alert("a-1", condition, severity)
}

fn azure_alert(id: &str, condition: &str, severity: &str) -> Vec<u8> {
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

#[test]
fn alertmanager_groups_become_one_alert_each_firing_or_resolved() {
    let body = alertmanager_body(
        "firing",
        vec![
            am_alert(
                "firing",
                "HighLatency",
                "critical",
                "fp1",
                "2026-11-30T08:00:00Z",
            ),
            am_alert(
                "resolved",
                "HighLatency",
                "warning",
                "fp2",
                "2026-11-30T07:00:00Z",
            ),
        ],
    );
    let alerts = alertmanager::parse(&body).unwrap();
    assert_eq!(alerts.len(), 2);
    let a = &alerts[0];
    assert_eq!(a.title, "HighLatency: p99 latency over 2s for 10m");
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.priority, Some(Priority(1)));
    assert_eq!(a.service.as_deref(), Some("checkout"));
    assert_eq!(a.rule, "HighLatency");
    assert_eq!(a.external_id, "fp1");
    assert_eq!(
        a.ended_at, None,
        "the zero endsAt of a firing alert is no end"
    );
    assert!(
        a.links
            .contains(&"https://runbooks.example/latency".to_string())
    );
    assert_eq!(a.labels["receiver"], "sre-agent");
    let r = &alerts[1];
    assert_eq!(r.status, AlertStatus::Resolved);
    assert_eq!(r.priority, Some(Priority(3)));
    assert_eq!(
        r.ended_at.unwrap().to_rfc3339(),
        "2026-11-30T09:00:00+00:00"
    );
    assert_ne!(a.event_id, r.event_id);
}

#[test]
fn pagerduty_events_map_to_statuses_and_pings_to_nothing() {
    for (ty, status, want) in [
        ("incident.triggered", "triggered", AlertStatus::Firing),
        (
            "incident.acknowledged",
            "acknowledged",
            AlertStatus::Acknowledged,
        ),
        ("incident.resolved", "resolved", AlertStatus::Resolved),
        ("incident.reopened", "triggered", AlertStatus::Firing),
        ("incident.unacknowledged", "triggered", AlertStatus::Firing),
    ] {
        let alerts = pagerduty::parse(&pagerduty_body("E1", ty, status, "P1")).unwrap();
        assert_eq!(alerts[0].status, want, "{ty}");
        assert_eq!(alerts[0].priority, Some(Priority(1)));
        assert_eq!(alerts[0].service.as_deref(), Some("checkout-api"));
        assert_eq!(alerts[0].external_id, "Q2ABC");
        assert_eq!(
            alerts[0].links,
            ["https://acme.pagerduty.com/incidents/Q2ABC"]
        );
    }
    let ping = br#"{"event":{"id":"E0","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-11-30T08:00:00Z","data":{"message":"Hello from your friend Pagey!","type":"ping"}}}"#;
    assert!(pagerduty::parse(ping).unwrap().is_empty());
    let service = br#"{"event":{"id":"E9","event_type":"service.updated","resource_type":"service","data":{"id":"S1"}}}"#;
    // Events about other resources, or that change nothing we track, are taken and ignored.
    assert!(pagerduty::parse(service).unwrap().is_empty());
    let escalated = pagerduty_body("E8", "incident.escalated", "triggered", "P1");
    assert!(pagerduty::parse(&escalated).unwrap().is_empty());
}

#[test]
fn pagerduty_signatures_are_checked_with_rotation_on_both_sides() {
    let body = pagerduty_body("E1", "incident.triggered", "triggered", "P2");
    let secrets = vec!["old-secret".to_string(), "new-secret".to_string()];
    let good = pagerduty::sign(&body, "new-secret");
    assert!(pagerduty::verify(&body, Some(&good), &secrets).is_ok());
    // During PagerDuty's rotation the header carries several signatures: one matching is enough.
    let rotating = format!("{}, {good}", pagerduty::sign(&body, "retired"));
    assert!(pagerduty::verify(&body, Some(&rotating), &secrets).is_ok());
    let forged = pagerduty::sign(&body, "guess");
    assert!(
        pagerduty::verify(&body, Some(&forged), &secrets)
            .unwrap_err()
            .is_unauthorised()
    );
    // The body changed after signing.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert!(pagerduty::verify(&tampered, Some(&good), &secrets).is_err());
    for header in [None, Some("v0=abc"), Some("v1=zz-not-hex"), Some("")] {
        assert!(
            pagerduty::verify(&body, header, &secrets)
                .unwrap_err()
                .is_unauthorised(),
            "{header:?}"
        );
    }
}

#[test]
fn azure_monitor_common_schema_fired_and_resolved() {
    let fired = azure_monitor::parse(&azure_body("Fired", "Sev1")).unwrap();
    let a = &fired[0];
    assert_eq!(a.status, AlertStatus::Firing);
    assert_eq!(a.priority, Some(Priority(2)));
    assert_eq!(a.rule, "orders-db-cpu-high");
    assert_eq!(a.title, "orders-db-cpu-high: CPU over 90% for 15 minutes");
    assert_eq!(a.service.as_deref(), Some("orders-db"));
    assert_eq!(a.incident_type.as_deref(), Some("Metric"));
    assert_eq!(a.labels["team"], "data");
    let resolved = azure_monitor::parse(&azure_body("Resolved", "Sev1")).unwrap();
    assert_eq!(resolved[0].status, AlertStatus::Resolved);
    assert!(resolved[0].ended_at.is_some());
    assert_ne!(a.event_id, resolved[0].event_id);
}

#[test]
fn bad_payloads_say_what_is_wrong_and_where() {
    let cases: Vec<(Source, Vec<u8>, &str)> = vec![
        (Source::Alertmanager, b"{\"version\": \"4\", \"alerts\": [".to_vec(), "not valid JSON at line 1, column 28: EOF while parsing a list"),
        (Source::Alertmanager, br#"{"version":"3","alerts":[]}"#.to_vec(), "version `3` is not supported"),
        (Source::Alertmanager, br#"{"alerts":[]}"#.to_vec(), "version: missing"),
        (
            Source::Alertmanager,
            br#"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X","severity":1},"startsAt":"2026-11-30T08:00:00Z"}]}"#.to_vec(),
            "alerts[0].labels.severity: expected a string, found a number",
        ),
        (
            Source::Alertmanager,
            br#"{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]}"#.to_vec(),
            "alerts[0].startsAt: `yesterday` is not an RFC 3339 time",
        ),
        (
            Source::Alertmanager,
            br#"{"version":"4","alerts":[{"status":"pending","startsAt":"2026-11-30T08:00:00Z"}]}"#.to_vec(),
            "alerts[0].status: `pending` is neither",
        ),
        (Source::PagerDuty, br#"{"event":{"event_type":"incident.triggered","data":{}}}"#.to_vec(), "event.id: missing"),
        (Source::PagerDuty, br#"{"event":[]}"#.to_vec(), "event: expected an object, found an array"),
        (Source::AzureMonitor, br#"{"schemaId":"Microsoft.Insights/activityLogs","data":{}}"#.to_vec(), "not the common alert schema"),
        (
            Source::AzureMonitor,
            br#"{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"a","alertRule":"r","monitorCondition":"Fired"}}}"#.to_vec(),
            "data.essentials.firedDateTime: missing",
        ),
        (Source::Trigger, b"[1,2]".to_vec(), "expected a JSON object, found an array"),
        (Source::Alertmanager, vec![b' '; 10 << 20], "over the limit of 1048576 bytes"),
    ];
    for (source, body, want) in cases {
        let err = sre_host::incident::parse(source, &body)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(want),
            "{source}: `{err}` should contain `{want}`"
        );
    }
}

fn plans_home() -> (tempfile::TempDir, AgentHome) {
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

#[test]
fn response_plans_route_each_incident_to_the_first_plan_it_fits() {
    let (_dir, home) = plans_home();
    assert_eq!(home.plans.len(), 4);
    let route = |source: Source, body: &[u8]| -> Option<String> {
        let alert = sre_host::incident::parse(source, body).unwrap().remove(0);
        sre_host::home::choose(&home.plans, &alert).map(|p| p.name.clone())
    };
    let am = |name: &str, severity: &str| {
        alertmanager_body(
            "firing",
            vec![am_alert(
                "firing",
                name,
                severity,
                "fp",
                "2026-11-30T08:00:00Z",
            )],
        )
    };
    let matrix: Vec<(&str, Source, Vec<u8>, Option<&str>)> = vec![
        (
            "PagerDuty P1",
            Source::PagerDuty,
            pagerduty_body("E1", "incident.triggered", "triggered", "P1"),
            Some("pd-urgent"),
        ),
        // P3 fails pd-urgent; its title has 5xx but its service is checkout-api, not Checkout.
        (
            "PagerDuty P3",
            Source::PagerDuty,
            pagerduty_body("E2", "incident.triggered", "triggered", "P3"),
            None,
        ),
        (
            "latency on checkout",
            Source::Alertmanager,
            am("HighLatency", "critical"),
            Some("checkout-latency"),
        ),
        (
            "a test alert",
            Source::Alertmanager,
            am("LatencyTest", "critical"),
            None,
        ),
        (
            "Azure Sev1, team data",
            Source::AzureMonitor,
            azure_body("Fired", "Sev1"),
            Some("data-team"),
        ),
        (
            "Azure Sev3",
            Source::AzureMonitor,
            azure_body("Fired", "Sev3"),
            None,
        ),
    ];
    for (what, source, body, want) in matrix {
        assert_eq!(route(source, &body).as_deref(), want, "{what}");
    }
    // Why a plan does not take one, in words.
    let alert = alertmanager::parse(&am("LatencyTest", "critical"))
        .unwrap()
        .remove(0);
    let why = home.plans[2].fits(&alert).unwrap_err();
    assert_eq!(why, "the title contains `test`");
    assert_eq!(
        home.plans[1].fits(&alert).unwrap_err(),
        "the plan is disabled"
    );
}

#[test]
fn a_plan_naming_an_unknown_agent_is_an_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: checkout\n  system_prompt: p\n---\nkind: IncidentFilter\nmetadata: {name: p}\nspec:\n  handlingAgent: chekout\n  priorities: [P9]\n  agentMode: Sometimes\n",
    )
    .unwrap();
    let err = AgentHome::load(dir.path()).unwrap_err().to_string();
    for want in [
        "no agent `chekout` in this home",
        "did you mean `checkout`",
        "`P9` is not a priority",
        "unknown agent mode `Sometimes`",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn deliver(
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

#[test]
fn repeat_firings_merge_within_the_window_and_resolutions_close_and_reopen() {
    let (dir, home) = plans_home();
    let db = dir.path().join("data/incidents.db");
    let store = SqliteStore::open(&db).unwrap();
    let firing = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "HighLatency",
            "critical",
            "fp1",
            "2026-11-30T08:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &firing,
        "2026-11-30T08:00:05Z",
    );
    let Intake::New { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(incident.id, "inc-1");
    let plan = incident.plan.as_ref().unwrap();
    assert_eq!(
        (plan.name.as_str(), plan.mode.as_str()),
        ("checkout-latency", "Review")
    );
    assert_eq!(incident.agent.as_deref(), Some("checkout"));
    assert_eq!(incident.thread.as_deref(), Some("thread-1"));
    // The very same delivery again (a retry): recognised, nothing changes.
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &firing,
        "2026-11-30T08:00:09Z",
    );
    assert!(
        matches!(&out[0], Intake::Duplicate { incident } if incident.id == "inc-1" && incident.count == 1),
        "{out:?}"
    );
    // The rule fires again (another instance, another fingerprint) an hour later: joins.
    let again = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "HighLatency",
            "critical",
            "fp9",
            "2026-11-30T09:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &again,
        "2026-11-30T09:00:05Z",
    );
    let Intake::Joined { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!((incident.id.as_str(), incident.count), ("inc-1", 2));
    // One series resolves while the other still fires: the incident stays open.
    let one = alertmanager_body(
        "resolved",
        vec![am_alert(
            "resolved",
            "HighLatency",
            "critical",
            "fp1",
            "2026-11-30T08:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &one,
        "2026-11-30T09:30:00Z",
    );
    assert!(
        matches!(&out[0], Intake::Joined { incident } if incident.status == AlertStatus::Firing),
        "{out:?}"
    );
    // The last one resolves: the incident is resolved, at the platform's end time.
    let last = alertmanager_body(
        "resolved",
        vec![am_alert(
            "resolved",
            "HighLatency",
            "critical",
            "fp9",
            "2026-11-30T09:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &last,
        "2026-11-30T09:31:00Z",
    );
    let Intake::Resolved { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (incident.id.as_str(), incident.status),
        ("inc-1", AlertStatus::Resolved)
    );
    assert_eq!(
        incident.resolved_at.unwrap().to_rfc3339(),
        "2026-11-30T09:00:00+00:00"
    );
    // It fires again inside the window: reopened, same incident and thread.
    let third = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "HighLatency",
            "critical",
            "fp1",
            "2026-11-30T10:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &third,
        "2026-11-30T10:00:05Z",
    );
    let Intake::Reopened { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (
            incident.id.as_str(),
            incident.count,
            incident.thread.as_deref()
        ),
        ("inc-1", 3, Some("thread-1"))
    );
    // Resolved again; firing past the window (3 h after the last event): a new incident.
    let end = alertmanager_body(
        "resolved",
        vec![am_alert(
            "resolved",
            "HighLatency",
            "critical",
            "fp1",
            "2026-11-30T10:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &end,
        "2026-11-30T10:30:00Z",
    );
    assert!(matches!(&out[0], Intake::Resolved { .. }), "{out:?}");
    let later = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "HighLatency",
            "critical",
            "fp1",
            "2026-11-30T14:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &later,
        "2026-11-30T14:00:05Z",
    );
    assert!(
        matches!(&out[0], Intake::New { incident } if incident.id == "inc-2"),
        "{out:?}"
    );
    // No plan takes it: stored, not investigated, and says why.
    let azure = azure_body("Fired", "Sev3");
    let out = deliver(
        &store,
        &home,
        Source::AzureMonitor,
        &azure,
        "2026-11-30T14:01:00Z",
    );
    let Intake::New { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (incident.agent.as_deref(), incident.thread.as_deref()),
        (None, None)
    );
    assert_eq!(
        incident.not_investigated.as_deref(),
        Some("no response plan matches")
    );
    // Everything survives a restart of the store.
    drop(store);
    let store = SqliteStore::open(&db).unwrap();
    let all = store.incidents(10).unwrap();
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["inc-3", "inc-2", "inc-1"]
    );
    assert_eq!(store.incident("inc-1").unwrap().unwrap().count, 3);
    assert_eq!(store.deliveries(100).unwrap().len(), 9);
}

#[test]
fn groups_acknowledgements_late_and_out_of_order_deliveries() {
    let (dir, home) = plans_home();
    let store = SqliteStore::open(dir.path().join("incidents.db")).unwrap();
    // One group with a resolved and a firing alert of one rule, in either order: open.
    for (i, order) in [["resolved", "firing"], ["firing", "resolved"]]
        .iter()
        .enumerate()
    {
        let rule = format!("DiskFull{i}");
        let alerts = order
            .iter()
            .map(|st| {
                am_alert(
                    st,
                    &rule,
                    "warning",
                    &format!("{rule}-{st}"),
                    "2026-11-30T08:00:00Z",
                )
            })
            .collect();
        let out = deliver(
            &store,
            &home,
            Source::Alertmanager,
            &alertmanager_body("firing", alerts),
            "2026-11-30T08:01:00Z",
        );
        let last = out.last().unwrap().incident();
        assert_eq!(last.status, AlertStatus::Firing, "{order:?}: {out:?}");
        assert_eq!(out[0].incident().id, last.id, "{order:?}: one incident");
    }
    // A repeat notification (the same event) hours later keeps the incident current: the
    // rule firing again past the window still joins it rather than open a second one.
    let disk = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "DiskFull0",
            "warning",
            "DiskFull0-firing",
            "2026-11-30T08:00:00Z",
        )],
    );
    let dup = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &disk,
        "2026-11-30T12:00:00Z",
    );
    assert!(matches!(&dup[0], Intake::Duplicate { .. }));
    let other = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "DiskFull0",
            "warning",
            "fp-new",
            "2026-11-30T16:30:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &other,
        "2026-11-30T16:30:05Z",
    );
    assert!(
        matches!(&out[0], Intake::Joined { incident } if incident.id == dup[0].incident().id),
        "{out:?}"
    );

    // PagerDuty: acknowledged, then resolved 5 hours later (past the window): the same
    // incident, by its PagerDuty id.
    let pd = |id: &str, ty: &str, status: &str| pagerduty_body(id, ty, status, "P1");
    let new = deliver(
        &store,
        &home,
        Source::PagerDuty,
        &pd("E1", "incident.triggered", "triggered"),
        "2026-11-30T08:00:00Z",
    );
    let id = new[0].incident().id.clone();
    let ack = deliver(
        &store,
        &home,
        Source::PagerDuty,
        &pd("E2", "incident.acknowledged", "acknowledged"),
        "2026-11-30T08:05:00Z",
    );
    assert!(
        matches!(&ack[0], Intake::Joined { incident } if incident.id == id && incident.status == AlertStatus::Acknowledged)
    );
    let done = deliver(
        &store,
        &home,
        Source::PagerDuty,
        &pd("E3", "incident.resolved", "resolved"),
        "2026-11-30T13:05:00Z",
    );
    assert!(
        matches!(&done[0], Intake::Resolved { incident } if incident.id == id),
        "{done:?}"
    );
    // A note on it is taken and ignored.
    let note = br#"{"event":{"id":"E4","event_type":"incident.annotated","resource_type":"incident","occurred_at":"2026-11-30T13:06:00Z","data":{"incident":{"id":"Q2ABC","type":"incident_reference"},"id":"N1","content":"looking","type":"incident_note"}}}"#;
    assert!(
        deliver(
            &store,
            &home,
            Source::PagerDuty,
            note,
            "2026-11-30T13:06:00Z"
        )
        .is_empty()
    );

    // Out of order: the resolution arrives first, then the firing it ends.
    let resolved = alertmanager_body(
        "resolved",
        vec![am_alert(
            "resolved",
            "CertExpiry",
            "critical",
            "c1",
            "2026-11-30T08:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &resolved,
        "2026-11-30T09:05:00Z",
    );
    let Intake::New { incident } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        incident.not_investigated.as_deref(),
        Some("resolved before it was seen firing")
    );
    let late = alertmanager_body(
        "firing",
        vec![am_alert(
            "firing",
            "CertExpiry",
            "critical",
            "c1",
            "2026-11-30T08:00:00Z",
        )],
    );
    let out = deliver(
        &store,
        &home,
        Source::Alertmanager,
        &late,
        "2026-11-30T09:06:00Z",
    );
    assert!(
        matches!(&out[0], Intake::Joined { incident } if incident.status == AlertStatus::Resolved),
        "late, not reopened: {out:?}"
    );

    // An incident no plan took is routed when a later alert of it fits one.
    let low = deliver(
        &store,
        &home,
        Source::AzureMonitor,
        &azure_alert("z-1", "Fired", "Sev3"),
        "2026-11-30T10:00:00Z",
    );
    assert_eq!(low[0].incident().thread, None);
    let high = deliver(
        &store,
        &home,
        Source::AzureMonitor,
        &azure_alert("z-2", "Fired", "Sev1"),
        "2026-11-30T10:10:00Z",
    );
    let Intake::Joined { incident } = &high[0] else {
        panic!("{high:?}")
    };
    assert_eq!(incident.id, low[0].incident().id);
    assert_eq!(
        incident.plan.as_ref().map(|p| p.name.as_str()),
        Some("data-team")
    );
    assert_eq!(
        incident.priority,
        Some(Priority(2)),
        "the most urgent priority seen"
    );

    // Two triggers may use the same id: two incidents.
    let body = br#"{"id": "42", "title": "nightly job failed"}"#;
    let a = intake::receive(
        &store,
        &home.plans,
        &IntakeConfig::default(),
        Delivery {
            source: Source::Trigger,
            trigger: "a",
            body,
            signature: None,
            at: at("2026-11-30T10:00:00Z"),
        },
    )
    .unwrap();
    let b = intake::receive(
        &store,
        &home.plans,
        &IntakeConfig::default(),
        Delivery {
            source: Source::Trigger,
            trigger: "b",
            body,
            signature: None,
            at: at("2026-11-30T10:00:00Z"),
        },
    )
    .unwrap();
    assert_ne!(a.outcomes[0].incident().id, b.outcomes[0].incident().id);
    // The merge window is bounded as the platforms bound it.
    let config = IntakeConfig {
        merge_window: Duration::from_secs(30 * 24 * 3600),
        ..IntakeConfig::default()
    };
    let err = intake::receive(
        &store,
        &home.plans,
        &config,
        Delivery {
            source: Source::Trigger,
            trigger: "a",
            body,
            signature: None,
            at: at("2026-11-30T10:00:00Z"),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("between 1 and 24 hours"), "{err}");
}

#[test]
fn refused_deliveries_are_kept_for_inspection_and_bad_signatures_change_nothing() {
    let (dir, home) = plans_home();
    let store = SqliteStore::open(dir.path().join("incidents.db")).unwrap();
    let config = IntakeConfig {
        pagerduty_secrets: vec!["s3cret".into()],
        ..IntakeConfig::default()
    };
    let body = pagerduty_body("E1", "incident.triggered", "triggered", "P1");
    let now = at("2026-11-30T08:00:00Z");
    let try_it = |body: &[u8], signature: Option<&str>, source: Source| {
        intake::receive(
            &store,
            &home.plans,
            &config,
            Delivery {
                source,
                trigger: "t",
                body,
                signature,
                at: now,
            },
        )
    };
    // A bad signature: refused as unauthorised, nothing stored.
    let bad = pagerduty::sign(&body, "guess");
    match try_it(&body, Some(&bad), Source::PagerDuty) {
        Err(Refused::Bad {
            delivery: None,
            error,
        }) => assert!(error.is_unauthorised()),
        other => panic!("{other:?}"),
    }
    assert!(store.deliveries(10).unwrap().is_empty());
    assert!(store.incidents(10).unwrap().is_empty());
    // Malformed: refused, and kept with the reason.
    match try_it(b"{\"version\": \"4\"", None, Source::Alertmanager) {
        Err(Refused::Bad {
            delivery: Some(d),
            error,
        }) => {
            let kept = &store.deliveries(10).unwrap()[0];
            assert_eq!((kept.id, kept.state.as_str()), (d, "rejected"));
            assert_eq!(kept.error.as_deref(), Some(error.to_string().as_str()));
        }
        other => panic!("{other:?}"),
    }
    // 10 MB: refused, the first megabyte kept.
    let huge = vec![b'x'; 10 << 20];
    assert!(matches!(
        try_it(&huge, None, Source::Alertmanager),
        Err(Refused::Bad {
            error: IntakeError::TooLarge { .. },
            ..
        })
    ));
    assert_eq!(store.deliveries(1).unwrap()[0].size, 1 << 20);
    // Signed right: taken.
    let good = pagerduty::sign(&body, "s3cret");
    let received = try_it(&body, Some(&good), Source::PagerDuty).unwrap();
    assert!(
        matches!(&received.outcomes[0], Intake::New { incident } if incident.agent.as_deref() == Some("pager"))
    );
}

#[test]
fn priorities_of_every_scale() {
    for (text, p) in [
        ("P1", 1),
        ("p5", 5),
        ("Sev0", 1),
        ("sev4", 5),
        ("critical", 1),
        ("page", 1),
        ("warning", 3),
        ("info", 5),
    ] {
        assert_eq!(Priority::parse(text), Some(Priority(p)), "{text}");
    }
    for text in ["P0", "P6", "Sev5", "urgent", ""] {
        assert_eq!(Priority::parse(text), None, "{text}");
    }
}

#[test]
fn the_shape_of_a_body_says_its_platform() {
    assert_eq!(
        intake::detect(&alertmanager_body("firing", vec![])),
        Source::Alertmanager
    );
    assert_eq!(
        intake::detect(&pagerduty_body(
            "E",
            "incident.triggered",
            "triggered",
            "P1"
        )),
        Source::PagerDuty
    );
    assert_eq!(
        intake::detect(&azure_body("Fired", "Sev1")),
        Source::AzureMonitor
    );
    assert_eq!(
        intake::detect(br#"{"title": "disk full"}"#),
        Source::Trigger
    );
    assert_eq!(intake::detect(b"not json"), Source::Trigger);
}

#[test]
fn mutated_payloads_never_panic() {
    // A seeded mutation fuzz over every parser: flips, truncations, insertions.
    let seeds: Vec<(Source, Vec<u8>)> = vec![
        (
            Source::Alertmanager,
            alertmanager_body(
                "firing",
                vec![am_alert(
                    "firing",
                    "A",
                    "critical",
                    "f",
                    "2026-11-30T08:00:00Z",
                )],
            ),
        ),
        (
            Source::PagerDuty,
            pagerduty_body("E1", "incident.triggered", "triggered", "P1"),
        ),
        (Source::AzureMonitor, azure_body("Fired", "Sev1")),
        (
            Source::Trigger,
            br#"{"title":"t","severity":"P2","labels":{"a":"b"},"id":7}"#.to_vec(),
        ),
    ];
    let mut state: u64 = std::env::var("INCIDENT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (dir, home) = plans_home();
    let store = SqliteStore::open(dir.path().join("fuzz.db")).unwrap();
    let tokens: [&[u8]; 10] = [
        b"null",
        b"1e999",
        b"\"",
        b"{",
        b"]",
        b"-1",
        b"\"\\u0000\"",
        b"[]",
        b"{}",
        b"true",
    ];
    let start = std::time::Instant::now();
    for case in 0..1500 {
        let (source, seed) = &seeds[case % seeds.len()];
        let mut body = seed.clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % body.len().max(1);
            match next() % 4 {
                0 => {
                    let i = at.min(body.len() - 1);
                    body[i] = (next() % 256) as u8;
                }
                1 => body.truncate(at),
                2 => {
                    let t = tokens[(next() as usize) % tokens.len()];
                    body.splice(at..at, t.iter().copied());
                }
                _ => {
                    let end = (at + 1 + (next() as usize) % 16).min(body.len());
                    body.drain(at..end);
                }
            }
            if body.is_empty() {
                body.push(b'{');
            }
        }
        let _ = sre_host::incident::parse(*source, &body);
        let _ = intake::detect(&body);
        // And through the whole intake, store included.
        let _ = intake::receive(
            &store,
            &home.plans,
            &IntakeConfig::default(),
            Delivery {
                source: *source,
                trigger: "fuzz",
                body: &body,
                signature: None,
                at: at("2026-11-30T08:00:00Z"),
            },
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

fn sre(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_sre_command_tests_plans_and_takes_incidents() {
    let (dir, _home) = plans_home();
    let home = dir.path().to_str().unwrap();
    let payload = dir.path().join("pd.json");
    std::fs::write(
        &payload,
        pagerduty_body("E1", "incident.triggered", "triggered", "P1"),
    )
    .unwrap();
    let p = payload.to_str().unwrap();
    // Which plan, and why not the others; nothing stored.
    let (code, out, err) = sre(&["plans", "test", home, "--incident", p]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("-> pd-urgent: takes it: agent `pager` in Autonomous mode"),
        "{out}"
    );
    assert!(out.contains("retired: no: the plan is disabled"), "{out}");
    assert!(
        out.contains("data-team: no: platform is pagerduty, not azure-monitor"),
        "{out}"
    );
    assert!(!dir.path().join(".sre/data/incidents.db").exists());
    // Taken from the file, then again (a duplicate), then by hand.
    let (code, out, err) = sre(&["incident", "ingest", home, p]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "inc-1: new incident \"Checkout API 5xx above 5%\"; plan `pd-urgent` -> agent `pager` (Autonomous), thread-1"
    );
    let (_, out, _) = sre(&["incident", "ingest", home, p]);
    assert_eq!(out.trim(), "inc-1: duplicate delivery, nothing changed");
    let (code, out, err) = sre(&[
        "incident",
        "create",
        home,
        "--title",
        "Disk full on db-3",
        "--severity",
        "P4",
        "--service",
        "orders-db",
        "--label",
        "team=data",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "inc-2: new incident \"Disk full on db-3\"; not investigated: no response plan matches"
        ),
        "{out}"
    );
    let (_, out, _) = sre(&["incident", "list", home]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("inc-2\tmanual\tfiring\tP4\t1x\t(not investigated)"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("inc-1\tpagerduty\tfiring\tP1\t1x\tpager"),
        "{out}"
    );
    // A malformed payload: refused with the reason, exit 1, kept.
    std::fs::write(&payload, "{\"event\": 3}").unwrap();
    let (code, _, err) = sre(&["incident", "ingest", home, p, "--source", "pagerduty"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("refused (kept as delivery 4): event: expected an object, found a number"),
        "{err}"
    );
    let (code, _, err) = sre(&[
        "incident", "create", home, "--title", "x", "--label", "novalue",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--label `novalue`: expected KEY=VALUE"),
        "{err}"
    );
}
