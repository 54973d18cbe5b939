//! Incidents from the platforms' payloads (written from their documented fields) and the
//! response plans that route them: parsers, typed errors, signatures, a plan matrix, fuzz.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod payloads;

use std::time::Duration;

use payloads::*;
use sre_host::home::AgentHome;
use sre_host::incident::intake::{self, Delivery, IntakeConfig};
use sre_host::incident::{AlertStatus, Priority, Source, alertmanager, azure_monitor, pagerduty};
use sre_host::store::SqliteStore;

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
        "unknown agent `chekout`",
        "did you mean `checkout`",
        "`P9` is not a priority",
        "unknown agent mode `Sometimes`",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
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
