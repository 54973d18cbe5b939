//! The incident store and intake end to end: merge window, duplicates, resolution,
//! reopening, late and out-of-order deliveries, refusals kept for inspection, signatures,
//! and the `sre incident` / `sre plans` commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod payloads;

use std::time::Duration;

use payloads::*;
use sre_host::incident::intake::{self, Delivery, IntakeConfig, Refused};
use sre_host::incident::{AlertStatus, IntakeError, Priority, Source, pagerduty};
use sre_host::store::{IncidentStore, Intake, SqliteStore};

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
    // A mistyped home is an error, and nothing is created there.
    let missing = dir.path().join("no-such-home");
    let (code, _, err) = sre(&["incident", "list", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not an agent home"), "{err}");
    assert!(!missing.exists());
    let (code, _, err) = sre(&[
        "incident", "create", home, "--title", "x", "--label", "novalue",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--label `novalue`: expected KEY=VALUE"),
        "{err}"
    );
}
