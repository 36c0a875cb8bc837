//! `lin-tso`: a linearizable timestamp oracle; `ts` returns 0, 1, 2, ...

use serde_json::{Value, json};

/// The lin-tso service.
#[derive(Debug, Default)]
pub struct LinTso {
    next: u64,
}

impl LinTso {
    /// Handle one request; `Err` for anything but `ts` (no reply).
    pub fn handle(&mut self, body: &Value) -> Result<Value, String> {
        match body.get("type").and_then(Value::as_str) {
            Some("ts") => {
                let ts = self.next;
                self.next += 1;
                Ok(json!({"type": "ts_ok", "ts": ts}))
            }
            other => Err(format!("unknown request type {other:?}")),
        }
    }
}
