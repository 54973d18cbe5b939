//! `GET /api/threads/{id}/events`: a thread's past from its event log, then its live
//! events, as server-sent events.

// Handlers answer their errors as responses, as axum does.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use super::api::{AppState, check_api, error, store_call};
use super::events::{Live, Subscription};
use crate::store::{EventLog, SqliteStore, ThreadEvent, ThreadStore};

/// Events read from the log per query while replaying.
const REPLAY_PAGE: usize = 500;

/// The thread's events as server-sent events (`id:` its number, `data:` its JSON): its
/// past from the log (all of it, or after `?after=N` or the `Last-Event-ID` a reconnecting
/// client sends), then live, with keep-alive comments. A reader too slow for the live
/// stream is caught up from the log, so it misses nothing but streamed text deltas. The
/// stream ends when the server shuts down.
pub(super) async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let q = check_api(&s, &headers, q)?;
    let after = match q
        .get("after")
        .map(String::as_str)
        .or_else(|| headers.get("last-event-id").and_then(|v| v.to_str().ok()))
    {
        None => 0,
        Some(n) => n.trim().parse::<u64>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("`after` (or Last-Event-ID) must be an event number, not `{n}`"),
            )
        })?,
    };
    let (store, tid) = (s.store.clone(), id.clone());
    if store_call(move || store.thread(&tid)).await?.is_none() {
        return Err(error(StatusCode::NOT_FOUND, "no such thread"));
    }
    // Subscribed before the log is read: an event logged meanwhile arrives live.
    let replay = Replay {
        live: s.dispatcher.subscribe(&id),
        store: s.store.clone(),
        thread: id,
        last: after,
        past: VecDeque::new(),
        past_done: false,
    };
    let stream = futures::stream::unfold(replay, |mut r| async move {
        let event = r.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), r))
    })
    .take_until(s.closing.clone().cancelled_owned());
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Where a reader stands: the log's past first, then live.
struct Replay {
    live: Subscription,
    store: Arc<SqliteStore>,
    thread: String,
    /// The number of the last event sent.
    last: u64,
    past: VecDeque<ThreadEvent>,
    /// The log has nothing after `last` (as of the last look).
    past_done: bool,
}

impl Replay {
    /// The next event to send; `None` when the live channel closed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.past.pop_front() {
                self.last = e.seq;
                return Some(numbered(e.seq, &e.event));
            }
            if !self.past_done {
                let (store, thread, last) = (self.store.clone(), self.thread.clone(), self.last);
                let page = tokio::task::spawn_blocking(move || {
                    store.events_after(&thread, last, REPLAY_PAGE)
                })
                .await;
                match page {
                    Ok(Ok(page)) if !page.is_empty() => self.past.extend(page),
                    Ok(Err(e)) => {
                        self.past_done = true;
                        return Some(Event::default().event("error").data(e.to_string()));
                    }
                    _ => self.past_done = true,
                }
                continue;
            }
            match self.live.recv().await {
                // Sent from the log already.
                Ok(Live { seq: Some(n), .. }) if n <= self.last => {}
                Ok(Live {
                    seq: Some(n),
                    event,
                }) => {
                    self.last = n;
                    return Some(numbered(n, &event));
                }
                Ok(Live { seq: None, event }) => {
                    return Some(Event::default().data(event.to_string()));
                }
                // Too slow: what it missed is in the log.
                Err(RecvError::Lagged(_)) => self.past_done = false,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn numbered(seq: u64, event: &serde_json::Value) -> Event {
    Event::default().id(seq.to_string()).data(event.to_string())
}
