//! `lin-kv`: a linearizable key-value store, i.e. a single map updated atomically.

use serde_json::Value;

use super::kv::{self, KvResult, KvState};

/// The lin-kv service.
#[derive(Debug, Default)]
pub struct LinKv {
    state: KvState,
}

impl LinKv {
    /// Handle one request; `Err` for a request type it does not know (no reply).
    pub fn handle(&mut self, body: &Value) -> Result<Value, String> {
        match kv::apply(&self.state, body, true) {
            KvResult::Unchanged(reply) => Ok(reply),
            KvResult::Changed(reply, next) => {
                self.state = next;
                Ok(reply)
            }
            KvResult::Unsupported(why) => Err(why),
        }
    }
}
