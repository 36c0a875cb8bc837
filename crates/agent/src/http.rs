//! The HTTP API: routes, request parsing, and the mapping of every failure to a JSON error.
//!
//! Handlers never panic on input: bodies are read as bytes under a size limit and parsed
//! here, so every refusal is a JSON `{"error", "code"}` with a fitting status.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use gossip_crdt::Lattice;
use gossip_net::{AckLevel, Replica, UpdateError};
use gossip_transport::ReplicaId;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::agent::{Change, MAX_WATCHERS, Notice, Shared};
use crate::error::{ApiError, JsonLine};
use crate::keyspace::{self, KeyspaceError, Kind};
use crate::value;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The most values one set write may list.
pub const MAX_VALUES_PER_WRITE: usize = 1000;
/// How long a write waits for its acknowledgement level unless `timeout_ms` says otherwise.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait a client may ask for.
pub const MAX_ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// The state handlers extract.
type AppState = Arc<Shared>;

/// The agent's routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut routes = Router::new();
    if shared.test_faults {
        // A testing aid only: served when the agent runs with its test fault layer.
        routes = routes.route("/v1/test/blocked", get(blocked).put(set_blocked));
    }
    routes
        .route("/", get(crate::status::page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::status::metrics))
        .route("/v1/members", get(members))
        .route("/v1/names", get(names))
        .route("/v1/watch", get(watch))
        .route(
            "/v1/{kind}/{name}",
            get(read).post(post).put(put).delete(delete),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            count_answers,
        ))
        .with_state(shared)
}

/// Counts answers by status class for `/metrics`.
async fn count_answers(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    };
    shared.http.by_class[class].fetch_add(1, Ordering::Relaxed);
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such endpoint: see /v1/sets/{name}, /v1/counters/{name}, /v1/registers/{name}, \
         /v1/watch, /v1/members, /metrics, /healthz",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// `GET /v1/test/blocked`: the gossip addresses this agent sends nothing to.
async fn blocked(State(shared): State<AppState>) -> JsonLine {
    let peers: Vec<String> = shared
        .node
        .blocked()
        .iter()
        .map(|a| a.to_string())
        .collect();
    JsonLine(json!({ "peers": peers }))
}

/// `PUT /v1/test/blocked` `{"peers": ["HOST:PORT", ...]}`: from now on send nothing to these
/// gossip addresses (in place of the previous list; `[]` heals).
async fn set_blocked(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonLine, ApiError> {
    let body = parse_body(body)?;
    let Some(Value::Array(list)) = body.get("peers") else {
        return Err(ApiError::bad_request(
            "bad_field",
            "expected {\"peers\": [\"HOST:PORT\", ...]}",
        ));
    };
    let mut peers = std::collections::BTreeSet::new();
    for item in list {
        let addr = item
            .as_str()
            .and_then(|s| s.parse::<std::net::SocketAddr>().ok())
            .ok_or_else(|| {
                ApiError::bad_request("bad_addr", format!("{item} is not a HOST:PORT address"))
            })?;
        peers.insert(addr);
    }
    let count = peers.len();
    if !shared.node.set_blocked(peers) {
        return Err(ApiError::not_found("the test fault layer is off"));
    }
    Ok(JsonLine(json!({ "blocked": count })))
}

async fn healthz(State(shared): State<AppState>) -> JsonLine {
    JsonLine(json!({"status": "ok", "id": shared.node.id().to_string()}))
}

/// `GET /v1/members`: this agent first (alive, with its own incarnation), then every member
/// it knows.
async fn members(State(shared): State<AppState>) -> JsonLine {
    let mut members = vec![json!({
        "id": shared.node.id().to_string(),
        "addr": shared.node.advertised_addr().to_string(),
        "state": "alive",
        "incarnation": shared.node.incarnation(),
        "self": true,
    })];
    members.extend(shared.node.members().into_iter().map(|m| {
        json!({
            "id": m.id.to_string(),
            "addr": m.addr.to_string(),
            "state": m.state,
            "incarnation": m.incarnation,
        })
    }));
    JsonLine(json!({"self": shared.node.id().to_string(), "members": members}))
}

#[derive(Deserialize)]
struct PrefixParams {
    #[serde(default)]
    prefix: String,
}

/// `GET /v1/names?prefix=`: the present names of every kind.
async fn names(
    State(shared): State<AppState>,
    params: Result<Query<PrefixParams>, QueryRejection>,
) -> Result<JsonLine, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let mut out = Map::new();
    for kind in Kind::ALL {
        let names: Vec<Value> = shared
            .names(kind)
            .into_iter()
            .filter(|n| n.starts_with(&params.prefix))
            .map(Value::String)
            .collect();
        out.insert(kind.as_str().into(), Value::Array(names));
    }
    Ok(JsonLine(Value::Object(out)))
}

/// The kind and name of `/v1/{kind}/{name}`, checked.
fn target(path: Result<Path<(String, String)>, PathRejection>) -> Result<(Kind, String), ApiError> {
    let Path((kind, name)) = path.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no such kind {kind:?}: use sets, counters or registers"
        ))
    })?;
    keyspace::check_name(&name).map_err(|e| ApiError::bad_request("bad_name", e.to_string()))?;
    Ok((kind, name))
}

/// 409 if `name` is held as a kind other than `kind`.
fn check_kind(shared: &Shared, kind: Kind, name: &str) -> Result<(), ApiError> {
    match shared.held_as_other(kind, name) {
        Some(other) => Err(ApiError::wrong_type(format!(
            "{name:?} is {}, not {}: use /v1/{other}/{name} or another name",
            other.noun(),
            kind.noun()
        ))
        .with("holds", Value::String(other.as_str().into()))),
        None => Ok(()),
    }
}

/// `GET /v1/{kind}/{name}`.
async fn read(
    State(shared): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<JsonLine, ApiError> {
    let (kind, name) = target(path)?;
    match shared.read(kind, &name) {
        Some((value, None)) => Ok(JsonLine(json!({"value": value}))),
        Some((values, Some(context))) => {
            Ok(JsonLine(json!({"values": values, "context": context})))
        }
        None => {
            check_kind(&shared, kind, &name)?;
            Err(ApiError::not_found(format!(
                "{kind}/{name} was never written, or was deleted"
            )))
        }
    }
}

#[derive(Deserialize)]
struct WriteParams {
    ack: Option<String>,
    timeout_ms: Option<u64>,
}

/// The acknowledgement a write waits for, and for how long.
struct Ack {
    level: AckLevel,
    timeout: Duration,
}

fn ack_name(level: &AckLevel) -> &'static str {
    match level {
        AckLevel::Local => "local",
        AckLevel::Durable => "durable",
        AckLevel::Replicated { .. } => "replicated",
        AckLevel::All { .. } => "all",
    }
}

fn parse_ack(
    shared: &Shared,
    params: Result<Query<WriteParams>, QueryRejection>,
) -> Result<Ack, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let level = match params.ack.as_deref() {
        None if shared.store => AckLevel::Durable,
        None => AckLevel::Local,
        Some("local") => AckLevel::Local,
        Some("durable") => AckLevel::Durable,
        Some("replicated") => AckLevel::Replicated { k: 1 },
        Some("all") => AckLevel::All { k: 1 },
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_ack",
                format!("ack={other:?}: use local, durable, replicated or all"),
            ));
        }
    };
    let needs_store = matches!(level, AckLevel::Durable | AckLevel::All { .. });
    if needs_store && !shared.data_dir {
        return Err(not_durable(&level));
    }
    if needs_store && !shared.store {
        return Err(no_store(&level));
    }
    let timeout = params
        .timeout_ms
        .map_or(DEFAULT_ACK_TIMEOUT, Duration::from_millis);
    if timeout > MAX_ACK_TIMEOUT {
        return Err(ApiError::bad_request(
            "bad_timeout",
            format!(
                "timeout_ms={}: the longest wait is {} ms",
                timeout.as_millis(),
                MAX_ACK_TIMEOUT.as_millis()
            ),
        ));
    }
    Ok(Ack { level, timeout })
}

fn not_durable(level: &AckLevel) -> ApiError {
    ApiError::bad_request(
        "not_durable",
        format!(
            "ack={} needs a store: start the agent with --data-dir DIR, or ask for ack=local \
             or ack=replicated",
            ack_name(level)
        ),
    )
}

fn no_store(level: &AckLevel) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!(
            "ack={} needs the store, which is closed (the agent is stopping): ask for \
             ack=local or ack=replicated",
            ack_name(level)
        ),
    )
}

/// The body of a write as a JSON object.
fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "too_large",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::new(status, "bad_body", e.body_text())
        }
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "bad_json",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "bad_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Refuses fields that belong to another kind (409) and unknown fields (400).
fn check_fields(kind: Kind, body: &Map<String, Value>) -> Result<(), ApiError> {
    for field in body.keys() {
        let owner = match field.as_str() {
            "add" | "remove" => Kind::Sets,
            "increment" => Kind::Counters,
            "value" | "context" => Kind::Registers,
            _ => {
                return Err(ApiError::bad_request(
                    "bad_field",
                    format!("unknown field {field:?} for {}", kind.noun()),
                ));
            }
        };
        if owner != kind {
            let hint = match kind {
                Kind::Sets => "sets take {\"add\": [..]} or {\"remove\": [..]}",
                Kind::Counters => "counters take {\"increment\": n}",
                Kind::Registers => "registers take {\"value\": v, \"context\": c}",
            };
            return Err(ApiError::wrong_type(format!(
                "{field:?} is for {}, not {}: {hint}",
                owner.as_str(),
                kind.as_str()
            )));
        }
    }
    Ok(())
}

/// What a write reached.
struct Applied {
    reached: &'static str,
    changed: bool,
}

/// Applies the delta `make` builds from the replica's state, waiting for `ack`.
async fn apply<L>(
    replica: &Replica<L>,
    ack: &Ack,
    make: impl FnOnce(&L, ReplicaId) -> Result<Option<L>, KeyspaceError> + Send + 'static,
) -> Result<Applied, ApiError>
where
    L: Lattice
        + gossip_crdt::Decompose
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Default
        + Clone
        + Send
        + Sync
        + 'static,
{
    let failure: Arc<Mutex<Option<KeyspaceError>>> = Arc::new(Mutex::new(None));
    let report = failure.clone();
    let result = replica
        .update_with(ack.level, ack.timeout, move |state, me| {
            match make(state, me) {
                Ok(delta) => delta,
                Err(e) => {
                    if let Ok(mut slot) = report.lock() {
                        *slot = Some(e);
                    }
                    None
                }
            }
        })
        .await;
    let failed = failure.lock().ok().and_then(|mut slot| slot.take());
    if let Some(e) = failed {
        return Err(match e {
            KeyspaceError::BadContext { .. } | KeyspaceError::BadName { .. } => {
                ApiError::bad_request("bad_request", e.to_string())
            }
            KeyspaceError::Crdt(_) => {
                ApiError::new(StatusCode::CONFLICT, "overflow", e.to_string())
            }
        });
    }
    match result {
        Ok((_, reached)) => Ok(Applied {
            reached: ack_name(&reached),
            changed: true,
        }),
        Err(UpdateError::NoChange) => Ok(Applied {
            reached: "local",
            changed: false,
        }),
        Err(UpdateError::Timeout { reached, .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ack_timeout",
            format!(
                "acknowledgement {} not reached within {} ms: the write is applied locally \
                 (reached {}) and will still spread",
                ack_name(&ack.level),
                ack.timeout.as_millis(),
                ack_name(&reached)
            ),
        )
        .with("reached", Value::String(ack_name(&reached).into()))
        .with("requested", Value::String(ack_name(&ack.level).into()))),
        Err(UpdateError::NotDurable) => Err(no_store(&ack.level)),
        Err(UpdateError::NotStored { error, .. }) => {
            let status = match error {
                gossip_net::StoreError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            Err(ApiError::new(
                status,
                "not_stored",
                format!(
                    "the write is applied here but was not stored, so it is not durable: \
                     {error}"
                ),
            )
            .with("reached", Value::String("local".into()))
            .with("requested", Value::String(ack_name(&ack.level).into())))
        }
        Err(UpdateError::TooLarge { bytes, limit }) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the change is {bytes} bytes, more than the {limit} bytes one delta may have: \
                 write less at once"
            ),
        )),
        Err(other) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "update_failed",
            other.to_string(),
        )),
    }
}

fn answer(applied: Applied, requested: &Ack) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("ok".into(), Value::Bool(true));
    out.insert("ack".into(), Value::String(applied.reached.into()));
    out.insert(
        "requested".into(),
        Value::String(ack_name(&requested.level).into()),
    );
    out.insert("changed".into(), Value::Bool(applied.changed));
    out
}

/// A list of values from a set write, as canonical texts.
fn values_of(field: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(
            "bad_field",
            format!("{field:?} takes an array of values"),
        ));
    };
    if items.len() > MAX_VALUES_PER_WRITE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "{} values in one write, the limit is {MAX_VALUES_PER_WRITE}",
                items.len()
            ),
        ));
    }
    Ok(items.iter().map(value::canonical).collect())
}

/// `POST /v1/{sets|counters}/{name}`.
async fn post(
    State(shared): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<WriteParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonLine, ApiError> {
    let (kind, name) = target(path)?;
    let body = parse_body(body)?;
    check_fields(kind, &body)?;
    check_kind(&shared, kind, &name)?;
    let ack = parse_ack(&shared, params)?;
    let applied = match kind {
        Kind::Sets => {
            let (op, items) = match (body.get("add"), body.get("remove")) {
                (Some(items), None) => ("add", items),
                (None, Some(items)) => ("remove", items),
                _ => {
                    return Err(ApiError::bad_request(
                        "bad_field",
                        "a set write takes exactly one of {\"add\": [..]} or {\"remove\": [..]}",
                    ));
                }
            };
            let elements = values_of(op, items)?;
            let name = name.clone();
            apply(&shared.sets, &ack, move |state, me| {
                if op == "add" {
                    keyspace::set_add_delta(state, me, &name, &elements)
                } else {
                    keyspace::set_remove_delta(state, me, &name, &elements)
                }
            })
            .await?
        }
        Kind::Counters => {
            let by = match body.get("increment") {
                Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_field",
                        format!("increment {n} is not a whole number between -2^63 and 2^63-1"),
                    )
                })?,
                _ => {
                    return Err(ApiError::bad_request(
                        "bad_field",
                        "a counter write takes {\"increment\": n} with n a whole number",
                    ));
                }
            };
            let name = name.clone();
            apply(&shared.counters, &ack, move |state, me| {
                keyspace::counter_add_delta(state, me, &name, by).map(Some)
            })
            .await?
        }
        Kind::Registers => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "registers are written with PUT {\"value\": v, \"context\": c}",
            ));
        }
    };
    Ok(JsonLine(Value::Object(answer(applied, &ack))))
}

/// `PUT /v1/registers/{name}`.
async fn put(
    State(shared): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<WriteParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonLine, ApiError> {
    let (kind, name) = target(path)?;
    if kind != Kind::Registers {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{kind} are written with POST; PUT is for registers"),
        ));
    }
    let body = parse_body(body)?;
    check_fields(kind, &body)?;
    check_kind(&shared, kind, &name)?;
    let ack = parse_ack(&shared, params)?;
    let text = match body.get("value") {
        Some(v) => value::canonical(v),
        None => {
            return Err(ApiError::bad_request(
                "bad_field",
                "a register write takes {\"value\": v} and, to replace what you read, \
                 {\"context\": c}",
            ));
        }
    };
    let context = match body.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(
            keyspace::decode_context(c)
                .map_err(|e| ApiError::bad_request("bad_context", e.to_string()))?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_context",
                "\"context\" is the string a read returned",
            ));
        }
    };
    let key = name.clone();
    let applied = apply(&shared.registers, &ack, move |state, me| {
        keyspace::register_write_delta(state, me, &key, text, context.as_ref()).map(Some)
    })
    .await?;
    let mut out = answer(applied, &ack);
    if let Some((values, Some(context))) = shared.read(Kind::Registers, &name) {
        out.insert("values".into(), values);
        out.insert("context".into(), Value::String(context));
    }
    Ok(JsonLine(Value::Object(out)))
}

/// `DELETE /v1/{kind}/{name}`: removes what this agent has observed of the name.
async fn delete(
    State(shared): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<WriteParams>, QueryRejection>,
) -> Result<JsonLine, ApiError> {
    let (kind, name) = target(path)?;
    let ack = parse_ack(&shared, params)?;
    let key = name.clone();
    let applied = match kind {
        Kind::Sets => {
            apply(&shared.sets, &ack, move |s, _| {
                Ok(keyspace::remove_delta(s, &key))
            })
            .await?
        }
        Kind::Counters => {
            apply(&shared.counters, &ack, move |s, _| {
                Ok(keyspace::remove_delta(s, &key))
            })
            .await?
        }
        Kind::Registers => {
            apply(&shared.registers, &ack, move |s, _| {
                Ok(keyspace::remove_delta(s, &key))
            })
            .await?
        }
    };
    if !applied.changed {
        check_kind(&shared, kind, &name)?;
        return Err(ApiError::not_found(format!(
            "{kind}/{name} was never written, or was already deleted"
        )));
    }
    Ok(JsonLine(Value::Object(answer(applied, &ack))))
}

/// `GET /v1/watch?prefix=`: server-sent events, one `change` per changed name whose name
/// starts with the prefix; `lagged` when this watcher (or the agent) fell behind and should
/// re-read what it cares about.
async fn watch(
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
