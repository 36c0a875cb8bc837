//! Maelstrom's network statistics: send, recv and message counts for all traffic, client
//! traffic and server traffic, and msgs-per-op for `all` and `servers`, where an op is any
//! client invocation (final reads included). Always valid.

use serde_json::{Map, Value, json};

use crate::journal::{GroupCounts, Journal};

fn group(g: &GroupCounts, op_count: Option<usize>) -> Value {
    let mut m = Map::new();
    m.insert("send-count".into(), json!(g.send_count));
    m.insert("recv-count".into(), json!(g.recv_count));
    m.insert("msg-count".into(), json!(g.msg_count));
    if let Some(ops) = op_count {
        let per_op = if ops == 0 {
            Value::Null
        } else {
            json!(g.msg_count as f64 / ops as f64)
        };
        m.insert("msgs-per-op".into(), per_op);
    }
    Value::Object(m)
}

/// The `net` result.
pub fn check(journal: &Journal, op_count: usize) -> Value {
    json!({
        "all": group(&journal.all, Some(op_count)),
        "clients": group(&journal.clients, None),
        "servers": group(&journal.servers, Some(op_count)),
        "valid?": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgs_per_op_only_for_all_and_servers() {
        let mut j = Journal::new();
        j.all = GroupCounts {
            send_count: 30,
            recv_count: 28,
            msg_count: 30,
        };
        j.clients = GroupCounts {
            send_count: 10,
            recv_count: 10,
            msg_count: 10,
        };
        j.servers = GroupCounts {
            send_count: 20,
            recv_count: 18,
            msg_count: 20,
        };
        let r = check(&j, 5);
        assert_eq!(r["all"]["msgs-per-op"], json!(6.0));
        assert_eq!(r["servers"]["msgs-per-op"], json!(4.0));
        assert!(r["clients"].get("msgs-per-op").is_none());
        assert_eq!(r["servers"]["recv-count"], json!(18));
        assert_eq!(check(&j, 0)["all"]["msgs-per-op"], Value::Null);
    }
}
