//! A generic HTTP trigger: any JSON object (or nothing) becomes one firing [`Alert`] whose
//! payload is appended to the trigger's prompt. Optional fields are read when present:
//! `title`, `severity` (or `priority`), `service`, `labels` (strings), `id` (for duplicate
//! deliveries).

use super::json::{At, parse as parse_json};
use super::{Alert, AlertStatus, IntakeError, Priority, Source, one_line};

/// Parse a trigger body for trigger `name` (`source` is [`Source::Trigger`] or
/// [`Source::Manual`]). An empty body is an empty object.
pub fn parse(source: Source, name: &str, body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let doc = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        parse_json(body)?
    };
    let root = At::root(&doc);
    if !doc.is_object() {
        return Err(IntakeError::Field {
            path: "(the body)".into(),
            message: format!("expected a JSON object, found {}", super::json::kind(&doc)),
        });
    }
    let now = chrono::Utc::now();
    let id = root.opt_text("id")?;
    let severity = match root.opt_text("severity")? {
        Some(s) => Some(s),
        None => root.opt_text("priority")?,
    };
    let title = root
        .opt_str("title")?
        .map(|t| one_line(&t))
        .unwrap_or_else(|| format!("trigger {name}"));
    // Without an id, each delivery is its own event (no duplicate can be recognised). Ids
    // are the trigger's own: two triggers may use the same.
    let event_id = match &id {
        Some(id) => format!("{name}:{id}"),
        None => format!("{name}:@{}", now.timestamp_nanos_opt().unwrap_or_default()),
    };
    // A delivery with an id seen before is a duplicate of it; each other one is an incident
    // of its own (a trigger has no rule to merge by).
    let external_id = event_id.clone();
    Ok(vec![Alert {
        source,
        rule: external_id.clone(),
        external_id,
        event_id,
        priority: severity.as_deref().and_then(Priority::parse),
        severity,
        service: root.opt_str("service")?,
        description: root.opt_str("description")?,
        incident_type: Some("trigger".into()),
        status: AlertStatus::Firing,
        labels: root.string_map("labels")?,
        links: Vec::new(),
        started_at: now,
        ended_at: None,
        title,
        raw: doc.clone(),
    }])
}
