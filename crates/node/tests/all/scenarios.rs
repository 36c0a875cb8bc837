//! Request/response scenarios as data: for each workload, a list of input lines and the exact
//! replies expected (compared as JSON values). Single-node clusters, so no gossip interleaves.

use gossip_node::{Birth, Node, Options};
use gossip_transport::Time;
use serde_json::Value;

struct Scenario {
    name: &'static str,
    args: &'static [&'static str],
    /// `(input, expected outputs)`.
    steps: &'static [(&'static str, &'static [&'static str])],
}

const INIT: &str = r#"{"id":0,"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1"],"msg_id":1}}"#;
const INIT_OK: &str =
    r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":1}}"#;

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "echo",
        args: &["echo"],
        steps: &[
            (INIT, &[INIT_OK]),
            (
                r#"{"id":3,"src":"c1","dest":"n1","body":{"type":"echo","echo":"Please echo 35","msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":"Please echo 35","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"echo","echo":{"nested":[1,2]},"msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":{"nested":[1,2]},"in_reply_to":2,"msg_id":3}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":12,"text":"`echo` needs an `echo` field","in_reply_to":3,"msg_id":4}}"#,
                ],
            ),
        ],
    },
    Scenario {
        name: "broadcast",
        args: &["broadcast"],
        steps: &[
            (INIT, &[INIT_OK]),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"topology","topology":{"n1":[]},"msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"topology_ok","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"read","msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"read_ok","messages":[],"in_reply_to":1,"msg_id":3}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"broadcast","message":7,"msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"broadcast_ok","in_reply_to":2,"msg_id":4}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"broadcast","message":3,"msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"broadcast_ok","in_reply_to":3,"msg_id":5}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"read","msg_id":4}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"read_ok","messages":[3,7],"in_reply_to":4,"msg_id":6}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"broadcast","message":"seven","msg_id":5}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"error","code":12,"text":"`message` must be an integer, got \"seven\"","in_reply_to":5,"msg_id":7}}"#,
                ],
            ),
            (
                r#"{"src":"c2","dest":"n1","body":{"type":"topology","topology":[],"msg_id":6}}"#,
                &[
                    r#"{"src":"n1","dest":"c2","body":{"type":"error","code":12,"text":"`topology` needs a `topology` object","in_reply_to":6,"msg_id":8}}"#,
                ],
            ),
        ],
    },
    Scenario {
        name: "g-set",
        args: &["g-set"],
        steps: &[
            (INIT, &[INIT_OK]),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","element":4,"msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","element":4,"msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":2,"msg_id":3}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"read_ok","value":[4],"in_reply_to":3,"msg_id":4}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":4}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":12,"text":"`add` is missing its `element` field","in_reply_to":4,"msg_id":5}}"#,
                ],
            ),
        ],
    },
    Scenario {
        name: "pn-counter",
        args: &["pn-counter"],
        steps: &[
            (INIT, &[INIT_OK]),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":-5,"msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":0,"msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":2,"msg_id":3}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":3,"msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":3,"msg_id":4}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":4}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"read_ok","value":-2,"in_reply_to":4,"msg_id":5}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":1.5,"msg_id":5}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":12,"text":"`delta` must be an integer, got 1.5","in_reply_to":5,"msg_id":6}}"#,
                ],
            ),
        ],
    },
    Scenario {
        name: "g-counter",
        args: &["g-counter"],
        steps: &[
            (INIT, &[INIT_OK]),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":4,"msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"add_ok","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"add","delta":-1,"msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":12,"text":"a g-counter only grows: delta -1 is negative","in_reply_to":2,"msg_id":3}}"#,
                ],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"read_ok","value":4,"in_reply_to":3,"msg_id":4}}"#,
                ],
            ),
        ],
    },
    Scenario {
        name: "protocol edge cases",
        args: &["g-set"],
        steps: &[
            // Before init: an error, addressed from whatever the client called us.
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":1}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":11,"text":"not initialised yet: send init first","in_reply_to":1,"msg_id":1}}"#,
                ],
            ),
            (
                INIT,
                &[
                    r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":2}}"#,
                ],
            ),
            // Not JSON, not an object, no type, no body: logged, no reply.
            ("this is not json", &[]),
            ("[1,2,3]", &[]),
            (r#"{"src":"c1","dest":"n1","body":{"msg_id":9}}"#, &[]),
            (r#"{"src":"c1","dest":"n1"}"#, &[]),
            // Unknown type: not supported.
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"cas","msg_id":2}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"error","code":10,"text":"the g-set workload has no `cas` request","in_reply_to":2,"msg_id":3}}"#,
                ],
            ),
            // A reply is never answered; a request without msg_id gets no reply.
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read_ok","in_reply_to":5}}"#,
                &[],
            ),
            (r#"{"src":"c1","dest":"n1","body":{"type":"read"}}"#, &[]),
            // Garbage gossip is dropped; the node still answers.
            (
                r#"{"src":"n2","dest":"n1","body":{"type":"gossip","inc":"x"}}"#,
                &[],
            ),
            (
                r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3}}"#,
                &[
                    r#"{"src":"n1","dest":"c1","body":{"type":"read_ok","value":[],"in_reply_to":3,"msg_id":4}}"#,
                ],
            ),
        ],
    },
];

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON in a scenario ({e}): {line}"))
}

#[test]
fn every_scenario_gets_exactly_the_expected_replies() {
    for scenario in SCENARIOS {
        let options = Options::parse(scenario.args).expect("scenario arguments are valid");
        let mut node = Node::new(options, Birth { seed: 1, life: 1 });
        for (i, (input, expected)) in scenario.steps.iter().enumerate() {
            node.handle_line(Time::from_millis(i as u64), input);
            let got: Vec<Value> = std::iter::from_fn(|| node.poll_output())
                .map(|l| json(&l))
                .collect();
            let want: Vec<Value> = expected.iter().map(|l| json(l)).collect();
            assert_eq!(got, want, "scenario `{}`, step {i}: {input}", scenario.name);
        }
    }
}

#[test]
fn a_node_started_without_a_workload_infers_it() {
    let mut node = Node::new(Options::default(), Birth { seed: 1, life: 1 });
    node.handle_line(Time::ZERO, INIT);
    node.handle_line(
        Time::ZERO,
        r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":1}}"#,
    );
    node.handle_line(
        Time::ZERO,
        r#"{"src":"c1","dest":"n1","body":{"type":"add","element":1,"msg_id":2}}"#,
    );
    node.handle_line(
        Time::ZERO,
        r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3}}"#,
    );
    let out: Vec<Value> = std::iter::from_fn(|| node.poll_output())
        .map(|l| json(&l))
        .collect();
    assert_eq!(
        out[1]["body"]["code"], 11,
        "a read before the workload is known is refused"
    );
    assert_eq!(out[2]["body"]["type"], "add_ok");
    assert_eq!(out[3]["body"]["value"], serde_json::json!([1]));
    assert_eq!(node.workload(), Some(gossip_node::WorkloadKind::GSet));
}
