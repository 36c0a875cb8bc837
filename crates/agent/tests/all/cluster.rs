//! Three agents on loopback: every kind replicates, siblings from concurrent register
//! writes resolve through a context, watchers see remote changes, acknowledgement levels
//! wait for the other members, and an agent with another key is kept out.

use crate::common;

use std::net::SocketAddr;

use common::{Watch, call, eventually, key, start};
use gossip_agent::{Agent, Security};
use serde_json::{Value, json};

async fn three(security: &Security) -> Vec<Agent> {
    let first = start(security.clone(), vec![]).await;
    let seed = first.node().local_addr();
    let second = start(security.clone(), vec![seed]).await;
    let third = start(security.clone(), vec![seed]).await;
    let agents = vec![first, second, third];
    for agent in &agents {
        wait_for_alive(agent.http_addr(), agents.len()).await;
    }
    agents
}

async fn wait_for_alive(addr: SocketAddr, n: usize) {
    eventually(addr, "/v1/members", "members alive", |_, body| {
        alive(body) >= n
    })
    .await;
}

fn alive(members: &Value) -> usize {
    members["members"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["state"] == "alive").count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_replicates_and_register_siblings_resolve_through_a_context() {
    let agents = three(&key()).await;
    let [a, b, c] = [0, 1, 2].map(|i| agents[i].http_addr());

    let mut watch_c = Watch::open(c, "").await;
    call(a, "POST", "/v1/sets/s", Some(json!({"add": ["x", "y"]}))).await;
    call(b, "POST", "/v1/counters/n", Some(json!({"increment": 4}))).await;
    call(c, "POST", "/v1/counters/n", Some(json!({"increment": -1}))).await;
    for addr in [a, b, c] {
        eventually(addr, "/v1/sets/s", "set replicated", |s, body| {
            s == 200 && body["value"] == json!(["x", "y"])
        })
        .await;
        eventually(addr, "/v1/counters/n", "counter replicated", |s, body| {
            s == 200 && body["value"] == json!(3)
        })
        .await;
    }
    // C's watcher saw A's set write, marked with the member that passed it on.
    let others = [0, 1].map(|i| json!(agents[i].node().id().to_string()));
    loop {
        let (event, data) = watch_c.next().await;
        if event == "change" && data["name"] == "s" {
            assert!(others.contains(&data["from"]), "from {}", data["from"]);
            assert_eq!(data["kind"], "sets");
            break;
        }
    }

    // A conflict: two clients read the same context from different agents and both write.
    call(
        a,
        "PUT",
        "/v1/registers/title",
        Some(json!({"value": "Draft"})),
    )
    .await;
    let read = eventually(
        b,
        "/v1/registers/title",
        "register replicated",
        |s, body| s == 200 && body["values"] == json!(["Draft"]),
    )
    .await;
    let context = read["context"].clone();
    call(
        a,
        "PUT",
        "/v1/registers/title",
        Some(json!({"value": "A", "context": context})),
    )
    .await;
    call(
        b,
        "PUT",
        "/v1/registers/title",
        Some(json!({"value": "B", "context": context})),
    )
    .await;
    let both = eventually(c, "/v1/registers/title", "siblings on c", |_, body| {
        body["values"] == json!(["A", "B"])
    })
    .await;
    let resolve = json!({"value": "A and B", "context": both["context"]});
    let (status, _) = call(
        c,
        "PUT",
        "/v1/registers/title?ack=replicated",
        Some(resolve),
    )
    .await;
    assert_eq!(status, 200);
    for addr in [a, b, c] {
        eventually(
            addr,
            "/v1/registers/title",
            "resolved everywhere",
            |_, body| body["values"] == json!(["A and B"]),
        )
        .await;
    }

    // A delete spreads too.
    call(b, "DELETE", "/v1/sets/s", None).await;
    for addr in [a, b, c] {
        eventually(addr, "/v1/sets/s", "delete replicated", |s, _| s == 404).await;
    }
    // C's watcher is told, with the name and no value.
    loop {
        let (_, data) = watch_c.next().await;
        if data["name"] == "s" && data["value"].is_null() {
            assert_eq!(data["kind"], "sets");
            break;
        }
    }
    for agent in agents {
        agent.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicated_waits_for_another_member_and_times_out_with_503_when_alone() {
    let security = key();
    let mut agents = three(&security).await;
    let a = agents[0].http_addr();
    let seed = agents[0].node().local_addr();
    let (status, body) = call(
        a,
        "POST",
        "/v1/sets/s?ack=replicated",
        Some(json!({"add": [1]})),
    )
    .await;
    assert_eq!(
        (status, &body["ack"]),
        (200, &json!("replicated")),
        "{body}"
    );

    // The others stop: nobody can hold a new write.
    for agent in agents.drain(1..) {
        agent.shutdown().await.expect("shutdown");
    }
    let (status, body) = call(
        a,
        "POST",
        "/v1/sets/s?ack=replicated&timeout_ms=1000",
        Some(json!({"add": [2]})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("ack_timeout")),
        "{body}"
    );
    assert_eq!(body["reached"], "local");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("will still spread"))
    );
    // Applied locally all the same.
    let (_, read) = call(a, "GET", "/v1/sets/s", None).await;
    assert_eq!(read["value"], json!([1, 2]));

    // A write that waits long enough succeeds once a member comes back.
    let waiting = tokio::spawn(async move {
        call(
            a,
            "POST",
            "/v1/sets/s?ack=replicated&timeout_ms=30000",
            Some(json!({"add": [3]})),
        )
        .await
    });
    let back = start(security, vec![seed]).await;
    let (status, body) = waiting.await.expect("writer task");
    assert_eq!(
        (status, &body["ack"]),
        (200, &json!("replicated")),
        "{body}"
    );
    // And the write that timed out reached the new member as well.
    eventually(
        back.http_addr(),
        "/v1/sets/s",
        "everything spread",
        |_, body| body["value"] == json!([1, 2, 3]),
    )
    .await;
    back.shutdown().await.expect("shutdown");
    agents.remove(0).shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_another_key_is_kept_out() {
    let security = key();
    let agents = three(&security).await;
    let [a, b] = [0, 1].map(|i| agents[i].http_addr());
    let intruder = start(key(), vec![agents[0].node().local_addr()]).await;
    let i = intruder.http_addr();
    call(
        i,
        "POST",
        "/v1/sets/s",
        Some(json!({"add": ["from intruder"]})),
    )
    .await;
    call(a, "POST", "/v1/sets/s", Some(json!({"add": ["from a"]}))).await;

    // A refuses the intruder's packets (it keeps trying to join) ...
    let refused = |body: &str| -> u64 {
        body.lines()
            .filter(|l| l.starts_with("gossip_net_refused_unsealed_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let metrics = common::call_raw(a, "GET", "/metrics", None).await;
        if refused(&metrics.body) > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refused packets counted:\n{}",
            metrics.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // ... while B, a proper member, has A's write.
    eventually(b, "/v1/sets/s", "a's write at b", |_, body| {
        body["value"] == json!(["from a"])
    })
    .await;
    let intruder_id = intruder.node().id().to_string();
    for addr in [a, b] {
        let (_, members) = call(addr, "GET", "/v1/members", None).await;
        assert!(
            !members["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["id"] == json!(intruder_id))),
            "the intruder is listed: {members}"
        );
    }
    let (_, mine) = call(i, "GET", "/v1/sets/s", None).await;
    assert_eq!(mine["value"], json!(["from intruder"]));
    intruder.shutdown().await.expect("shutdown");
    for agent in agents {
        agent.shutdown().await.expect("shutdown");
    }
}

/// Starts an agent with the test fault layer on (no loss, only per-peer blocking).
async fn start_testing(security: Security, seeds: Vec<SocketAddr>) -> Agent {
    Agent::start(gossip_agent::AgentConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        seeds,
        data_dir: None,
        security,
        preset: gossip_net::Preset::Lan,
        test_faults: Some(gossip_net::Faults::NONE),
    })
    .await
    .expect("agent starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_fault_layer_cuts_chosen_peers_until_healed() {
    let security = key();
    let a = start_testing(security.clone(), vec![]).await;
    let b = start_testing(security.clone(), vec![a.node().local_addr()]).await;
    let plain = start(security, vec![a.node().local_addr()]).await;
    for agent in [&a, &b, &plain] {
        wait_for_alive(agent.http_addr(), 3).await;
    }
    // Without the test flag the endpoint does not exist.
    let (status, _) = call(plain.http_addr(), "GET", "/v1/test/blocked", None).await;
    assert_eq!(status, 404);
    let (status, body) = call(
        a.http_addr(),
        "PUT",
        "/v1/test/blocked",
        Some(json!({"peers": ["nonsense"]})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_addr")));

    // a sends nothing to the other two: its writes cannot be acknowledged as replicated.
    let others = json!({"peers": [b.node().local_addr().to_string(), plain.node().local_addr().to_string()]});
    let (status, body) = call(a.http_addr(), "PUT", "/v1/test/blocked", Some(others)).await;
    assert_eq!((status, body["blocked"].as_u64()), (200, Some(2)), "{body}");
    let (_, body) = call(a.http_addr(), "GET", "/v1/test/blocked", None).await;
    assert_eq!(body["peers"].as_array().map(Vec::len), Some(2));
    let write = json!({"add": ["cut"]});
    let path = "/v1/sets/s?ack=replicated&timeout_ms=500";
    let (status, body) = call(a.http_addr(), "POST", path, Some(write)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("ack_timeout")),
        "{body}"
    );
    let (status, _) = call(b.http_addr(), "GET", "/v1/sets/s", None).await;
    assert_eq!(status, 404, "the blocked write reached b");

    // Healed: the write spreads and the next one is acknowledged.
    let (status, _) = call(
        a.http_addr(),
        "PUT",
        "/v1/test/blocked",
        Some(json!({"peers": []})),
    )
    .await;
    assert_eq!(status, 200);
    eventually(
        b.http_addr(),
        "/v1/sets/s",
        "the write after healing",
        |s, body| s == 200 && body["value"] == json!(["cut"]),
    )
    .await;
    let path = "/v1/sets/s?ack=replicated&timeout_ms=5000";
    let (status, body) = call(
        a.http_addr(),
        "POST",
        path,
        Some(json!({"add": ["healed"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
