//! gossip-harness: a Maelstrom-compatible test runner in Rust, so one command runs Maelstrom's
//! workloads with no JVM.
//!
//! It does what Maelstrom does, with Maelstrom's flags, defaults, semantics and output
//! vocabulary (`docs/maelstrom.md` is the user guide, and lists where this harness differs).
//! Any program that speaks the Maelstrom protocol on
//! stdin/stdout can be tested.
//!
//! # Usage
//!
//! ```text
//! gossip-harness test -w broadcast --bin ./my-node --node-count 25 --time-limit 20 \
//!     --rate 100 --latency 100 --nemesis partition [-- args for every node]
//! gossip-harness test -w broadcast            # no --bin: runs this project's own node
//! gossip-harness test --sim -w broadcast --node-count 25 --time-limit 20 --rate 100 \
//!     --latency 100 --nemesis partition,kill --p-loss 0.1 --seed 7   # simulated, in 0.2 s
//! gossip-harness scenario                      # the fault scenario suite, 100 seeds each
//! gossip-harness scenario kill-hub --seed 12   # replay one scenario run, with a store
//! gossip-harness agents -w g-set --node-count 5 --nemesis partition,kill  # real agents
//! ```
//!
//! Workloads: `echo`, `broadcast`, `g-set`, `g-counter`, `pn-counter`. Flags and defaults as in
//! Maelstrom: `--node-count` (unset: `n1..n5`), `--concurrency 1n`, `--time-limit 60`,
//! `--rate 5`, `--latency 0`, `--latency-dist constant|uniform|exponential`,
//! `--topology grid|line|total|tree2|tree3|tree4`, `--nemesis partition`,
//! `--nemesis-interval 10`, `--availability total|F`, `--log-stderr`, `--test-count 1`. Added:
//! `--seed N` (every random choice; printed with a replay command), `--recovery S` (quiet
//! period before the final reads, default 10), `--strict` (Maelstrom's behaviour on a bad
//! stdout line: ignore the node from then on), `--no-hol-blocking` (deliver each message at its
//! own deadline instead of Maelstrom's head-of-line blocking), `--store DIR`.
//!
//! # Simulation and faults
//!
//! `--sim` runs this project's node cores ([`gossip_node::Node`]) in-process on a virtual
//! clock that jumps from event to event ([`sim`]), through the very same engine, network
//! model, checkers and store as process mode. Node seeds and incarnations derive from
//! `--seed`, so the same flags and seed give a byte-identical `results.json`; every run prints
//! its seed and the command that replays it. The trailing arguments are our node's
//! `key=value` settings.
//!
//! Faults beyond Maelstrom's partitions, in both modes (absent flags keep Maelstrom's
//! behaviour and random draws exactly):
//!
//! | flag | fault |
//! |---|---|
//! | `--p-loss P` | each node-to-node message is lost with probability P (sent, never received) |
//! | `--p-dup P` | each node-to-node message is delivered twice with probability P (own latency) |
//! | `--reorder MS` | each node-to-node message waits an extra uniform [0, MS) ms, so messages overtake each other |
//! | `--nemesis kill` | kill one node or a minority (SIGKILL; state lost); later restart them empty with a new incarnation, re-sending `init` and the setup request |
//! | `--nemesis pause` | pause one node or a minority (SIGSTOP; deliveries queue up, timers stop); later resume |
//! | `--nemesis slow` | latency spike (×10 + 100 ms) on the links of one node, a minority or all |
//! | `--sim-disk durable` | simulated nodes keep their replica on a disk (an in-memory store); `--nemesis crash` (and the scenario step `crash`) kills one node or a minority keeping their disks (what they had not committed is lost), later restarted from them. `lying`: commits never become durable (the negative control) |
//!
//! Nemeses combine (`--nemesis partition,kill,pause,slow`): each op picks one fault and toggles
//! it, at `--nemesis-interval`; every fault is recorded in the history as nemesis ops and undone
//! before the final phase. Clients and services are never faulted, as Maelstrom never
//! partitions them. Scenarios ([`scenario`]) script faults and convergence checks as data;
//! `gossip-harness scenario` sweeps the built-in suite over seeds and replays a failure.
//!
//! Exit status: 0 valid, 1 invalid, 2 unknown, 254 bad arguments (an unknown flag, a `--bin`
//! that is not an executable file: found before anything starts or is stored), 255 crashed (a
//! node died, never answered init, could not start, or wrote a stdout line longer than
//! [`process::MAX_LINE_BYTES`]), 130 interrupted. The last stdout line is exactly
//! Maelstrom's banner. Every run is stored under `store/<workload>/<timestamp>/`
//! (`results.json` with Maelstrom's key names, `history.jsonl`, `node-logs/`, SVG plots,
//! `messages.svg`, `report.html`), with `store/latest` pointing at it.
//!
//! # Layout
//!
//! The engine is sans-IO and deterministic; everything with a clock, a thread or a pipe lives
//! outside it, behind [`host::NodeHost`]. Modules are listed bottom up: each imports only
//! from those above it in this list (a test, `tests/all/module_graph.rs`, fails on an import
//! circle). Linked modules are the public interface; the others are internal.
//!
//! - Types: [`ids`] (node, client, message ids, endpoints), [`time`] (engine time), `rng`
//!   (one seeded generator type), [`value`] (op values: reads of integer sets kept as
//!   ranges), [`history`].
//! - Wire: `error_code` (Maelstrom's error registry), `schema` (closed response schemas),
//!   [`message`] (envelope parsing and formatting, with a one-pass reader for the lines
//!   nodes commonly print, equal to the general parser where it reads).
//! - Faults and configuration: [`partition`] (grudges), [`nemesis`] (the fault schedule:
//!   partitions, kills, pauses, latency spikes), [`script`] (the scenario language: syntax,
//!   steps, scripts), [`options`] (validated configuration), `latency`, `topology`.
//! - Network model: `network` (per-destination deadline queues, head-of-line blocking,
//!   receive-side partition drop), [`journal`] (send/recv events and counts). Loss,
//!   duplication and reordering are drawn where the engine routes a message.
//! - Checkers: [`checker`] (set-full, counter, stats, availability, echo, exceptions, net,
//!   protocol).
//! - Test logic: `generator` (stagger and time limit), `client` (synchronous clients, ops and
//!   completions, error mapping), `workload` (one module per workload), `services`
//!   (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`), [`host`] (the seam between the engine and
//!   the nodes), [`progress`] (phase and live figures), and [`engine`], which ties them
//!   together: one file per concern (routing, clients, faults, phases, the scenario
//!   interpreter, convergence probes) and the record a run leaves.
//! - Analysis and output: [`results`] (the composed result map), [`console`] (progress,
//!   summary, banners), [`svg`] (the chart kit, also used by `gossip-study`), `plots` (a run's plots), `report`
//!   (`report.html`), [`store`].
//! - Running: [`driver`] (the one loop), [`process`] (OS processes in real time),
//!   `ordered_pool` (in-order jobs on a few threads), [`sim`] (our node cores on a virtual
//!   clock), [`agents`] (real `gossip-agent` processes in network namespaces, driven over
//!   HTTP), [`cli`], [`run`] (one test end to end, either mode), [`scenario`] (running
//!   scenarios: sweeps, failure reports, replay), [`analyze`] (re-check a stored run),
//!   [`node_cmd`] (the hidden `node` subcommand that runs `gossip-node` when `--bin` is
//!   omitted).
//!
//! # Driving the engine yourself
//!
//! Implement [`host::NodeHost`] (start nodes, `deliver` lines, `next_event` up to a deadline,
//! `now`, and `control` for faults) and hand it to [`run::execute`], which drives the engine,
//! analyses, writes the store and prints the verdict exactly as process mode does. (Lower
//! level: [`driver::drive`] with an [`engine::Engine`], then [`results::analyze`] and
//! [`store::write_run`].) A virtual-clock host jumps `now` to the deadline it is given when its
//! nodes are quiet: [`sim::SimHost`] is the full one, `tests/all/virtual_host.rs` a small example
//! with a toy node. The engine reads no clock and draws every random number from generators
//! seeded by `--seed`, so such a run is reproducible.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agents;
pub mod analyze;
pub mod checker;
pub mod cli;
pub(crate) mod client;
pub mod console;
pub mod driver;
pub mod engine;
pub(crate) mod error_code;
pub(crate) mod generator;
pub mod history;
pub mod host;
pub mod ids;
pub mod journal;
pub(crate) mod latency;
pub mod message;
pub mod nemesis;
pub(crate) mod network;
pub mod node_cmd;
pub mod options;
pub(crate) mod ordered_pool;
pub mod partition;
pub(crate) mod plots;
pub mod process;
pub mod progress;
pub(crate) mod report;
pub mod results;
pub(crate) mod rng;
pub mod run;
pub mod scenario;
pub(crate) mod schema;
pub mod script;
pub(crate) mod services;
pub mod sim;
pub mod store;
pub mod svg;
pub mod time;
pub(crate) mod topology;
pub mod value;
pub(crate) mod workload;
