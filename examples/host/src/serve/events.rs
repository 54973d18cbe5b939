//! Threads' events: each goes to one writer task, which numbers it in its thread, logs it
//! ([`EventLog`], a batch per transaction) and then publishes it to the thread's live
//! subscribers. A reader subscribes first and then reads the log, so that nothing falls
//! between the past and the live stream (an event in both is told by its number).
//! Streamed text deltas are published but not logged (the answer they make up is).

use std::collections::{BTreeMap, HashMap};
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

    /// Record `event` of thread `thread` (never blocks).
    pub fn record(&self, thread: &str, event: Value) {
        let _ = self.tx.send(Msg::Event(thread.to_string(), event));
    }

    /// The live events of thread `thread` from now on.
    pub fn subscribe(&self, thread: &str) -> broadcast::Receiver<Live> {
        let mut map = self.live.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(thread.to_string())
            .or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe()
    }

    /// Wait until everything recorded so far is logged and published.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
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
/// log all but the text deltas.
fn number_and_log(
    store: &SqliteStore,
    mut next: HashMap<String, u64>,
    events: Vec<(String, Value)>,
) -> (HashMap<String, u64>, Vec<(String, Live)>) {
    let mut logged = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for (thread, event) in events {
        if is_delta(&event) {
            out.push((thread, Live { seq: None, event }));
            continue;
        }
        let last = match next.get(&thread) {
            Some(n) => *n,
            None => store.last_event(&thread).unwrap_or_else(|e| {
                eprintln!("events of {thread}: {e}");
                0
            }),
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
        // Still published live; the log has a gap that readers see in the numbers.
        eprintln!("event log: {e}");
    }
    (next, out)
}
