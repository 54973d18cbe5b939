//! Incidents: one model for what monitoring and paging platforms send ([`Alert`], one
//! event about one incident), and the parsers of their webhooks: Prometheus Alertmanager
//! (version 4), PagerDuty (webhooks v3, signed), the Azure Monitor common alert schema,
//! and a generic JSON trigger. Each parser checks the body (size, JSON, field types) and
//! returns a typed [`IntakeError`] that says what is wrong and where.
//!
//! ```
//! let body = br#"{"version":"4","status":"firing","receiver":"sre","groupKey":"g",
//!   "alerts":[{"status":"firing","labels":{"alertname":"HighLatency","severity":"critical",
//!   "service":"checkout"},"annotations":{"summary":"p99 over 2s"},
//!   "startsAt":"2026-11-30T08:00:00Z","endsAt":"0001-01-01T00:00:00Z",
//!   "fingerprint":"a1b2"}]}"#;
//! let alerts = sre_host::incident::alertmanager::parse(body).unwrap();
//! assert_eq!(alerts[0].title, "HighLatency: p99 over 2s");
//! assert_eq!(alerts[0].priority, Some(sre_host::incident::Priority(1)));
//! ```

pub mod alertmanager;
pub mod azure_monitor;
pub mod generic;
pub mod intake;
mod json;
pub mod pagerduty;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The largest body a webhook may have (Azure Monitor's own limit is 256 KB).
pub const MAX_BODY: usize = 1 << 20;

/// Where an incident comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Source {
    /// Prometheus Alertmanager.
    Alertmanager,
    /// PagerDuty.
    PagerDuty,
    /// Azure Monitor.
    AzureMonitor,
    /// A generic HTTP trigger.
    Trigger,
    /// Created by hand (`sre incident create`).
    Manual,
}

impl Source {
    /// The name used in storage, plans and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alertmanager => "alertmanager",
            Source::PagerDuty => "pagerduty",
            Source::AzureMonitor => "azure-monitor",
            Source::Trigger => "trigger",
            Source::Manual => "manual",
        }
    }

    /// Parse a name: ours, or the vendor's platform names (`AzMonitor`, `PagerDuty`,
    /// `Prometheus`).
    pub fn parse(s: &str) -> Option<Source> {
        let k: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match k.as_str() {
            "alertmanager" | "prometheus" => Source::Alertmanager,
            "pagerduty" => Source::PagerDuty,
            "azuremonitor" | "azmonitor" => Source::AzureMonitor,
            "trigger" | "http" | "httptrigger" => Source::Trigger,
            "manual" => Source::Manual,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority from 1 (most urgent) to 5, whatever the platform's scale: `P1`..`P5`,
/// `Sev0`..`Sev4` (Azure Monitor), or Alertmanager's conventional severities
/// (`critical` 1, `high`/`error` 2, `warning` 3, `low` 4, `info` 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Priority(pub u8);

impl Priority {
    /// Parse any of the scales above (case-insensitive).
    pub fn parse(s: &str) -> Option<Priority> {
        let k = s.trim().to_ascii_lowercase();
        let named = match k.as_str() {
            "critical" | "page" => Some(1),
            "high" | "error" | "major" => Some(2),
            "warning" | "warn" | "medium" | "minor" => Some(3),
            "low" => Some(4),
            "info" | "informational" | "none" => Some(5),
            _ => None,
        };
        if let Some(p) = named {
            return Some(Priority(p));
        }
        let digit = |rest: &str, offset: u8| -> Option<Priority> {
            let n: u8 = rest.parse().ok()?;
            let p = n.checked_add(offset)?;
            (1..=5).contains(&p).then_some(Priority(p))
        };
        if let Some(rest) = k.strip_prefix("sev") {
            return digit(rest, 1);
        }
        digit(k.strip_prefix('p')?, 0)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// Where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Firing, triggered, fired.
    Firing,
    /// Acknowledged by a person.
    Acknowledged,
    /// Resolved.
    Resolved,
}

impl AlertStatus {
    /// The name used in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One event about one incident, as a platform reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its platform.
    pub source: Source,
    /// The delivery's own id (a duplicate delivery repeats it): PagerDuty's event id,
    /// Alertmanager's fingerprint with the start and status, Azure's alert id with the
    /// condition.
    pub event_id: String,
    /// The platform's id of the incident or alert series (PagerDuty's incident id,
    /// Alertmanager's fingerprint, Azure's alert id).
    pub external_id: String,
    /// What repeat firings share, for merging: the alert rule (Alertmanager's
    /// `alertname`, Azure's `alertRule`), or the incident (PagerDuty).
    pub rule: String,
    /// A one-line title.
    pub title: String,
    /// The description, when the platform gives one.
    pub description: Option<String>,
    /// The severity or priority as the platform wrote it.
    pub severity: Option<String>,
    /// The normalised priority.
    pub priority: Option<Priority>,
    /// The impacted service.
    pub service: Option<String>,
    /// The incident type or signal type (`Metric`, `Log`, `incident`...).
    pub incident_type: Option<String>,
    /// Firing, acknowledged or resolved.
    pub status: AlertStatus,
    /// Labels (Alertmanager's labels, PagerDuty's and Azure's identifying fields).
    pub labels: BTreeMap<String, String>,
    /// Links to the platform (generator URL, incident page, runbook).
    pub links: Vec<String>,
    /// When it started (or occurred).
    pub started_at: DateTime<Utc>,
    /// When it ended, once resolved.
    pub ended_at: Option<DateTime<Utc>>,
    /// The part of the payload about this alert.
    pub raw: serde_json::Value,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntakeError {
    /// The body is over the limit.
    #[error("the body is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("the body is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A field is missing or of the wrong type.
    #[error("{path}: {message}")]
    Field {
        /// Where (`alerts[0].labels.alertname`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The payload is of a kind or version this parser does not read.
    #[error("{0}")]
    Unsupported(String),
    /// The signature is missing or does not match.
    #[error("signature: {0}")]
    Signature(String),
}

impl IntakeError {
    /// Whether the sender is at fault for who it is (401), not for what it sent (4xx).
    pub fn is_unauthorised(&self) -> bool {
        matches!(self, IntakeError::Signature(_))
    }

    /// The HTTP status that answers it: 401 for a signature, 413 for a body too large,
    /// 422 for a payload of another kind or version, 400 for the rest.
    pub fn http_status(&self) -> u16 {
        match self {
            IntakeError::Signature(_) => 401,
            IntakeError::TooLarge { .. } => 413,
            IntakeError::Unsupported(_) => 422,
            IntakeError::Json { .. } | IntakeError::Field { .. } => 400,
        }
    }
}

/// Refuse a body over `limit` bytes.
pub fn check_size(body: &[u8], limit: usize) -> Result<(), IntakeError> {
    if body.len() > limit {
        return Err(IntakeError::TooLarge {
            size: body.len(),
            limit,
        });
    }
    Ok(())
}

/// Parse `body` as a delivery from `source` (not [`Source::Trigger`] nor
/// [`Source::Manual`], which carry no platform format: see [`generic`]).
pub fn parse(source: Source, body: &[u8]) -> Result<Vec<Alert>, IntakeError> {
    check_size(body, MAX_BODY)?;
    match source {
        Source::Alertmanager => alertmanager::parse(body),
        Source::PagerDuty => pagerduty::parse(body),
        Source::AzureMonitor => azure_monitor::parse(body),
        Source::Trigger | Source::Manual => generic::parse(source, "manual", body),
    }
}

/// The first line of `text`, trimmed and capped at 200 characters, for titles.
pub(crate) fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}
