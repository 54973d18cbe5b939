//! One delivery, start to end: the signature checked first (a bad one changes nothing),
//! then the body stored before anything else (so an acknowledged delivery is never lost,
//! and a refused one is kept for inspection), parsed, and each alert applied to the store,
//! new incidents routed by the home's response plans.

use chrono::{DateTime, Utc};

use super::{Alert, IntakeError, MAX_BODY, Source, check_size, pagerduty};
use crate::home::{ResponsePlanDef, choose};
use crate::store::{
    DEFAULT_MERGE_WINDOW, IncidentStore, Intake, PlanSnapshot, Routing, StoreError,
};

/// How deliveries are taken.
#[derive(Clone, Debug)]
pub struct IntakeConfig {
    /// Repeat firings of one rule within it join the open incident (default 3 h).
    pub merge_window: std::time::Duration,
    /// PagerDuty webhook secrets (several while one rotates). Empty: signatures are not
    /// required.
    pub pagerduty_secrets: Vec<String>,
    /// The largest body taken (default [`MAX_BODY`]).
    pub max_body: usize,
}

/// The merge window's bounds (the platforms' own: 1 to 24 hours).
pub const MERGE_WINDOW_RANGE: std::ops::RangeInclusive<std::time::Duration> =
    std::time::Duration::from_secs(3600)..=std::time::Duration::from_secs(24 * 3600);

impl IntakeConfig {
    /// Whether the settings hold: the merge window within [`MERGE_WINDOW_RANGE`], no empty
    /// secret (an empty key would let anyone sign).
    pub fn check(&self) -> Result<(), String> {
        if !MERGE_WINDOW_RANGE.contains(&self.merge_window) {
            return Err(format!(
                "the merge window must be between 1 and 24 hours, not {}",
                humantime::format_duration(self.merge_window)
            ));
        }
        if self.pagerduty_secrets.iter().any(|s| s.is_empty()) {
            return Err("a PagerDuty webhook secret is empty".into());
        }
        Ok(())
    }
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            merge_window: DEFAULT_MERGE_WINDOW,
            pagerduty_secrets: Vec::new(),
            max_body: MAX_BODY,
        }
    }
}

/// A delivery taken: its stored id and what each of its alerts did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Received {
    /// The stored delivery.
    pub delivery: i64,
    /// One outcome per alert (none for a ping).
    pub outcomes: Vec<Intake>,
}

/// A delivery refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The sender or the payload is at fault; `delivery` is where it was kept (none for a
    /// bad signature: nothing is stored then).
    #[error("{error}")]
    Bad {
        /// The stored delivery, if any.
        delivery: Option<i64>,
        /// What is wrong.
        error: IntakeError,
    },
    /// The store failed: the sender should retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One delivery as it arrived.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// Its platform (`Trigger`/`Manual` bodies are read as generic JSON).
    pub source: Source,
    /// The trigger's name, for generic bodies.
    pub trigger: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// PagerDuty's signature header, if sent.
    pub signature: Option<&'a str>,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// Take one delivery.
pub fn receive(
    store: &dyn IncidentStore,
    plans: &[ResponsePlanDef],
    config: &IntakeConfig,
    d: Delivery<'_>,
) -> Result<Received, Refused> {
    let Delivery {
        source,
        trigger,
        body,
        signature,
        at: now,
    } = d;
    let unstored = |error: IntakeError| Refused::Bad {
        delivery: None,
        error,
    };
    config
        .check()
        .map_err(|why| unstored(IntakeError::Unsupported(why)))?;
    if source == Source::PagerDuty && !config.pagerduty_secrets.is_empty() {
        // Over the limit nothing is hashed: no signature makes it acceptable.
        check_size(body, config.max_body).map_err(unstored)?;
        pagerduty::verify(body, signature, &config.pagerduty_secrets).map_err(unstored)?;
    }
    // Kept, even when refused below (an oversized one only up to the limit).
    let kept = &body[..body.len().min(config.max_body)];
    let delivery = store.record_delivery(source, kept, now)?;
    let refuse = |error: IntakeError| -> Result<Received, Refused> {
        store.reject_delivery(delivery, &error.to_string())?;
        Err(Refused::Bad {
            delivery: Some(delivery),
            error,
        })
    };
    if let Err(e) = check_size(body, config.max_body) {
        return refuse(e);
    }
    let alerts = match source {
        Source::Alertmanager => super::alertmanager::parse(body),
        Source::PagerDuty => super::pagerduty::parse(body),
        Source::AzureMonitor => super::azure_monitor::parse(body),
        Source::Trigger | Source::Manual => super::generic::parse(source, trigger, body),
    };
    let alerts = match alerts {
        Ok(a) => a,
        Err(e) => return refuse(e),
    };
    let route = |alert: &Alert| route(plans, alert);
    let outcomes = store.accept(delivery, &alerts, now, config.merge_window, &route)?;
    Ok(Received { delivery, outcomes })
}

/// The plan a new incident takes, or why none does.
pub fn route(plans: &[ResponsePlanDef], alert: &Alert) -> Routing {
    match choose(plans, alert) {
        Some(p) => Routing::Plan(PlanSnapshot {
            name: p.name.clone(),
            agent: p.agent.clone(),
            mode: p.mode.as_str().to_string(),
            max_attempts: p.max_attempts,
            custom_instructions: p.custom_instructions.clone(),
        }),
        None if plans.is_empty() => Routing::Unrouted {
            reason: "the home has no response plan".into(),
        },
        None => Routing::Unrouted {
            reason: "no response plan matches".into(),
        },
    }
}

/// Guess a body's platform from its shape: Alertmanager (`version` + `alerts`), PagerDuty
/// (`event`), Azure Monitor (`schemaId`), else a generic trigger.
pub fn detect(body: &[u8]) -> Source {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return Source::Trigger;
    };
    if map.contains_key("alerts") && map.contains_key("version") {
        Source::Alertmanager
    } else if map.contains_key("event") {
        Source::PagerDuty
    } else if map.contains_key("schemaId") {
        Source::AzureMonitor
    } else {
        Source::Trigger
    }
}
