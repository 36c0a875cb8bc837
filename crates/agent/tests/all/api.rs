//! One agent's HTTP API: every endpoint, register siblings and contexts, the watch stream,
//! and bad input answered with JSON errors while the agent keeps serving.

use crate::common;

use common::{Watch, call, call_raw, key, start};
use serde_json::json;

#[tokio::test]
async fn sets_add_remove_read_and_delete() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    let (status, body) = call(a, "GET", "/v1/sets/fruit", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    let add = json!({"add": ["pear", "apple", 3, {"b": 1, "a": [true, null]}, null]});
    let (status, body) = call(a, "POST", "/v1/sets/fruit", Some(add)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ack"], "local");
    assert_eq!(body["requested"], "local");
    let (status, body) = call(a, "GET", "/v1/sets/fruit", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["value"],
        json!([null, 3, "apple", "pear", {"a": [true, null], "b": 1}])
    );

    // An object is the same element whatever its key order.
    let remove = json!({"remove": ["pear", {"a": [true, null], "b": 1}]});
    let (status, _) = call(a, "POST", "/v1/sets/fruit", Some(remove)).await;
    assert_eq!(status, 200);
    let (_, body) = call(a, "GET", "/v1/sets/fruit", None).await;
    assert_eq!(body["value"], json!([null, 3, "apple"]));

    // Removing what is not there changes nothing.
    let (status, body) = call(
        a,
        "POST",
        "/v1/sets/fruit",
        Some(json!({"remove": ["kiwi"]})),
    )
    .await;
    assert_eq!((status, &body["changed"]), (200, &json!(false)));

    let (status, _) = call(a, "DELETE", "/v1/sets/fruit", None).await;
    assert_eq!(status, 200);
    let (status, _) = call(a, "GET", "/v1/sets/fruit", None).await;
    assert_eq!(status, 404);
    let (status, body) = call(a, "DELETE", "/v1/sets/fruit", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn counters_go_up_and_down_and_reset() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    for n in [5, -7, 1] {
        let (status, body) = call(
            a,
            "POST",
            "/v1/counters/visits",
            Some(json!({"increment": n})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, body) = call(a, "GET", "/v1/counters/visits", None).await;
    assert_eq!(body, json!({"value": -1}));
    let (status, _) = call(a, "DELETE", "/v1/counters/visits", None).await;
    assert_eq!(status, 200);
    let (status, _) = call(a, "GET", "/v1/counters/visits", None).await;
    assert_eq!(status, 404);
    call(
        a,
        "POST",
        "/v1/counters/visits",
        Some(json!({"increment": 2})),
    )
    .await;
    let (_, body) = call(a, "GET", "/v1/counters/visits", None).await;
    assert_eq!(body, json!({"value": 2}));
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn register_siblings_and_their_resolution_through_contexts() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    let (status, body) = call(
        a,
        "PUT",
        "/v1/registers/title",
        Some(json!({"value": "Draft"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, read) = call(a, "GET", "/v1/registers/title", None).await;
    assert_eq!(read["values"], json!(["Draft"]));
    let context = read["context"].clone();

    // Two clients read the same context and both write: neither saw the other, so both stay.
    let alice = json!({"value": "Alice's title", "context": context});
    let bob = json!({"value": "Bob's title", "context": context});
    assert_eq!(
        call(a, "PUT", "/v1/registers/title", Some(alice)).await.0,
        200
    );
    assert_eq!(
        call(a, "PUT", "/v1/registers/title", Some(bob)).await.0,
        200
    );
    let (_, read) = call(a, "GET", "/v1/registers/title", None).await;
    assert_eq!(read["values"], json!(["Alice's title", "Bob's title"]));

    // A write with the context that saw both replaces both.
    let merged = json!({"value": "Both titles", "context": read["context"]});
    let (status, body) = call(a, "PUT", "/v1/registers/title", Some(merged)).await;
    assert_eq!(status, 200);
    assert_eq!(body["values"], json!(["Both titles"]));
    let (_, read) = call(a, "GET", "/v1/registers/title", None).await;
    assert_eq!(read["values"], json!(["Both titles"]));

    // Without a context a write replaces what the agent holds.
    call(a, "PUT", "/v1/registers/title", Some(json!({"value": 42}))).await;
    let (_, read) = call(a, "GET", "/v1/registers/title", None).await;
    assert_eq!(read["values"], json!([42]));
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_input_gets_json_errors_and_the_agent_keeps_serving() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    call(a, "POST", "/v1/counters/n", Some(json!({"increment": 1}))).await;
    call(a, "POST", "/v1/sets/s", Some(json!({"add": [1]}))).await;

    let cases: Vec<(&str, &str, Option<&str>, u16, &str)> = vec![
        ("POST", "/v1/sets/s", Some("{\"add\": [1,"), 400, "bad_json"),
        ("POST", "/v1/sets/s", Some("[1]"), 400, "bad_json"),
        ("POST", "/v1/sets/s", Some("{\"add\": 1}"), 400, "bad_field"),
        (
            "POST",
            "/v1/sets/s",
            Some("{\"add\": [1], \"remove\": [2]}"),
            400,
            "bad_field",
        ),
        (
            "POST",
            "/v1/sets/s",
            Some("{\"bogus\": 1}"),
            400,
            "bad_field",
        ),
        // Wrong types: adding to a counter, incrementing a set, a name held as another kind.
        (
            "POST",
            "/v1/counters/n",
            Some("{\"add\": [1]}"),
            409,
            "wrong_type",
        ),
        (
            "POST",
            "/v1/sets/s",
            Some("{\"increment\": 1}"),
            409,
            "wrong_type",
        ),
        (
            "POST",
            "/v1/sets/n",
            Some("{\"add\": [1]}"),
            409,
            "wrong_type",
        ),
        (
            "PUT",
            "/v1/registers/s",
            Some("{\"value\": 1}"),
            409,
            "wrong_type",
        ),
        ("GET", "/v1/counters/s", None, 409, "wrong_type"),
        (
            "POST",
            "/v1/counters/n",
            Some("{\"increment\": 1.5}"),
            400,
            "bad_field",
        ),
        (
            "POST",
            "/v1/counters/n",
            Some("{\"increment\": \"1\"}"),
            400,
            "bad_field",
        ),
        (
            "POST",
            "/v1/counters/n",
            Some("{\"increment\": 99999999999999999999}"),
            400,
            "bad_field",
        ),
        ("PUT", "/v1/registers/r", Some("{}"), 400, "bad_field"),
        (
            "PUT",
            "/v1/registers/r",
            Some("{\"value\": 1, \"context\": \"x:y\"}"),
            400,
            "bad_context",
        ),
        (
            "PUT",
            "/v1/registers/r",
            Some("{\"value\": 1, \"context\": 5}"),
            400,
            "bad_context",
        ),
        (
            "POST",
            "/v1/registers/r",
            Some("{\"value\": 1}"),
            405,
            "method_not_allowed",
        ),
        (
            "PUT",
            "/v1/sets/s",
            Some("{\"add\": [1]}"),
            405,
            "method_not_allowed",
        ),
        ("GET", "/v1/maps/m", None, 404, "not_found"),
        ("GET", "/v2/nothing", None, 404, "not_found"),
        (
            "POST",
            "/v1/sets/s?ack=soon",
            Some("{\"add\": [1]}"),
            400,
            "bad_ack",
        ),
        (
            "POST",
            "/v1/sets/s?ack=durable",
            Some("{\"add\": [1]}"),
            400,
            "not_durable",
        ),
        (
            "POST",
            "/v1/sets/s?ack=all",
            Some("{\"add\": [1]}"),
            400,
            "not_durable",
        ),
        (
            "POST",
            "/v1/sets/s?timeout_ms=99999999",
            Some("{\"add\": [1]}"),
            400,
            "bad_timeout",
        ),
        (
            "POST",
            "/v1/sets/s?timeout_ms=soon",
            Some("{\"add\": [1]}"),
            400,
            "bad_query",
        ),
        ("PATCH", "/v1/sets/s", Some("{}"), 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let answer = call_raw(a, method, path, body.map(str::as_bytes)).await;
        let json = answer.json();
        assert_eq!(
            (answer.status, json["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}: {}",
            answer.body
        );
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    let long_name = format!("/v1/sets/{}", "x".repeat(300));
    let (status, body) = call(a, "GET", &long_name, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_name")));
    let control = "/v1/sets/a%0Ab";
    let (status, _) = call(a, "GET", control, None).await;
    assert_eq!(status, 400);

    let big = format!("{{\"add\": [\"{}\"]}}", "x".repeat(100 * 1024));
    let answer = call_raw(a, "POST", "/v1/sets/big", Some(big.as_bytes())).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let many = json!({"add": (0..1001).collect::<Vec<_>>()});
    let (status, body) = call(a, "POST", "/v1/sets/many", Some(many)).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")));

    // Still serving, and nothing bad was written.
    let (status, body) = call(a, "GET", "/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (_, names) = call(a, "GET", "/v1/names", None).await;
    assert_eq!(
        names,
        json!({"sets": ["s"], "counters": ["n"], "registers": []})
    );
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn watch_streams_changes_under_a_prefix() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    let mut watch = Watch::open(a, "orders/").await;
    call(
        a,
        "POST",
        "/v1/sets/orders%2F1",
        Some(json!({"add": ["book"]})),
    )
    .await;
    call(a, "POST", "/v1/sets/other", Some(json!({"add": ["x"]}))).await;
    call(
        a,
        "POST",
        "/v1/sets/orders%2F2",
        Some(json!({"add": ["pen"]})),
    )
    .await;
    call(a, "DELETE", "/v1/sets/orders%2F1", None).await;

    let (event, data) = watch.next().await;
    assert_eq!(event, "change");
    assert_eq!(
        (&data["kind"], &data["name"], &data["value"], &data["from"]),
        (
            &json!("sets"),
            &json!("orders/1"),
            &json!(["book"]),
            &json!("local")
        )
    );
    let (_, data) = watch.next().await;
    assert_eq!(
        (&data["name"], &data["value"]),
        (&json!("orders/2"), &json!(["pen"]))
    );
    let (_, data) = watch.next().await;
    assert_eq!(
        (&data["name"], &data["value"]),
        (&json!("orders/1"), &json!(null))
    );

    // Registers carry their context.
    let mut all = Watch::open(a, "").await;
    call(a, "PUT", "/v1/registers/doc", Some(json!({"value": "v"}))).await;
    let (_, data) = all.next().await;
    assert_eq!(
        (&data["kind"], &data["value"]),
        (&json!("registers"), &json!(["v"]))
    );
    assert!(data["context"].as_str().is_some_and(|c| !c.is_empty()));
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn members_metrics_and_health() {
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    let (status, body) = call(a, "GET", "/v1/members", None).await;
    assert_eq!(status, 200);
    let me = agent.node().id().to_string();
    assert_eq!(body["self"], json!(me));
    let members = body["members"].as_array().expect("a list");
    let mine = members
        .iter()
        .find(|m| m["id"] == json!(me))
        .expect("self listed");
    assert_eq!(mine["state"], "alive");
    assert_eq!(mine["self"], json!(true));
    assert_eq!(mine["incarnation"], json!(agent.node().incarnation()));
    assert!(
        mine["addr"]
            .as_str()
            .is_some_and(|s| s.contains("127.0.0.1"))
    );

    call(a, "POST", "/v1/counters/c", Some(json!({"increment": 1}))).await;
    for path in ["/v1/counters/c", "/v1/counters/none"] {
        let answer = call_raw(a, "GET", path, None).await;
        assert!(
            answer
                .headers
                .to_lowercase()
                .contains("content-type: application/json")
        );
        assert!(answer.body.ends_with("}\n"), "{:?}", answer.body);
    }
    let metrics = call_raw(a, "GET", "/metrics", None).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers.to_lowercase().contains("text/plain"));
    for line in [
        "gossip_agent_names{kind=\"counters\"} 1",
        "gossip_agent_members{state=\"alive\"}",
        "gossip_agent_http_responses_total{class=\"2xx\"}",
        // Alone, its writes are held by every member there is.
        "gossip_net_replication_lag_deltas 0\n",
        "gossip_net_replication_lag_ms 0\n",
    ] {
        assert!(
            metrics.body.contains(line),
            "no {line} in\n{}",
            metrics.body
        );
    }
    // Queue depths and lag are gauges, typed so for Prometheus.
    for gauge in [
        "tcp_queued_bytes",
        "tcp_queued_bytes_max",
        "replica_queued_deltas",
        "replication_lag_deltas",
        "replication_lag_ms",
        "members_alive",
    ] {
        let typed = format!("# TYPE gossip_net_{gauge} gauge\ngossip_net_{gauge} ");
        assert!(
            metrics.body.contains(&typed),
            "no {typed} in\n{}",
            metrics.body
        );
    }
    agent.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn durable_acknowledgements_with_a_data_dir_and_without() {
    // Without a data dir: durable and all are refused, nothing is applied, the default is
    // local.
    let agent = start(key(), vec![]).await;
    let a = agent.http_addr();
    for ack in ["durable", "all"] {
        let path = format!("/v1/counters/c?ack={ack}");
        let (status, body) = call(a, "POST", &path, Some(json!({"increment": 1}))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("not_durable")),
            "{body}"
        );
    }
    let (status, _) = call(a, "GET", "/v1/counters/c", None).await;
    assert_eq!(status, 404);
    let (status, body) = call(a, "POST", "/v1/counters/c", Some(json!({"increment": 1}))).await;
    assert_eq!((status, &body["ack"]), (200, &json!("local")));
    agent.shutdown().await.expect("shutdown");

    // With one: durable is the default, and says so.
    let dir = std::env::temp_dir().join(format!("gossip-agent-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let agent = gossip_agent::Agent::start(gossip_agent::AgentConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        seeds: vec![],
        data_dir: Some(dir.clone()),
        security: key(),
        preset: gossip_net::Preset::Lan,
        test_faults: None,
    })
    .await
    .expect("starts");
    let a = agent.http_addr();
    let (status, body) = call(a, "POST", "/v1/counters/c", Some(json!({"increment": 1}))).await;
    assert_eq!((status, &body["ack"]), (200, &json!("durable")), "{body}");
    let (status, body) = call(
        a,
        "POST",
        "/v1/counters/c?ack=durable",
        Some(json!({"increment": 1})),
    )
    .await;
    assert_eq!((status, &body["ack"]), (200, &json!("durable")), "{body}");
    // All: durable here, then no other member to hold it; the answer says how far it got.
    let (status, body) = call(
        a,
        "POST",
        "/v1/counters/c?ack=all&timeout_ms=200",
        Some(json!({"increment": 1})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str(), &body["reached"]),
        (503, Some("ack_timeout"), &json!("durable")),
        "{body}"
    );
    let metrics = call_raw(a, "GET", "/metrics", None).await;
    assert!(
        metrics
            .body
            .contains("gossip_net_store_durable_updates_total 3"),
        "{}",
        metrics.body
    );
    agent.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}
