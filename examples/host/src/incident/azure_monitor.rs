//! The Azure Monitor common alert schema (`azureMonitorCommonAlertSchema`): one [`Alert`],
//! fired or resolved.

use super::json::{At, parse as parse_json};
use super::{Alert, AlertStatus, IntakeError, Priority, Source, one_line};

/// Parse an Azure Monitor webhook body.
pub fn parse(body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    let doc = parse_json(body)?;
    let root = At::root(&doc);
    match root.opt_str("schemaId")?.as_deref() {
        Some("azureMonitorCommonAlertSchema") => {}
        Some(other) => {
            return Err(IntakeError::Unsupported(format!(
                "schemaId: `{other}` is not the common alert schema (azureMonitorCommonAlertSchema); \
                 turn on the common schema in the action group"
            )));
        }
        None => {
            return Err(IntakeError::Field {
                path: "schemaId".into(),
                message: "missing (the common alert schema says `azureMonitorCommonAlertSchema`)"
                    .into(),
            });
        }
    }
    let data = root.obj("data")?;
    let e = data.obj("essentials")?;
    let alert_id = e.str("alertId")?;
    let rule = e.str("alertRule")?;
    let condition = e.str("monitorCondition")?;
    let status = match condition.as_str() {
        "Fired" => AlertStatus::Firing,
        "Resolved" => AlertStatus::Resolved,
        other => {
            return Err(IntakeError::Field {
                path: format!("{}.monitorCondition", e.path),
                message: format!("`{other}` is neither `Fired` nor `Resolved`"),
            });
        }
    };
    let severity = e.opt_text("severity")?;
    let started_at = e
        .opt_time("firedDateTime")?
        .ok_or_else(|| IntakeError::Field {
            path: format!("{}.firedDateTime", e.path),
            message: "missing".into(),
        })?;
    let ended_at = e.opt_time("resolvedDateTime")?;
    let targets = e.strings("alertTargetIDs")?;
    let items = e.strings("configurationItems")?;
    let description = e.opt_str("description")?.filter(|d| !d.is_empty());
    let title = match &description {
        Some(d) => format!("{rule}: {}", one_line(d)),
        None => rule.clone(),
    };
    let mut labels = std::collections::BTreeMap::new();
    for (key, field) in [
        ("signalType", "signalType"),
        ("monitoringService", "monitoringService"),
        ("originAlertId", "originAlertId"),
    ] {
        if let Some(v) = e.opt_text(field)? {
            labels.insert(key.to_string(), v);
        }
    }
    if let Some(custom) = data.opt_obj("customProperties")? {
        for (k, v) in custom.string_map_all() {
            labels.entry(k).or_insert(v);
        }
    }
    // The impacted service: a custom property says it best, else the first configuration
    // item (the resource's name).
    let service = labels
        .get("service")
        .cloned()
        .or_else(|| items.first().cloned());
    let mut links: Vec<String> = Vec::new();
    links.extend(
        targets
            .iter()
            .map(|t| format!("https://portal.azure.com/#resource{t}")),
    );
    Ok(vec![Alert {
        source: Source::AzureMonitor,
        event_id: format!("{alert_id}:{condition}"),
        external_id: alert_id,
        rule,
        title,
        description,
        priority: severity.as_deref().and_then(Priority::parse),
        severity,
        service,
        incident_type: e.opt_str("signalType")?,
        status,
        labels,
        links,
        started_at,
        ended_at,
        raw: doc.clone(),
    }])
}

impl At<'_> {
    /// Every string-valued field of this object (others skipped: custom properties are
    /// free-form).
    fn string_map_all(&self) -> Vec<(String, String)> {
        match self.value {
            serde_json::Value::Object(map) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    }
}
