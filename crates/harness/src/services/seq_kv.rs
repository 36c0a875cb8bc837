//! `seq-kv`: sequentially consistent, so reads may be stale but never go back in time for
//! one caller.
//!
//! The service keeps its last 32 states. Each caller has a last-seen state. A request is tried
//! on a random state between that one and the newest; if it changes nothing it is answered from
//! there (possibly stale), otherwise it is re-run on the newest state, whose result is appended.
//! This is Maelstrom's model, and what makes naive g-counter solutions fail as they do there.

use std::collections::{HashMap, VecDeque};

use rand::RngExt;
use serde_json::Value;

use super::kv::{self, KvResult, KvState};
use crate::rng::Rng;

/// How many past states are kept.
const HISTORY: usize = 32;

/// The seq-kv service.
#[derive(Debug)]
pub struct SeqKv {
    /// `(version, state)`, oldest first; never empty.
    states: VecDeque<(u64, KvState)>,
    last_seen: HashMap<String, u64>,
}

impl Default for SeqKv {
    fn default() -> Self {
        SeqKv::new()
    }
}

impl SeqKv {
    /// An empty store.
    pub fn new() -> SeqKv {
        SeqKv {
            states: VecDeque::from([(0, KvState::new())]),
            last_seen: HashMap::new(),
        }
    }

    /// Handle one request from `caller`.
    pub fn handle(&mut self, caller: &str, body: &Value, rng: &mut Rng) -> Result<Value, String> {
        let oldest = self.states.front().map_or(0, |s| s.0);
        let newest = self.states.back().map_or(0, |s| s.0);
        let from = self
            .last_seen
            .get(caller)
            .copied()
            .unwrap_or(oldest)
            .clamp(oldest, newest);
        let version = rng.random_range(from..=newest);
        let pos = (version - oldest) as usize;
        let chosen = self
            .states
            .get(pos)
            .map(|s| &s.1)
            .ok_or("seq-kv lost a state")?;
        match kv::apply(chosen, body, true) {
            KvResult::Unsupported(why) => Err(why),
            KvResult::Unchanged(reply) => {
                self.last_seen.insert(caller.to_owned(), version);
                Ok(reply)
            }
            KvResult::Changed(..) => {
                let latest = self
                    .states
                    .back()
                    .map(|s| &s.1)
                    .ok_or("seq-kv lost a state")?;
                let reply = match kv::apply(latest, body, true) {
                    KvResult::Unsupported(why) => return Err(why),
                    KvResult::Unchanged(reply) => reply,
                    KvResult::Changed(reply, next) => {
                        self.states.push_back((newest + 1, next));
                        if self.states.len() > HISTORY {
                            self.states.pop_front();
                        }
                        reply
                    }
                };
                let now_newest = self.states.back().map_or(newest, |s| s.0);
                self.last_seen.insert(caller.to_owned(), now_newest);
                Ok(reply)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    #[test]
    fn reads_are_monotonic_per_caller_and_can_be_stale() {
        let mut rng = Rng::seed_from_u64(5);
        let mut s = SeqKv::new();
        let mut stale_seen = false;
        for i in 0..200 {
            let _ = s.handle("n1", &json!({"type":"write","key":"k","value":i}), &mut rng);
            // n1 wrote i, so its own reads never go below i.
            let r = s.handle("n1", &json!({"type":"read","key":"k"}), &mut rng);
            assert_eq!(r.ok().and_then(|v| v["value"].as_i64()), Some(i));
            let other = s.handle("n2", &json!({"type":"read","key":"k"}), &mut rng);
            if other.ok().and_then(|v| v["value"].as_i64()) != Some(i) {
                stale_seen = true;
            }
        }
        assert!(stale_seen, "another caller sometimes reads a stale value");
        let mut last = -1;
        for _ in 0..50 {
            let v = s
                .handle("n3", &json!({"type":"read","key":"k"}), &mut rng)
                .ok()
                .and_then(|v| v["value"].as_i64());
            let v = v.unwrap_or(-1);
            assert!(v >= last, "monotonic: {v} after {last}");
            last = v;
        }
    }
}
