//! PagerDuty webhooks v3 (`{"event": {...}}` about an incident), and their signatures:
//! `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`, several comma-separated
//! while a secret rotates, compared in constant time.

use hmac::{Hmac, Mac};

use super::json::{At, parse as parse_json};
use super::{Alert, AlertStatus, IntakeError, Priority, Source};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-PagerDuty-Signature";

/// Signatures read from one header at most.
pub const MAX_SIGNATURES: usize = 8;

/// The incident events that change an incident's state; other events (notes, status
/// updates, responders, workflows, escalations, reassignments) are taken and ignored.
pub const INCIDENT_EVENTS: &[&str] = &[
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
];

/// Check `header` (the signature header's value) against `body` with any of `secrets`
/// (several while the receiving side rotates too). Every `v1=` signature is tried against
/// every secret, each comparison in constant time.
pub fn verify(body: &[u8], header: Option<&str>, secrets: &[String]) -> Result<(), IntakeError> {
    let Some(header) = header else {
        return Err(IntakeError::Signature(format!(
            "the {SIGNATURE_HEADER} header is missing"
        )));
    };
    // A rotating sender sends two or three; more is not PagerDuty (and costs work).
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .take(MAX_SIGNATURES)
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|hex_sig| hex::decode(hex_sig).ok())
        .collect();
    if signatures.is_empty() {
        return Err(IntakeError::Signature(format!(
            "no v1= signature in the {SIGNATURE_HEADER} header"
        )));
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        // The body is hashed once per secret; each signature is checked against a copy of
        // that state, in constant time.
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
            continue;
        };
        mac.update(body);
        if signatures
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
        {
            return Ok(());
        }
    }
    Err(IntakeError::Signature(
        "no signature matches the body with the configured secret".into(),
    ))
}

/// The `v1=` signature of `body` with `secret` (what PagerDuty sends; for tests and tools).
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Parse a PagerDuty v3 webhook body: one [`Alert`] for an incident state event
/// ([`INCIDENT_EVENTS`]), none for anything else (a ping, a note, another resource).
pub fn parse(body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let doc = parse_json(body)?;
    let root = At::root(&doc);
    let event = root.obj("event")?;
    let event_type = event.str("event_type")?;
    let resource = event.opt_str("resource_type")?;
    if !INCIDENT_EVENTS.contains(&event_type.as_str())
        || resource.as_deref().is_some_and(|r| r != "incident")
    {
        return Ok(Vec::new());
    }
    let event_id = event.str("id")?;
    let occurred_at = event.opt_time("occurred_at")?;
    let data = event.obj("data")?;
    if data.opt_str("type")?.is_some_and(|t| t != "incident") {
        return Ok(Vec::new());
    }
    let incident_id = data.str("id")?;
    let data_status = data.opt_str("status")?;
    let status = match (event_type.as_str(), data_status.as_deref()) {
        ("incident.resolved", _) => AlertStatus::Resolved,
        ("incident.acknowledged", _) => AlertStatus::Acknowledged,
        ("incident.triggered" | "incident.reopened" | "incident.unacknowledged", _) => {
            AlertStatus::Firing
        }
        (_, Some("resolved")) => AlertStatus::Resolved,
        (_, Some("acknowledged")) => AlertStatus::Acknowledged,
        (_, Some("triggered")) | (_, None) => AlertStatus::Firing,
        (_, Some(other)) => {
            return Err(IntakeError::Field {
                path: format!("{}.status", data.path),
                message: format!(
                    "`{other}` is not an incident status (triggered, acknowledged, resolved)"
                ),
            });
        }
    };
    let title = data
        .opt_str("title")?
        .unwrap_or_else(|| format!("PagerDuty incident {incident_id}"));
    let priority_name = match data.opt_obj("priority")? {
        Some(p) => p.opt_str("summary")?,
        None => None,
    };
    let urgency = data.opt_str("urgency")?;
    let severity = priority_name.clone().or_else(|| urgency.clone());
    let priority =
        priority_name
            .as_deref()
            .and_then(Priority::parse)
            .or(match urgency.as_deref() {
                Some("high") => Some(Priority(2)),
                Some("low") => Some(Priority(4)),
                _ => None,
            });
    let service = match data.opt_obj("service")? {
        Some(s) => s.opt_str("summary")?,
        None => None,
    };
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("event_type".to_string(), event_type.clone());
    for key in ["urgency", "incident_key", "number"] {
        if let Some(v) = data.opt_text(key)? {
            labels.insert(key.to_string(), v);
        }
    }
    let started_at = data
        .opt_time("created_at")?
        .or(occurred_at)
        .ok_or_else(|| IntakeError::Field {
            path: format!("{}.created_at", data.path),
            message: "missing (and no event.occurred_at)".into(),
        })?;
    Ok(vec![Alert {
        source: Source::PagerDuty,
        event_id,
        external_id: incident_id.clone(),
        rule: incident_id,
        title,
        description: None,
        severity,
        priority,
        service,
        incident_type: Some("incident".into()),
        status,
        labels,
        links: data.opt_str("html_url")?.into_iter().collect(),
        started_at,
        ended_at: (status == AlertStatus::Resolved)
            .then_some(occurred_at)
            .flatten(),
        raw: doc.clone(),
    }])
}
