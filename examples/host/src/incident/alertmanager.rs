//! Prometheus Alertmanager webhooks (`version: "4"`): one [`Alert`] per alert of the group,
//! firing or resolved.

use sha2::Digest;

use super::json::{At, parse as parse_json, time};
use super::{Alert, AlertStatus, IntakeError, Priority, Source, one_line};

/// Parse an Alertmanager webhook body.
pub fn parse(body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let doc = parse_json(body)?;
    let root = At::root(&doc);
    match root.opt_text("version")?.as_deref() {
        Some("4") => {}
        Some(v) => {
            return Err(IntakeError::Unsupported(format!(
                "version: Alertmanager webhook version `{v}` is not supported (version 4 is)"
            )));
        }
        None => {
            return Err(IntakeError::Field {
                path: "version".into(),
                message: "missing (an Alertmanager webhook says `\"version\": \"4\"`)".into(),
            });
        }
    }
    let external_url = root.opt_str("externalURL")?;
    let receiver = root.opt_str("receiver")?;
    // Alerts Alertmanager left out of the group (its max_alerts): said on each alert.
    let truncated = root.opt_text("truncatedAlerts")?.filter(|n| n != "0");
    let alerts = root.array("alerts")?;
    if alerts.is_empty() {
        return Err(IntakeError::Field {
            path: "alerts".into(),
            message: "no alerts in the group".into(),
        });
    }
    alerts
        .iter()
        .map(|a| {
            let mut alert = alert(a, external_url.as_deref(), receiver.as_deref())?;
            if let Some(n) = &truncated {
                alert.labels.insert("truncated_alerts".into(), n.clone());
            }
            Ok(alert)
        })
        .collect()
}

fn alert(
    a: &At<'_>,
    external_url: Option<&str>,
    receiver: Option<&str>,
) -> Result<Alert, IntakeError> {
    let labels = a.string_map("labels")?;
    let annotations = a.string_map("annotations")?;
    let status = match a.str("status")?.as_str() {
        "firing" => AlertStatus::Firing,
        "resolved" => AlertStatus::Resolved,
        other => {
            return Err(IntakeError::Field {
                path: format!("{}.status", a.path),
                message: format!("`{other}` is neither `firing` nor `resolved`"),
            });
        }
    };
    let starts = a.str("startsAt")?;
    let started_at = time(&starts, format!("{}.startsAt", a.path))?;
    // Alertmanager sends the zero time (year 1) while an alert fires.
    let ended_at = a
        .opt_time("endsAt")?
        .filter(|t| status == AlertStatus::Resolved && chrono::Datelike::year(t) > 1);
    let fingerprint = match a.opt_str("fingerprint")? {
        Some(f) if !f.is_empty() => f,
        // Older senders omit it: the label set identifies the series.
        _ => {
            let mut h = sha2::Sha256::new();
            for (k, v) in &labels {
                h.update(k.as_bytes());
                h.update([0]);
                h.update(v.as_bytes());
                h.update([0]);
            }
            hex::encode(&h.finalize()[..8])
        }
    };
    let name = labels.get("alertname").cloned();
    let summary = annotations
        .get("summary")
        .or_else(|| annotations.get("description"))
        .or_else(|| annotations.get("message"))
        .map(|s| one_line(s));
    let title = match (&name, summary) {
        (Some(n), Some(s)) if !s.is_empty() => format!("{n}: {s}"),
        (Some(n), _) => n.clone(),
        (None, Some(s)) => s,
        (None, None) => format!("alert {fingerprint}"),
    };
    let severity = labels.get("severity").cloned();
    // Not `job`: that is the scrape job, not the service.
    let service = ["service", "app"]
        .iter()
        .find_map(|k| labels.get(*k).cloned());
    let mut links: Vec<String> = Vec::new();
    links.extend(a.opt_str("generatorURL")?.filter(|u| !u.is_empty()));
    for key in ["runbook_url", "runbook", "dashboard"] {
        links.extend(annotations.get(key).cloned());
    }
    links.extend(external_url.map(str::to_string).filter(|u| !u.is_empty()));
    let mut all = labels.clone();
    if let Some(r) = receiver {
        all.entry("receiver".into())
            .or_insert_with(|| r.to_string());
    }
    Ok(Alert {
        source: Source::Alertmanager,
        event_id: format!("{fingerprint}@{starts}:{}", status.as_str()),
        external_id: fingerprint.clone(),
        rule: name.unwrap_or(fingerprint),
        title,
        description: annotations.get("description").cloned(),
        priority: severity.as_deref().and_then(Priority::parse),
        severity,
        service,
        incident_type: Some("alert".into()),
        status,
        labels: all,
        links,
        started_at,
        ended_at,
        raw: a.value.clone(),
    })
}
