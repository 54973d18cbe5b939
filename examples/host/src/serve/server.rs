//! Starting the server: the home, the store, the teams' options, the token, the listener;
//! recovery of what a previous run left; graceful shutdown on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::Dispatcher;
use super::api::{AppState, Metrics, router};
use crate::home::AgentHome;
use crate::incident::intake::IntakeConfig;
use crate::store::SqliteStore;
use crate::team::{DurableApprover, ModelSource, TeamOptions};

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The agent home.
    pub dir: PathBuf,
    /// Where to listen (default 127.0.0.1:8080).
    pub listen: SocketAddr,
    /// The data folder (default `<dir>/.sre/data`).
    pub data: Option<PathBuf>,
    /// The workspace (default `<dir>/.sre/workspace`).
    pub workspace: Option<PathBuf>,
    /// Offline: the agents' answers from this script.
    pub script: Option<PathBuf>,
    /// The API token.
    pub token: String,
    /// PagerDuty webhook secrets.
    pub pagerduty_secrets: Vec<String>,
    /// Investigations at once.
    pub concurrency: usize,
    /// Commands in namespaces.
    pub namespaces: bool,
    /// Python tool environments.
    pub cache_dir: Option<PathBuf>,
    /// Learn from every investigation that completes (into the workspace's memory).
    pub learn: bool,
    /// The scheduler's time at start, when not now (`--clock`).
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
}

/// Serve until Ctrl-C or SIGTERM. Prints `listening on ADDR` on stderr once bound.
pub async fn serve(o: ServeOptions) -> Result<(), Box<dyn std::error::Error>> {
    if o.token.trim().len() < 16 {
        return Err(
            "the API token must be at least 16 characters (SRE_API_TOKEN or --token-file)".into(),
        );
    }
    let home = AgentHome::load(&o.dir)?;
    for w in &home.warnings {
        eprintln!("{w}");
    }
    let data = o.data.clone().unwrap_or_else(|| o.dir.join(".sre/data"));
    let store = Arc::new(SqliteStore::open(data.join("incidents.db"))?);
    // One server per data folder: two would each run the other's threads.
    let lock_path = data.join("serve.lock");
    let lock = std::fs::File::create(&lock_path)?;
    if lock.try_lock().is_err() {
        return Err(format!(
            "another `sre serve` uses the data folder {} (its lock {} is held)",
            data.display(),
            lock_path.display()
        )
        .into());
    }
    let workspace = o
        .workspace
        .clone()
        .unwrap_or_else(|| o.dir.join(".sre/workspace"));
    let models = match &o.script {
        Some(s) => ModelSource::Script(s.clone()),
        None => ModelSource::Environment,
    };
    let mut options = TeamOptions::new(&workspace, models);
    options.approver = Arc::new(DurableApprover::new(store.clone()));
    options.namespaces = o.namespaces;
    options.cache_dir = o.cache_dir.clone();
    let plans = Arc::new(home.plans.clone());
    let scheduler = (!home.schedules.is_empty()).then(|| {
        Arc::new(crate::schedule::Scheduler::new(
            home.schedules.clone(),
            store.clone(),
        ))
    });
    // OpenTelemetry when the environment asks for it (OTEL_EXPORTER_OTLP_ENDPOINT...).
    let telemetry = crate::telemetry::Telemetry::from_env()?;
    let spans = telemetry.as_ref().map(|t| Arc::new(t.sink()));
    let dispatcher = Dispatcher::new(home, options, store.clone(), o.concurrency, spans, o.learn);
    let intake = IntakeConfig {
        pagerduty_secrets: o.pagerduty_secrets.clone(),
        ..IntakeConfig::default()
    };
    intake.check()?;
    let closing = tokio_util::sync::CancellationToken::new();
    let state = AppState {
        store,
        plans,
        intake,
        token: Arc::new(o.token.clone()),
        dispatcher: dispatcher.clone(),
        metrics: Arc::new(Metrics::default()),
        closing: closing.clone(),
    };
    let listener = tokio::net::TcpListener::bind(o.listen).await?;
    dispatcher.open_missing().await?;
    let recovered = dispatcher.recover().await?;
    if recovered > 0 {
        eprintln!("taking up {recovered} thread(s) left queued or running");
    }
    let lessons = dispatcher.resume_learning().await?;
    if lessons > 0 {
        eprintln!("taking up {lessons} lesson(s) a stop cut short");
    }
    eprintln!("listening on {}", listener.local_addr()?);
    // No wakeup is lost: decisions from the CLI, retries, runs that parked while decided.
    let clock_offset = o
        .clock
        .map_or(chrono::Duration::zero(), |at| at - chrono::Utc::now());
    dispatcher.watch(std::time::Duration::from_secs(1), scheduler, clock_offset);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            // Open event streams end, or the graceful shutdown would wait for them.
            closing.cancel();
        })
        .await?;
    eprintln!("stopping: running investigations park and resume on the next start");
    dispatcher.shutdown().await;
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    drop(lock);
    Ok(())
}
