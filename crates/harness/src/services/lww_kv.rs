//! `lww-kv`: an eventually consistent store of replicas reconciled last-write-wins.
//!
//! On each request one random replica is merged into another (a write stamp decides), then
//! the request runs on a random replica. So reads can miss recent writes until anti-entropy
//! carries them over. It has no `create_if_not_exists`.

use std::collections::HashMap;

use rand::RngExt;
use serde_json::Value;

use super::kv::{self, KvResult, KvState};
use crate::rng::Rng;

/// The replica count (Maelstrom's code says 2; its docs say 5).
const REPLICAS: usize = 2;

/// Each key's value with its write stamp.
type Stamped = HashMap<String, (u64, Value)>;

/// The lww-kv service.
#[derive(Debug)]
pub struct LwwKv {
    replicas: Vec<(KvState, Stamped)>,
    clock: u64,
}

impl Default for LwwKv {
    fn default() -> Self {
        LwwKv::new()
    }
}

impl LwwKv {
    /// Empty replicas.
    pub fn new() -> LwwKv {
        LwwKv {
            replicas: vec![(KvState::new(), Stamped::new()); REPLICAS],
            clock: 0,
        }
    }

    /// Handle one request; `Err` for a request type it does not know (no reply).
    pub fn handle(&mut self, body: &Value, rng: &mut Rng) -> Result<Value, String> {
        let (a, b) = (rng.random_range(0..REPLICAS), rng.random_range(0..REPLICAS));
        if a != b {
            let src = self.replicas[a].1.clone();
            let (state, stamps) = &mut self.replicas[b];
            for (k, (ts, v)) in src {
                if stamps.get(&k).is_none_or(|(mine, _)| *mine < ts) {
                    state.insert(k.clone(), v.clone());
                    stamps.insert(k, (ts, v));
                }
            }
        }
        let r = rng.random_range(0..REPLICAS);
        match kv::apply(&self.replicas[r].0, body, false) {
            KvResult::Unchanged(reply) => Ok(reply),
            KvResult::Changed(reply, next) => {
                self.clock += 1;
                let (state, stamps) = &mut self.replicas[r];
                for (k, v) in &next {
                    if state.get(k) != Some(v) {
                        stamps.insert(k.clone(), (self.clock, v.clone()));
                    }
                }
                *state = next;
                Ok(reply)
            }
            KvResult::Unsupported(why) => Err(why),
        }
    }
}
