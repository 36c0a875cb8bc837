//! Writes: `POST`, `PUT` and `DELETE` of a name, the body and the fields each kind takes,
//! and the acknowledgement a write waits for (`ack`, `timeout_ms`), with every way it can
//! fall short mapped to its own JSON error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gossip_crdt::Lattice;
use gossip_net::{AckLevel, Replica, UpdateError};
use gossip_transport::ReplicaId;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    AppState, DEFAULT_ACK_TIMEOUT, MAX_ACK_TIMEOUT, MAX_BODY_BYTES, MAX_VALUES_PER_WRITE,
    check_kind, target,
};
use crate::agent::Shared;
use crate::error::{ApiError, JsonLine};
use crate::keyspace::{self, KeyspaceError, Kind};
use crate::value;

#[derive(Deserialize)]
pub(super) struct WriteParams {
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
pub(super) fn parse_body(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
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
pub(super) async fn post(
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
pub(super) async fn put(
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
pub(super) async fn delete(
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
