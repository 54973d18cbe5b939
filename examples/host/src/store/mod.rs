//! Where incidents are kept: every delivery stored before it is acknowledged (rejected
//! ones too, for inspection), duplicates recognised, repeat firings of one rule merged
//! within a window, resolutions and reopenings applied. [`IncidentStore`] is the contract
//! (a later step can put it on PostgreSQL for many workers); [`SqliteStore`] the embedded
//! default (WAL, migrations by `user_version`).

pub mod approvals;
pub mod events;
pub mod schedules;
mod sqlite;
mod sqlite_approvals;
mod sqlite_threads;
pub mod threads;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use approvals::{ApprovalRecord, ApprovalStore, Decision, Effect, PolicyRecord};
pub use events::{EventLog, ThreadEvent};
pub use sqlite::SqliteStore;
pub use threads::{ThreadRecord, ThreadStatus, ThreadStore, open_threads, task_of};

use crate::incident::{Alert, AlertStatus, Priority, Source};

/// The default merge window: repeat firings of one rule within it join the open incident.
pub const DEFAULT_MERGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(3 * 3600);

/// A stored incident.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentRecord {
    /// Our id (`inc-<n>`).
    pub id: String,
    /// Its platform.
    pub source: Source,
    /// The platform's id.
    pub external_id: String,
    /// What repeat firings share.
    pub rule: String,
    /// Title.
    pub title: String,
    /// Severity as the platform wrote it.
    pub severity: Option<String>,
    /// Normalised priority.
    pub priority: Option<Priority>,
    /// Impacted service.
    pub service: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Incident or signal type.
    pub incident_type: Option<String>,
    /// Firing, acknowledged or resolved.
    pub status: AlertStatus,
    /// When it was resolved (the platform's end time when it gives one).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Links.
    pub links: Vec<String>,
    /// First firing.
    pub first_seen: DateTime<Utc>,
    /// Last event.
    pub last_seen: DateTime<Utc>,
    /// Firings merged into it (1 for a new one).
    pub count: u32,
    /// The response plan that took it, as it was then (the home may change later).
    pub plan: Option<PlanSnapshot>,
    /// The agent that investigates it, if any.
    pub agent: Option<String>,
    /// Why it is not investigated (no plan matched), if so.
    pub not_investigated: Option<String>,
    /// The thread of its investigation (`thread-<n>`), when a plan took it.
    pub thread: Option<String>,
    /// The payload of its first alert.
    pub raw: serde_json::Value,
}

/// What a delivery did.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Intake {
    /// A new incident.
    New {
        /// It.
        incident: IncidentRecord,
    },
    /// A repeat firing joined an open incident (its count grew), or an acknowledgement.
    Joined {
        /// It.
        incident: IncidentRecord,
    },
    /// The incident was resolved.
    Resolved {
        /// It.
        incident: IncidentRecord,
    },
    /// A resolved incident fired again within the window and was reopened.
    Reopened {
        /// It.
        incident: IncidentRecord,
    },
    /// The same event was delivered before: nothing changed (but that it is still seen).
    Duplicate {
        /// The incident it belongs to.
        incident: IncidentRecord,
    },
}

impl Intake {
    /// The incident.
    pub fn incident(&self) -> &IncidentRecord {
        match self {
            Intake::New { incident }
            | Intake::Joined { incident }
            | Intake::Resolved { incident }
            | Intake::Reopened { incident }
            | Intake::Duplicate { incident } => incident,
        }
    }
}

/// A response plan as it was when it took an incident.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PlanSnapshot {
    /// The plan's name.
    pub name: String,
    /// Its agent.
    pub agent: String,
    /// Its mode (`Review`, `Autonomous`, `ReadOnly`).
    pub mode: String,
    /// Automated investigations one incident gets at most.
    pub max_attempts: u32,
    /// Added to the agent's task.
    pub custom_instructions: Option<String>,
}

/// Who handles an incident (the plan chosen for it), or why nobody does.
#[derive(Clone, Debug, PartialEq)]
pub enum Routing {
    /// A plan took it.
    Plan(PlanSnapshot),
    /// No plan took it: stored, not investigated.
    Unrouted {
        /// Why (shown with the incident).
        reason: String,
    },
}

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// Its id.
    pub id: i64,
    /// Its platform.
    pub source: Source,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `received`, `accepted` or `rejected`.
    pub state: String,
    /// Why it was rejected.
    pub error: Option<String>,
    /// Its size in bytes.
    pub size: usize,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("incident store {path}: {message}")]
    Database {
        /// The database file.
        path: String,
        /// What failed.
        message: String,
    },
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// The record is not in a state that allows this (an approval decided already).
    #[error("{0}")]
    Conflict(String),
}

/// Keeps incidents and deliveries. Implementations are safe to share between threads.
pub trait IncidentStore: Send + Sync {
    /// Keep a delivery's raw body, before anything else is done with it.
    fn record_delivery(
        &self,
        source: Source,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Mark a delivery rejected, with the reason (its body stays, for inspection).
    fn reject_delivery(&self, delivery: i64, reason: &str) -> Result<(), StoreError>;

    /// Apply the alerts of delivery `delivery`, received `at`, in one transaction (and mark
    /// the delivery accepted, also when it has none). For each alert:
    /// - the same event again is a duplicate: nothing changes but that it is still seen;
    /// - it belongs to the incident of its series (the platform's id for it) or, failing
    ///   that, to the open incident of its rule; a firing joins it (counted), an
    ///   acknowledgement marks it, a resolution closes its series and the incident once no
    ///   series is open;
    /// - a firing of a rule whose incident was resolved within `window` reopens it (unless
    ///   it started before the resolution: a late delivery);
    /// - anything else is a new incident, routed by `route`; an incident no plan took is
    ///   routed again when a later alert joins it.
    fn accept(
        &self,
        delivery: i64,
        alerts: &[Alert],
        at: DateTime<Utc>,
        window: std::time::Duration,
        route: &dyn Fn(&Alert) -> Routing,
    ) -> Result<Vec<Intake>, StoreError>;

    /// One incident.
    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError>;

    /// Incidents a plan took whose thread was never opened (taken by another process, such
    /// as `sre incident ingest`, while a server runs), oldest first.
    fn unopened(&self) -> Result<Vec<IncidentRecord>, StoreError>;

    /// The latest incidents, newest first.
    fn incidents(&self, limit: usize) -> Result<Vec<IncidentRecord>, StoreError>;

    /// The latest deliveries, newest first.
    fn deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError>;
}
