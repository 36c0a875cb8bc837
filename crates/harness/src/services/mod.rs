//! The built-in services (§8): `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`, always present.
//!
//! Nodes reach them like any endpoint; their traffic gets latency, counts as server traffic,
//! and is never partitioned. Each service answers a request with a body (the engine adds
//! `in_reply_to`); an unknown request type is logged and gets no reply, as in Maelstrom.

mod kv;
mod seq_kv;

use std::collections::HashMap;

use rand::RngExt;
use serde_json::{Value, json};

use crate::ids::Service;
use crate::rng::Rng;

pub use kv::{KvResult, KvState, apply as apply_kv};
pub use seq_kv::SeqKv;

/// lww-kv's replica count (Maelstrom's code says 2; its docs say 5).
const LWW_REPLICAS: usize = 2;

/// One value with its write stamp, for last-write-wins merges.
type Stamped = HashMap<String, (u64, Value)>;

/// All four services.
#[derive(Debug)]
pub struct Services {
    lin: KvState,
    seq: SeqKv,
    lww: Vec<(KvState, Stamped)>,
    lww_clock: u64,
    tso: u64,
    rng: Rng,
}

impl Services {
    /// Fresh services drawing randomness from `rng`.
    pub fn new(rng: Rng) -> Services {
        Services {
            lin: KvState::new(),
            seq: SeqKv::new(),
            lww: vec![(KvState::new(), Stamped::new()); LWW_REPLICAS],
            lww_clock: 0,
            tso: 0,
            rng,
        }
    }

    /// Handle a request from `caller` (its wire id). `Err` explains a request that gets no reply.
    pub fn handle(&mut self, svc: Service, caller: &str, body: &Value) -> Result<Value, String> {
        match svc {
            Service::LinKv => match kv::apply(&self.lin, body, true) {
                KvResult::Unchanged(r) => Ok(r),
                KvResult::Changed(r, next) => {
                    self.lin = next;
                    Ok(r)
                }
                KvResult::Unsupported(why) => Err(why),
            },
            Service::SeqKv => self.seq.handle(caller, body, &mut self.rng),
            Service::LwwKv => self.lww(body),
            Service::LinTso => match body.get("type").and_then(Value::as_str) {
                Some("ts") => {
                    let ts = self.tso;
                    self.tso += 1;
                    Ok(json!({"type": "ts_ok", "ts": ts}))
                }
                other => Err(format!("unknown request type {other:?}")),
            },
        }
    }

    fn lww(&mut self, body: &Value) -> Result<Value, String> {
        // Anti-entropy step: merge one random replica into another.
        let (a, b) = (
            self.rng.random_range(0..LWW_REPLICAS),
            self.rng.random_range(0..LWW_REPLICAS),
        );
        if a != b {
            let src = self.lww[a].1.clone();
            let (state, stamps) = &mut self.lww[b];
            for (k, (ts, v)) in src {
                if stamps.get(&k).is_none_or(|(mine, _)| *mine < ts) {
                    state.insert(k.clone(), v.clone());
                    stamps.insert(k, (ts, v));
                }
            }
        }
        let r = self.rng.random_range(0..LWW_REPLICAS);
        match kv::apply(&self.lww[r].0, body, false) {
            KvResult::Unchanged(reply) => Ok(reply),
            KvResult::Changed(reply, next) => {
                self.lww_clock += 1;
                let (state, stamps) = &mut self.lww[r];
                for (k, v) in &next {
                    if state.get(k) != Some(v) {
                        stamps.insert(k.clone(), (self.lww_clock, v.clone()));
                    }
                }
                *state = next;
                Ok(reply)
            }
            KvResult::Unsupported(why) => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tso_counts_and_unknown_types_get_no_reply() {
        let mut s = Services::new(Rng::seed_from_u64(1));
        assert_eq!(
            s.handle(Service::LinTso, "n1", &json!({"type":"ts"})),
            Ok(json!({"type":"ts_ok","ts":0}))
        );
        assert_eq!(
            s.handle(Service::LinTso, "n1", &json!({"type":"ts"})),
            Ok(json!({"type":"ts_ok","ts":1}))
        );
        assert!(
            s.handle(Service::LinKv, "n1", &json!({"type":"nope"}))
                .is_err()
        );
    }

    #[test]
    fn lin_kv_is_linearizable() {
        let mut s = Services::new(Rng::seed_from_u64(1));
        let _ = s.handle(
            Service::LinKv,
            "n1",
            &json!({"type":"write","key":"k","value":1}),
        );
        assert_eq!(
            s.handle(Service::LinKv, "n2", &json!({"type":"read","key":"k"})),
            Ok(json!({"type":"read_ok","value":1}))
        );
    }

    #[test]
    fn lww_kv_converges() {
        let mut s = Services::new(Rng::seed_from_u64(2));
        let _ = s.handle(
            Service::LwwKv,
            "n1",
            &json!({"type":"write","key":"k","value":1}),
        );
        let mut seen = false;
        for _ in 0..100 {
            if s.handle(Service::LwwKv, "n2", &json!({"type":"read","key":"k"}))
                == Ok(json!({"type":"read_ok","value":1}))
            {
                seen = true;
                break;
            }
        }
        assert!(seen, "the write eventually becomes visible");
    }
}
