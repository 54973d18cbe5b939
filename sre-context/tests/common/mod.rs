//! Test helpers: is the runtime thread free while some work runs?
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Await `work` on the current (current-thread) runtime while a ticker task on the same
/// thread wakes every 2 ms. Returns the work's output, its duration and the ticker's worst
/// lateness during it: blocking work on the runtime thread shows up as lateness close to
/// the work's duration, work moved to the blocking pool as lateness close to zero.
pub async fn lateness_during<F: Future>(work: F) -> (F::Output, Duration, Duration) {
    const TICK: Duration = Duration::from_millis(2);
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let flag = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut started = Some(started_tx);
        let mut worst = Duration::ZERO;
        let mut due = tokio::time::Instant::now() + TICK;
        while !flag.load(Ordering::Relaxed) {
            tokio::time::sleep_until(due).await;
            let now = tokio::time::Instant::now();
            if let Some(tx) = started.take() {
                let _ = tx.send(());
            } else {
                worst = worst.max(now - due);
            }
            due = now + TICK;
        }
        worst
    });
    started_rx.await.unwrap();
    let start = Instant::now();
    let out = work.await;
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let worst = ticker.await.unwrap();
    (out, took, worst)
}

/// A current-thread runtime (one thread runs every task: any blocking call stalls them all).
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
