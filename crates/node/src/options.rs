//! Command-line options: which workload, and how to replicate.
//!
//! Maelstrom passes the arguments that follow its own options to every node, and it would
//! swallow anything that looks like one of its options (`--foo`). So the node takes plain
//! words: an optional workload name and `key=value` settings, e.g.
//!
//! ```text
//! gossip-node broadcast profile=fast
//! gossip-node g-set strategy=hybrid overlay=star hubs=3 relay-flush=150ms
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use gossip_transport::{Config, Overlay, Strategy};

use crate::ack::AckPolicy;
use crate::duration::parse_duration;
use crate::protocol::NodeId;
use crate::workload_kind::WorkloadKind;

/// Members of the default star that can act as hub in turn: one hub at a time carries the
/// traffic, and the next takes over when it is suspected.
const DEFAULT_HUBS: usize = 3;

/// Where the eager overlay comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum OverlayChoice {
    /// Our own overlay (the `topology` message is acknowledged and ignored).
    Own(Overlay<NodeId>),
    /// The neighbours Maelstrom's `topology` message gives (until it arrives, the default
    /// star).
    Maelstrom,
}

/// Everything the node is told at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The workload, if named; otherwise it is inferred from the first request that tells.
    pub workload: Option<WorkloadKind>,
    /// Replication settings but the overlay, which [`Options::overlay`] names: the node
    /// starts with [`Options::transport_config`].
    pub transport: Config<NodeId>,
    /// Which overlay to use.
    pub overlay: OverlayChoice,
    /// Seeds every random choice; the shell picks one per process unless given.
    pub seed: Option<u64>,
    /// When a write is acknowledged to its client.
    pub ack: AckPolicy,
    /// Where the node keeps its replica (`--data-dir DIR`); `None`: in memory only, and a
    /// restart is a new life that lost its state.
    pub data_dir: Option<PathBuf>,
}

impl Default for Options {
    /// The `efficient` profile.
    fn default() -> Self {
        Options::star_tree(EFFICIENT_RELAY_FLUSH)
    }
}

/// The hub's batching interval of the `efficient` profile: one batch per burst of leaves'
/// pushes (see [`Options::profile`]).
const EFFICIENT_RELAY_FLUSH: Duration = Duration::from_millis(300);

/// The hub's batching interval of the `fast` profile: each burst passed on as it lands.
const FAST_RELAY_FLUSH: Duration = Duration::from_millis(25);

/// A bad command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError(pub String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OptionsError {}

/// The usage text, printed on bad arguments.
pub const USAGE: &str = "\
usage: gossip-node [WORKLOAD] [key=value ...]

WORKLOAD: echo | broadcast | g-set | g-counter | pn-counter
          (optional: without it the node infers the workload from the first request that
          tells, and refuses reads that come before it)

settings (durations take ms or s, e.g. 200ms, 1.5s):
  profile=efficient|fast   preset timings (default: efficient)
  strategy=tree|flood|gossip|push-pull|hybrid
  overlay=star|full|kary|maelstrom   (maelstrom: follow the topology message)
  hubs=N            star: members that can act as hub in turn (default 3)
  k=N               kary: children per node (default 4)
  flush=D           batching interval of a leaf (one eager target)
  relay-flush=D     batching interval of a hub / inner node
  fanout=N interval=D                 gossip / push-pull rounds
  lazy-interval=D lazy-fanout=N graft-delay=D   hybrid
  ack-delay=D rto=D max-rto=D suspect-after=D max-packet-bytes=N
  retain=D          keep each delta at least this long (default 30s); then drop it once
                    every peer that could need it holds it
  ack=local|replicated   answer a write at once (default), or once another node holds it
                    (survives the writer's crash; the answer waits for the holder's
                    acknowledgement, which rides on its next batch: up to relay-flush)
  seed=N            fix the random seed
  --data-dir DIR    keep the replica on disk in DIR (one directory per node process):
                    a write is answered once committed there, and a restart resumes
                    from it (also `data-dir=DIR`)
";

impl Options {
    /// A named preset: `efficient` (the default: fewest messages within the latency targets)
    /// or `fast` (lowest latency for a few more messages).
    ///
    /// Both are a star whose leaves push at once; they differ in how often the hub sends its
    /// batches. The intervals are tuned for Maelstrom's delivery at 100 ms latency: a client
    /// request waits behind a message already on its way to the node, so leaves' pushes reach
    /// the hub in a burst about two latencies after each of its batches. 300 ms catches one
    /// burst in every cycle of about three latencies; 25 ms sends each burst as it lands.
    /// `docs/anti-entropy.md` has the measurements behind the choice.
    pub fn profile(name: &str) -> Option<Options> {
        let relay_flush = match name {
            "efficient" => EFFICIENT_RELAY_FLUSH,
            "fast" => FAST_RELAY_FLUSH,
            _ => return None,
        };
        Some(Options::star_tree(relay_flush))
    }

    /// Both profiles: a tree over the default star, leaves pushing at once, hubs batching
    /// every `relay_flush`.
    fn star_tree(relay_flush: Duration) -> Options {
        Options {
            workload: None,
            transport: Config {
                strategy: Strategy::Tree,
                flush: Duration::ZERO,
                relay_flush,
                ..Config::maelstrom()
            },
            overlay: OverlayChoice::Own(Overlay::Star { hubs: DEFAULT_HUBS }),
            seed: None,
            ack: AckPolicy::Local,
            data_dir: None,
        }
    }

    /// The replication engine's configuration: [`transport`](Options::transport) with the
    /// overlay [`overlay`](Options::overlay) names; under [`OverlayChoice::Maelstrom`], the
    /// default star until the `topology` message arrives, so that writes spread meanwhile.
    pub fn transport_config(&self) -> Config<NodeId> {
        let overlay = match &self.overlay {
            OverlayChoice::Own(overlay) => overlay.clone(),
            OverlayChoice::Maelstrom => Overlay::Star { hubs: DEFAULT_HUBS },
        };
        Config {
            overlay,
            ..self.transport.clone()
        }
    }

    /// Parses the arguments after the program name.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Options, OptionsError> {
        let mut options = Options::default();
        // The profile goes first, whatever its position, so other settings refine it.
        for arg in args {
            if let Some(name) = arg.as_ref().strip_prefix("profile=") {
                options = Options::profile(name).ok_or_else(|| {
                    OptionsError(format!("unknown profile `{name}` (efficient, fast)"))
                })?;
            }
        }
        let mut strategy: Option<String> = None;
        let mut overlay: Option<String> = None;
        let mut hubs = DEFAULT_HUBS;
        let mut k = 4usize;
        let mut fanout = 3usize;
        let mut interval = Duration::from_millis(200);
        let mut lazy_interval = Duration::from_millis(1000);
        let mut lazy_fanout = 1usize;
        let mut graft_delay = Duration::from_millis(600);
        let mut args = args.iter().map(AsRef::as_ref);
        while let Some(arg) = args.next() {
            if arg == "--data-dir" {
                let dir = args
                    .next()
                    .ok_or_else(|| OptionsError("`--data-dir` needs a directory".into()))?;
                options.data_dir = Some(PathBuf::from(dir));
                continue;
            }
            let arg = arg.strip_prefix("--data-dir=").map_or(arg, |dir| {
                options.data_dir = Some(PathBuf::from(dir));
                ""
            });
            if arg.is_empty() {
                continue;
            }
            let Some((key, value)) = arg.split_once('=') else {
                let kind = WorkloadKind::from_name(arg)
                    .ok_or_else(|| OptionsError(format!("unknown workload or argument `{arg}`")))?;
                // Naming the same workload twice is harmless (a harness may add it too).
                if options
                    .workload
                    .replace(kind)
                    .is_some_and(|before| before != kind)
                {
                    return Err(OptionsError("more than one workload given".into()));
                }
                continue;
            };
            let t = &mut options.transport;
            match key {
                "profile" => {}
                "strategy" => strategy = Some(value.to_string()),
                "overlay" => overlay = Some(value.to_string()),
                "hubs" => hubs = number(key, value)?,
                "k" => k = number(key, value)?,
                "fanout" => fanout = number(key, value)?,
                "lazy-fanout" => lazy_fanout = number(key, value)?,
                "interval" => interval = duration(key, value)?,
                "lazy-interval" => lazy_interval = duration(key, value)?,
                "graft-delay" => graft_delay = duration(key, value)?,
                "flush" => t.flush = duration(key, value)?,
                "relay-flush" => t.relay_flush = duration(key, value)?,
                "ack-delay" => t.ack_delay = duration(key, value)?,
                "ack" => {
                    options.ack = match value {
                        "local" => AckPolicy::Local,
                        "replicated" => AckPolicy::Replicated,
                        other => {
                            return Err(OptionsError(format!(
                                "unknown ack policy `{other}` (local, replicated)"
                            )));
                        }
                    }
                }
                "rto" => t.rto = duration(key, value)?,
                "max-rto" => t.max_rto = duration(key, value)?,
                "suspect-after" => t.suspect_after = duration(key, value)?,
                "max-packet-bytes" => t.max_packet_bytes = number(key, value)?,
                "retain" => t.retain = duration(key, value)?,
                "seed" => options.seed = Some(number(key, value)?),
                "data-dir" if !value.is_empty() => options.data_dir = Some(PathBuf::from(value)),
                _ => return Err(OptionsError(format!("unknown setting `{key}`"))),
            }
        }
        if let Some(s) = strategy {
            options.transport.strategy = match s.as_str() {
                "tree" => Strategy::Tree,
                "flood" => Strategy::Flood,
                "gossip" => Strategy::Gossip { fanout, interval },
                "push-pull" => Strategy::PushPull { interval },
                "hybrid" => Strategy::Hybrid {
                    lazy_interval,
                    lazy_fanout,
                    graft_delay,
                },
                other => {
                    return Err(OptionsError(format!(
                        "unknown strategy `{other}` (tree, flood, gossip, push-pull, hybrid)"
                    )));
                }
            };
        }
        let overlay_name = overlay.unwrap_or_else(|| "star".into());
        options.overlay = match overlay_name.as_str() {
            "star" => OverlayChoice::Own(Overlay::Star { hubs: hubs.max(1) }),
            "full" => OverlayChoice::Own(Overlay::Full),
            "kary" => OverlayChoice::Own(Overlay::Kary { k: k.max(1) }),
            "maelstrom" => OverlayChoice::Maelstrom,
            other => {
                return Err(OptionsError(format!(
                    "unknown overlay `{other}` (star, full, kary, maelstrom)"
                )));
            }
        };
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, OptionsError> {
    value
        .parse()
        .map_err(|_| OptionsError(format!("`{key}` wants a whole number, got `{value}`")))
}

/// A duration setting (see [`parse_duration`]).
fn duration(key: &str, value: &str) -> Result<Duration, OptionsError> {
    parse_duration(value).map_err(|e| OptionsError(format!("`{key}` wants a duration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_is_a_plain_word() {
        let o = Options::parse(&["g-set"]).expect("valid");
        assert_eq!(o.workload, Some(WorkloadKind::GSet));
        assert_eq!(Options::parse::<&str>(&[]).expect("valid").workload, None);
    }

    #[test]
    fn settings_refine_the_profile() {
        let o = Options::parse(&["broadcast", "relay-flush=150ms", "profile=fast", "hubs=2"])
            .expect("valid");
        assert_eq!(o.transport.relay_flush, Duration::from_millis(150));
        assert_eq!(o.transport_config().overlay, Overlay::Star { hubs: 2 });
        let o = Options::parse(&["strategy=gossip", "fanout=4", "interval=0.1s"]).expect("valid");
        assert_eq!(
            o.transport.strategy,
            Strategy::Gossip {
                fanout: 4,
                interval: Duration::from_millis(100)
            }
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let err = |args: &[&str]| Options::parse(args).expect_err("invalid").0;
        assert!(err(&["--workload"]).contains("unknown workload"));
        assert!(err(&["flush=soon"]).contains("duration"));
        assert!(err(&["flush=2"]).contains("no unit"));
        assert!(err(&["retain=1e30s"]).contains("too long"));
        assert!(err(&["hubs=-1"]).contains("whole number"));
        assert!(err(&["colour=blue"]).contains("unknown setting"));
        assert!(err(&["echo", "g-set"]).contains("more than one"));
        assert!(Options::parse(&["g-set", "g-set"]).is_ok());
        assert!(err(&["ack=eventually"]).contains("unknown ack policy"));
        let o = Options::parse(&["ack=replicated"]).expect("valid");
        assert_eq!(o.ack, AckPolicy::Replicated);
        assert!(err(&["strategy=telepathy"]).contains("unknown strategy"));
        assert!(err(&["g-set", "--data-dir"]).contains("needs a directory"));
    }

    #[test]
    fn the_data_dir_is_optional_and_spelt_three_ways() {
        assert_eq!(Options::parse(&["g-set"]).expect("valid").data_dir, None);
        for args in [
            &["--data-dir", "/d", "g-set"][..],
            &["g-set", "--data-dir=/d"],
            &["data-dir=/d", "g-set"],
        ] {
            let o = Options::parse(args).expect("valid");
            assert_eq!(o.data_dir, Some(PathBuf::from("/d")), "{args:?}");
            assert_eq!(o.workload, Some(WorkloadKind::GSet), "{args:?}");
        }
    }
}
