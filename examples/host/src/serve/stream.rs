//! `GET /api/threads/{id}/events`: a thread's past from its event log, then its live
//! events, as server-sent events.

// Handlers answer their errors as responses, as axum does.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::api::{AppState, check_api, error};
use super::events::Live;
use crate::store::{EventLog, SqliteStore};

/// The thread's events as server-sent events (`id:` its number, `data:` its JSON): its
/// past from the log (all of it, or after `?after=N` or the `Last-Event-ID` a reconnecting
/// client sends), then live, with keep-alive comments; a subscriber too slow gets a
/// `lagged` event saying how many it missed (the log still has them).
pub(super) async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
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
    // Subscribed before the log is read: an event logged meanwhile arrives live.
    let rx = s.dispatcher.subscribe(&id);
    let state = Replay {
        store: s.store.clone(),
        thread: id,
        last: after,
        past: std::collections::VecDeque::new(),
        past_done: false,
        rx,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        let event = loop {
            if let Some(e) = st.past.pop_front() {
                st.last = e.seq;
                break Event::default()
                    .id(e.seq.to_string())
                    .data(e.event.to_string());
            }
            if !st.past_done {
                let (store, thread, last) = (st.store.clone(), st.thread.clone(), st.last);
                let page = tokio::task::spawn_blocking(move || {
                    store.events_after(&thread, last, REPLAY_PAGE)
                })
                .await;
                match page {
                    Ok(Ok(page)) if !page.is_empty() => st.past.extend(page),
                    Ok(Err(e)) => {
                        st.past_done = true;
                        break Event::default().event("error").data(e.to_string());
                    }
                    _ => st.past_done = true,
                }
                continue;
            }
            match st.rx.recv().await {
                // Replayed already.
                Ok(Live { seq: Some(n), .. }) if n <= st.last => continue,
                Ok(Live {
                    seq: Some(n),
                    event,
                }) => {
                    st.last = n;
                    break Event::default().id(n.to_string()).data(event.to_string());
                }
                Ok(Live { seq: None, event }) => break Event::default().data(event.to_string()),
                Err(RecvError::Lagged(n)) => {
                    break Event::default().event("lagged").data(n.to_string());
                }
                Err(RecvError::Closed) => return None,
            }
        };
        Some((Ok::<_, std::convert::Infallible>(event), st))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Events read from the log per query while replaying.
const REPLAY_PAGE: usize = 500;

/// Where a replay stands.
struct Replay {
    store: Arc<SqliteStore>,
    thread: String,
    /// The last event sent.
    last: u64,
    past: std::collections::VecDeque<crate::store::ThreadEvent>,
    past_done: bool,
    rx: tokio::sync::broadcast::Receiver<Live>,
}
