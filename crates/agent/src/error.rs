//! Errors: [`AgentError`] for starting and stopping an agent, [`ApiError`] for HTTP answers.

use std::fmt;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Why an agent could not start or stop cleanly.
#[derive(Debug)]
pub enum AgentError {
    /// Neither a cluster key nor `--insecure` was given.
    NoKey,
    /// The key file could not be read or holds no valid key.
    Key {
        /// The file named by `--key-file`.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A `--join` address does not resolve.
    Resolve {
        /// The address as given.
        addr: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The network node failed to start or stop.
    Net(gossip_net::NetError),
    /// The HTTP listener could not be bound.
    Http {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::NoKey => write!(
                f,
                "no cluster key: pass --key-file FILE (make one with `gossip-agent keygen > FILE` \
                 and give the same file to every agent), or --insecure to run without \
                 encryption or authentication (only on a network you trust)"
            ),
            AgentError::Key { path, reason } => write!(f, "cluster key file {path}: {reason}"),
            AgentError::Resolve { addr, reason } => {
                write!(f, "cannot resolve join address {addr}: {reason}")
            }
            AgentError::Net(e) => write!(f, "network: {e}"),
            AgentError::Http { addr, source } => {
                write!(f, "cannot listen for HTTP on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for AgentError {}

impl From<gossip_net::NetError> for AgentError {
    fn from(e: gossip_net::NetError) -> Self {
        AgentError::Net(e)
    }
}

/// An HTTP error answer: `{"error": message, "code": code, ...}` with a status.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `wrong_type`.
    pub code: &'static str,
    /// What happened and what to do, for people.
    pub message: String,
    /// More fields for the body (e.g. the acknowledgement level reached).
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 409 `wrong_type`: the request is for another kind of value than the name holds.
    pub fn wrong_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "wrong_type", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("error".into(), Value::String(self.message));
        body.insert("code".into(), Value::String(self.code.into()));
        (self.status, JsonLine(Value::Object(body))).into_response()
    }
}

/// A JSON answer ending in a newline, so that `curl` output in a terminal ends its line.
#[derive(Debug)]
pub struct JsonLine(pub Value);

impl IntoResponse for JsonLine {
    fn into_response(self) -> Response {
        let mut text = self.0.to_string();
        text.push('\n');
        ([(header::CONTENT_TYPE, "application/json")], text).into_response()
    }
}
