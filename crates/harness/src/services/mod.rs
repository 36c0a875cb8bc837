//! The built-in services: `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`, always present.
//!
//! Nodes reach them like any endpoint; their traffic gets latency, counts as server traffic,
//! and is never partitioned. Each service answers a request with a body (the engine adds
//! `in_reply_to`); an unknown request type is logged and gets no reply, as in Maelstrom.
//! One module per service; `kv` holds the operations the three stores share.
//! `docs/maelstrom.md`, "Services", describes them.

mod kv;
mod lin_kv;
mod lin_tso;
mod lww_kv;
mod seq_kv;

use serde_json::Value;

use crate::ids::Service;
use crate::rng::Rng;

pub use lin_kv::LinKv;
pub use lin_tso::LinTso;
pub use lww_kv::LwwKv;
pub use seq_kv::SeqKv;

/// All four services.
#[derive(Debug)]
pub struct Services {
    lin: LinKv,
    seq: SeqKv,
    lww: LwwKv,
    tso: LinTso,
    rng: Rng,
}

impl Services {
    /// Fresh services drawing randomness from `rng`.
    pub fn new(rng: Rng) -> Services {
        Services {
            lin: LinKv::default(),
            seq: SeqKv::new(),
            lww: LwwKv::new(),
            tso: LinTso::default(),
            rng,
        }
    }

    /// Handle a request from `caller` (its wire id). `Err` explains a request that gets no reply.
    pub fn handle(&mut self, svc: Service, caller: &str, body: &Value) -> Result<Value, String> {
        match svc {
            Service::LinKv => self.lin.handle(body),
            Service::SeqKv => self.seq.handle(caller, body, &mut self.rng),
            Service::LwwKv => self.lww.handle(body, &mut self.rng),
            Service::LinTso => self.tso.handle(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

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
