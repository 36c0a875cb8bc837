//! `GET /v1/watch`: a stream of server-sent events, one per changed name under a prefix,
//! and a `lagged` notice, never a silent gap, when a watcher falls behind.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast;

use super::{AppState, PrefixParams};
use crate::agent::{Change, MAX_WATCHERS, Notice, Shared};
use crate::error::ApiError;

/// `GET /v1/watch?prefix=`: server-sent events, one `change` per changed name whose name
/// starts with the prefix; `lagged` when this watcher (or the agent) fell behind and should
/// re-read what it cares about.
pub(super) async fn watch(
    State(shared): State<AppState>,
    params: Result<Query<PrefixParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    if shared.http.watchers.load(Ordering::Relaxed) >= MAX_WATCHERS {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_watchers",
            format!("{MAX_WATCHERS} watch streams are open: close one and retry"),
        ));
    }
    let receiver = shared.changes.subscribe();
    let guard = WatcherGuard::new(shared.clone());
    let ready = SseEvent::default()
        .event("ready")
        .data(json!({"kind": "ready", "prefix": params.prefix}).to_string());
    let state = WatchState {
        receiver,
        prefix: params.prefix,
        guard,
        ready: Some(ready),
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        if let Some(ready) = state.ready.take() {
            return Some((Ok(ready), state));
        }
        let event = match next_item(&mut state.receiver, &state.prefix).await? {
            WatchItem::Change(change) => SseEvent::default()
                .event("change")
                .data(serde_json::to_string(&change).unwrap_or_default()),
            WatchItem::Lagged { of, missed } => lagged(&state, of, missed),
        };
        Some((Ok(event), state))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// What a watcher is sent next.
#[derive(Debug)]
enum WatchItem {
    /// A change of a name under the prefix.
    Change(Change),
    /// Changes were missed: of one kind (the agent fell behind a replica), or of any kind
    /// (this watcher fell behind the agent).
    Lagged {
        of: Option<&'static str>,
        missed: u64,
    },
}

/// The next item for a watcher of `prefix`; `None` once the agent stops.
async fn next_item(receiver: &mut broadcast::Receiver<Notice>, prefix: &str) -> Option<WatchItem> {
    loop {
        match receiver.recv().await {
            Ok(Notice::Change(change)) if change.name.starts_with(prefix) => {
                return Some(WatchItem::Change(change));
            }
            Ok(Notice::Change(_)) => {}
            Ok(Notice::Lagged { kind, missed }) => {
                return Some(WatchItem::Lagged {
                    of: Some(kind),
                    missed,
                });
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                return Some(WatchItem::Lagged { of: None, missed });
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

struct WatchState {
    receiver: broadcast::Receiver<Notice>,
    prefix: String,
    guard: WatcherGuard,
    ready: Option<SseEvent>,
}

fn lagged(state: &WatchState, kind: Option<&'static str>, missed: u64) -> SseEvent {
    state
        .guard
        .0
        .http
        .watch_lagged
        .fetch_add(missed, Ordering::Relaxed);
    SseEvent::default().event("lagged").data(
        json!({
            "kind": "lagged",
            "of": kind,
            "missed": missed,
            "notice": "this watcher fell behind and missed changes: re-read the names you follow",
        })
        .to_string(),
    )
}

/// Counts an open watch stream while it lives.
struct WatcherGuard(Arc<Shared>);

impl WatcherGuard {
    fn new(shared: Arc<Shared>) -> Self {
        shared.http.watchers.fetch_add(1, Ordering::Relaxed);
        WatcherGuard(shared)
    }
}

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.http.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn change(name: &str) -> Notice {
        Notice::Change(Change {
            kind: "sets",
            name: name.into(),
            value: Value::Null,
            context: None,
            from: "local".into(),
        })
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_told_how_much_it_missed() {
        let (sender, mut receiver) = broadcast::channel(2);
        for i in 0..5 {
            sender.send(change(&format!("n{i}"))).expect("a receiver");
        }
        match next_item(&mut receiver, "").await {
            Some(WatchItem::Lagged { of: None, missed }) => assert_eq!(missed, 3),
            other => panic!("expected a lag notice, got {other:?}"),
        }
        match next_item(&mut receiver, "").await {
            Some(WatchItem::Change(c)) => assert_eq!(c.name, "n3"),
            other => panic!("expected n3, got {other:?}"),
        }
        // The agent's own lag behind a replica reaches watchers too.
        sender
            .send(Notice::Lagged {
                kind: "counters",
                missed: 7,
            })
            .expect("a receiver");
        match next_item(&mut receiver, "zz").await {
            Some(WatchItem::Lagged { of, missed }) => {
                assert_eq!((of, missed), (Some("counters"), 7))
            }
            other => panic!("expected the agent's lag notice, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_watcher_skips_other_prefixes_and_ends_with_the_agent() {
        let (sender, mut receiver) = broadcast::channel(8);
        sender.send(change("a/1")).expect("a receiver");
        sender.send(change("b/1")).expect("a receiver");
        sender.send(change("a/2")).expect("a receiver");
        drop(sender);
        let mut names = Vec::new();
        while let Some(item) = next_item(&mut receiver, "a/").await {
            match item {
                WatchItem::Change(c) => names.push(c.name),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(names, ["a/1", "a/2"]);
    }
}
