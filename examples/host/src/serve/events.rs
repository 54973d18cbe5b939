//! Threads' events: each goes to one writer task, which numbers it in its thread, logs it
//! ([`EventLog`], a batch per transaction) and then publishes it to the thread's live
//! subscribers. A reader subscribes first and then reads the log, so that nothing falls
//! between the past and the live stream (an event in both is told by its number).
//! Streamed text deltas are published but not logged (the answer they make up is).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{EventLog, SqliteStore, ThreadEvent};

/// Events kept for a slow subscriber before it is told it lagged.
const LIVE_BUFFER: usize = 1024;

/// An event as published live: its number in the thread (none for a text delta).
#[derive(Clone, Debug)]
pub struct Live {
    /// Its number in the thread's log.
    pub seq: Option<u64>,
    /// The event.
    pub event: Value,
}

enum Msg {
    Event(String, Value),
    Flush(oneshot::Sender<()>),
}

type Channels = Arc<Mutex<BTreeMap<String, broadcast::Sender<Live>>>>;

/// The event pipeline; cheap to clone.
#[derive(Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<Msg>,
    live: Channels,
}

impl Events {
    /// Start the writer (on the current runtime), logging into `store`.
    pub fn start(store: Arc<SqliteStore>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let live: Channels = Arc::default();
        tokio::spawn(write(store, rx, live.clone()));
        Events { tx, live }
    }

    /// Record `event` of thread `thread` (never blocks), stamped with the time it happened
    /// (`at`, unless it has one) for timelines.
    pub fn record(&self, thread: &str, mut event: Value) {
        if let Some(fields) = event.as_object_mut() {
            fields.entry("at").or_insert_with(|| {
                chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    .into()
            });
        }
        let _ = self.tx.send(Msg::Event(thread.to_string(), event));
    }

    /// The live events of thread `thread` from now on.
    pub fn subscribe(&self, thread: &str) -> Subscription {
        let mut map = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let rx = map
            .entry(thread.to_string())
            .or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe();
        Subscription {
            rx,
            thread: thread.to_string(),
            live: self.live.clone(),
        }
    }

    /// Wait until everything recorded so far is logged and published.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// A subscriber of one thread's live events; the thread's channel goes with its last one.
pub struct Subscription {
    rx: broadcast::Receiver<Live>,
    thread: String,
    live: Channels,
}

impl Subscription {
    /// The next event (see [`broadcast::Receiver::recv`]).
    pub async fn recv(&mut self) -> Result<Live, broadcast::error::RecvError> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.live.lock().unwrap_or_else(|p| p.into_inner());
        // Ours is still counted here: the last one leaving drops the channel.
        if map
            .get(&self.thread)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            map.remove(&self.thread);
        }
    }
}

fn is_delta(event: &Value) -> bool {
    event["kind"]["type"] == "text_delta"
}

async fn write(store: Arc<SqliteStore>, mut rx: mpsc::UnboundedReceiver<Msg>, live: Channels) {
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut batch = Vec::new();
    loop {
        if rx.recv_many(&mut batch, 1024).await == 0 {
            return;
        }
        let mut flushes = Vec::new();
        let mut events = Vec::new();
        for m in batch.drain(..) {
            match m {
                Msg::Event(thread, event) => events.push((thread, event)),
                Msg::Flush(done) => flushes.push(done),
            }
        }
        let store = store.clone();
        let counters = std::mem::take(&mut next);
        let numbered =
            tokio::task::spawn_blocking(move || number_and_log(&store, counters, events)).await;
        let Ok((counters, numbered)) = numbered else {
            continue;
        };
        next = counters;
        let mut map = live.lock().unwrap_or_else(|p| p.into_inner());
        for (thread, live) in numbered {
            // A channel nobody listens to any more is dropped.
            if let Some(tx) = map.get(&thread)
                && tx.send(live).is_err()
            {
                map.remove(&thread);
            }
        }
        drop(map);
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Number `events` in their threads (a thread seen first: after its last logged event) and
/// log all but the text deltas. Where the log cannot be read or written, events go out
/// without a number (as deltas do) and the thread's count is read again next time, so that
/// no number is ever given twice or skipped by a reader.
fn number_and_log(
    store: &SqliteStore,
    mut next: HashMap<String, u64>,
    events: Vec<(String, Value)>,
) -> (HashMap<String, u64>, Vec<(String, Live)>) {
    let mut logged = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    let mut unreadable = HashSet::new();
    for (thread, event) in events {
        if is_delta(&event) || unreadable.contains(&thread) {
            out.push((thread, Live { seq: None, event }));
            continue;
        }
        let last = match next.get(&thread) {
            Some(n) => *n,
            None => match store.last_event(&thread) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("events of {thread}: {e}");
                    unreadable.insert(thread.clone());
                    out.push((thread, Live { seq: None, event }));
                    continue;
                }
            },
        };
        let seq = last + 1;
        next.insert(thread.clone(), seq);
        logged.push(ThreadEvent {
            thread: thread.clone(),
            seq,
            event: event.clone(),
        });
        out.push((
            thread,
            Live {
                seq: Some(seq),
                event,
            },
        ));
    }
    if let Err(e) = store.append_events(&logged) {
        eprintln!("event log: {e}");
        for (_, live) in &mut out {
            live.seq = None;
        }
        for e in &logged {
            next.remove(&e.thread);
        }
    }
    // A finished thread's count is dropped (a follow-up reads it again from the log).
    for (thread, live) in &out {
        if matches!(live.event["status"].as_str(), Some("completed" | "failed"))
            && live.event.get("thread").is_some()
        {
            next.remove(thread);
        }
    }
    (next, out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may

    use super::*;

    fn event(n: u32) -> Value {
        serde_json::json!({"agent": "a", "session_id": "t", "kind": {"type": "turn_started", "turn": n}})
    }

    #[tokio::test]
    async fn events_are_numbered_logged_and_published_and_numbering_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("db")).unwrap());
        let events = Events::start(store.clone());
        let mut sub = events.subscribe("t");
        for n in 1..=3 {
            events.record("t", event(n));
        }
        events.record(
            "t",
            serde_json::json!({"kind": {"type": "text_delta", "text": "x"}}),
        );
        events.flush().await;
        let mut seqs = Vec::new();
        for _ in 0..4 {
            seqs.push(sub.recv().await.unwrap().seq);
        }
        assert_eq!(seqs, [Some(1), Some(2), Some(3), None]);
        let logged = store.events_after("t", 1, 10).unwrap();
        assert_eq!(logged.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        // Another writer (the server started again) goes on from the log.
        let again = Events::start(store.clone());
        again.record("t", event(4));
        again.flush().await;
        assert_eq!(store.last_event("t").unwrap(), 4);
    }

    #[tokio::test]
    async fn a_threads_channel_goes_with_its_last_subscriber() {
        let dir = tempfile::tempdir().unwrap();
        let events = Events::start(Arc::new(SqliteStore::open(dir.path().join("db")).unwrap()));
        let first = events.subscribe("t");
        let second = events.subscribe("t");
        drop(first);
        assert_eq!(events.live.lock().unwrap().len(), 1);
        drop(second);
        assert!(events.live.lock().unwrap().is_empty());
    }
}
