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
/// client sends), then live, with keep-alive comments. With `?outputs=preview`, a tool
/// output that differs from what the model saw (offloaded, withheld) is left out, its size
/// given as `output_bytes` (`/api/threads/{id}/outputs/{session}/{call}` serves it). A reader too slow for the live
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
    let brief = match q.get("outputs").map(String::as_str) {
        None | Some("full") => false,
        Some("preview") => true,
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("`outputs` is full or preview, not `{other}`"),
            ));
        }
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
        brief,
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

/// A tool call's full output, as the tool gave it (before offloading), as plain text.
pub(super) async fn output(
    State(s): State<AppState>,
    Path((id, session, call)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    check_api(&s, &headers, q)?;
    let store = s.store.clone();
    match store_call(move || store.tool_output(&id, &session, &call)).await? {
        Some(text) => Ok((
            [
                ("content-type", "text/plain; charset=utf-8"),
                // Shown as text, never as a page of the console's origin.
                ("content-security-policy", "sandbox; default-src 'none'"),
            ],
            text,
        )
            .into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "no finished call with that id in that session of this thread",
        )),
    }
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
    /// Outputs the model did not see are left out (`?outputs=preview`).
    brief: bool,
}

impl Replay {
    /// The next event to send; `None` when the live channel closed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.past.pop_front() {
                self.last = e.seq;
                return Some(self.numbered(e.seq, e.event));
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
                    return Some(self.numbered(n, event));
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

impl Replay {
    fn numbered(&self, seq: u64, mut event: serde_json::Value) -> Event {
        if self.brief {
            sre_core::event::leave_out_unseen_output(&mut event);
        }
        Event::default().id(seq.to_string()).data(event.to_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sre_core::event::leave_out_unseen_output as preview_only;

    #[test]
    fn preview_only_leaves_out_unseen_outputs_and_nothing_else() {
        let mut offloaded =
            json!({"kind": {"type": "tool_finished", "output": "whole", "recorded": "preview"}});
        preview_only(&mut offloaded);
        assert_eq!(offloaded["kind"]["output"], json!(null));
        assert_eq!(offloaded["kind"]["output_bytes"], json!(5));
        let seen = json!({"kind": {"type": "tool_finished", "output": "same", "recorded": "same"}});
        let mut same = seen.clone();
        preview_only(&mut same);
        assert_eq!(same, seen);
        // A damaged log row, a status event: unchanged, no panic.
        for v in [
            json!("not json {"),
            json!({"thread": "t", "status": "completed"}),
            json!({"kind": 3}),
        ] {
            let mut copy = v.clone();
            preview_only(&mut copy);
            assert_eq!(copy, v);
        }
    }
}
