//! Maelstrom's error codes (the "errors" section of its protocol), as an enum.

use serde::{Deserialize, Serialize};

/// An error code in an `error` reply. Codes below 1000 are Maelstrom's; 1000 and above are
/// application codes and always count as indefinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u32", into = "u32")]
pub enum ErrorCode {
    /// 0: could not finish in time (indefinite).
    Timeout,
    /// 1: the destination node does not exist.
    NodeNotFound,
    /// 10: the request type is not supported.
    NotSupported,
    /// 11: definitely cannot be done right now.
    TemporarilyUnavailable,
    /// 12: the request is malformed.
    MalformedRequest,
    /// 13: generic indefinite failure.
    Crash,
    /// 14: generic definite failure.
    Abort,
    /// 20: the key does not exist.
    KeyDoesNotExist,
    /// 21: the key already exists.
    KeyAlreadyExists,
    /// 22: a precondition (e.g. a compare-and-set's `from`) did not hold.
    PreconditionFailed,
    /// 30: a transaction conflicted.
    TxnConflict,
    /// Any other code.
    Other(u32),
}

impl ErrorCode {
    /// `true` iff the operation definitely did not happen.
    pub fn is_definite(self) -> bool {
        matches!(
            self,
            ErrorCode::NodeNotFound
                | ErrorCode::NotSupported
                | ErrorCode::TemporarilyUnavailable
                | ErrorCode::MalformedRequest
                | ErrorCode::Abort
                | ErrorCode::KeyDoesNotExist
                | ErrorCode::KeyAlreadyExists
                | ErrorCode::PreconditionFailed
                | ErrorCode::TxnConflict
        )
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        match code {
            0 => ErrorCode::Timeout,
            1 => ErrorCode::NodeNotFound,
            10 => ErrorCode::NotSupported,
            11 => ErrorCode::TemporarilyUnavailable,
            12 => ErrorCode::MalformedRequest,
            13 => ErrorCode::Crash,
            14 => ErrorCode::Abort,
            20 => ErrorCode::KeyDoesNotExist,
            21 => ErrorCode::KeyAlreadyExists,
            22 => ErrorCode::PreconditionFailed,
            30 => ErrorCode::TxnConflict,
            other => ErrorCode::Other(other),
        }
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> u32 {
        match code {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(c) => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [0u32, 1, 10, 11, 12, 13, 14, 20, 21, 22, 30, 1000, 7] {
            assert_eq!(u32::from(ErrorCode::from(code)), code);
        }
        assert!(ErrorCode::MalformedRequest.is_definite());
        assert!(!ErrorCode::Crash.is_definite());
        assert!(!ErrorCode::Other(1000).is_definite());
    }
}
