//! Maelstrom's error code registry: names and whether each code is definite.
//!
//! A definite error means the operation certainly did not happen; the client maps it to
//! `fail`. Anything else (including every user code ≥ 1000 and unknown codes) is indefinite.

/// A registered error: its name and definiteness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The numeric code.
    pub code: i64,
    /// Maelstrom's keyword name, e.g. `temporarily-unavailable`.
    pub name: &'static str,
    /// Whether the operation definitely did not take place.
    pub definite: bool,
}

const REGISTRY: [(i64, &str, bool); 11] = [
    (0, "timeout", false),
    (1, "node-not-found", true),
    (10, "not-supported", true),
    (11, "temporarily-unavailable", true),
    (12, "malformed-request", true),
    (13, "crash", false),
    (14, "abort", true),
    (20, "key-does-not-exist", true),
    (21, "key-already-exists", true),
    (22, "precondition-failed", true),
    (30, "txn-conflict", true),
];

/// Look a code up; unknown codes are `unknown` and indefinite.
pub fn lookup(code: i64) -> ErrorCode {
    REGISTRY
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(code, name, definite)| ErrorCode {
            code,
            name,
            definite,
        })
        .unwrap_or(ErrorCode {
            code,
            name: "unknown",
            definite: false,
        })
}

/// The code for a missing key.
pub const KEY_DOES_NOT_EXIST: i64 = 20;
/// The code for a failed compare-and-set.
pub const PRECONDITION_FAILED: i64 = 22;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry() {
        assert!(lookup(11).definite);
        assert_eq!(lookup(11).name, "temporarily-unavailable");
        assert!(!lookup(13).definite);
        assert!(!lookup(0).definite);
        assert_eq!(lookup(1001).name, "unknown");
        assert!(!lookup(1001).definite);
        assert!(!lookup(5).definite);
    }
}
