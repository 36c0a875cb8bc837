//! `Rejection`: a request the node answers with a Maelstrom error.

use std::fmt;

use crate::protocol::ErrorCode;

/// A request refused with an `error` reply: the code and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The Maelstrom error code.
    pub code: ErrorCode,
    /// Why, for the person reading the history.
    pub text: String,
}

impl Rejection {
    /// A rejection with `code` and `text`.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Rejection {
            code,
            text: text.into(),
        }
    }

    /// Error 12: a field is missing or has the wrong type.
    pub fn malformed(text: impl Into<String>) -> Self {
        Rejection::new(ErrorCode::MalformedRequest, text)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", u32::from(self.code), self.text)
    }
}

impl std::error::Error for Rejection {}
