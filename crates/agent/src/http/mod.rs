//! The HTTP API: routes, request parsing, and the mapping of every failure to a JSON error.
//!
//! Handlers never panic on input: bodies are read as bytes under a size limit and parsed
//! here, so every refusal is a JSON `{"error", "code"}` with a fitting status.
//!
//! Layout: this module holds the router and the read-only routes (health, members, names,
//! one value); `write` the writes and the acknowledgements they wait for; `watch` the stream
//! of changes; `test_faults` the routes of the test fault layer.

mod test_faults;
mod watch;
mod write;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::agent::Shared;
use crate::error::{ApiError, JsonLine};
use crate::keyspace::{self, Kind};

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
        routes = routes.route(
            "/v1/test/blocked",
            get(test_faults::blocked).put(test_faults::set_blocked),
        );
    }
    routes
        .route("/", get(crate::status::page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::status::metrics))
        .route("/v1/members", get(members))
        .route("/v1/names", get(names))
        .route("/v1/watch", get(watch::watch))
        .route(
            "/v1/{kind}/{name}",
            get(read)
                .post(write::post)
                .put(write::put)
                .delete(write::delete),
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
