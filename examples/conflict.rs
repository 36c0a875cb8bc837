//! Conflict detection with version vectors, told step by step.
//!
//! ```sh
//! cargo run --example conflict
//! ```
//!
//! Two replicas, `paris` and `sydney`, write the title of a shared document concurrently. The
//! program shows their version vectors comparing as concurrent, a multi-value register keeping
//! both writes, a last-writer-wins register losing one, the resolution, and then the same
//! story over an in-memory network that is cut and healed. `docs/conflict-detection.md`
//! explains every step; `tests/examples.rs` checks that this program still prints what the
//! page shows.

use std::time::Duration;

use gossip::crdt::{Causality, CrdtError, Lattice, LwwRegister, MvRegister, VersionVector};
use gossip::transport::testing::{Faults, SimNet};
use gossip::transport::{Config, Overlay, Replicator, Strategy};

/// Appends one line to the story.
macro_rules! say {
    ($out:ident, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

fn main() -> Result<(), CrdtError> {
    print!("{}", story()?);
    Ok(())
}

/// The whole story, as the program prints it. Every claim it prints is asserted first.
pub fn story() -> Result<String, CrdtError> {
    let mut out = String::new();
    registers(&mut out)?;
    network(&mut out);
    Ok(out)
}

/// `{paris: 2, sydney: 1}`.
fn clock(vector: &VersionVector<&str>) -> String {
    let entries: Vec<String> = vector.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    format!("{{{}}}", entries.join(", "))
}

/// The clock of a register's only write.
fn only_clock<T: Ord + Clone>(delta: &MvRegister<T, &'static str>) -> VersionVector<&'static str> {
    assert_eq!(
        delta.siblings().len(),
        1,
        "a write's delta holds one sibling"
    );
    delta.siblings()[0].clock.clone()
}

/// Sections 1 to 5: two registers on one machine, deltas passed by hand.
fn registers(out: &mut String) -> Result<(), CrdtError> {
    say!(out, "1. Two replicas write the same register concurrently");
    let mut paris = MvRegister::new();
    let mut sydney = MvRegister::new();
    let first = paris.write("paris", "Roadmap")?;
    sydney.join(&first);
    assert_eq!(paris, sydney);
    say!(
        out,
        "   paris and sydney both hold \"Roadmap\" {}",
        clock(&only_clock(&first))
    );
    say!(out, "   the link goes down");
    let from_paris = paris.write("paris", "Roadmap: Q3")?;
    let from_sydney = sydney.write("sydney", "Roadmap (draft)")?;
    let (p, s) = (only_clock(&from_paris), only_clock(&from_sydney));
    say!(out, "   paris  writes \"Roadmap: Q3\"     {}", clock(&p));
    say!(out, "   sydney writes \"Roadmap (draft)\" {}", clock(&s));
    say!(out, "");

    say!(out, "2. Their version vectors compare as Concurrent");
    let ancestor = only_clock(&first);
    assert_eq!(ancestor.compare(&p), Causality::Before);
    assert_eq!(ancestor.compare(&s), Causality::Before);
    assert_eq!(p.compare(&s), Causality::Concurrent);
    for (a, x, b, y) in [
        ("Roadmap", &ancestor, "Roadmap: Q3", &p),
        ("Roadmap", &ancestor, "Roadmap (draft)", &s),
        ("Roadmap: Q3", &p, "Roadmap (draft)", &s),
    ] {
        let pair = format!("{a:?} vs {b:?}:");
        say!(out, "   {pair:<35} {:?}", x.compare(y));
    }
    say!(out, "");

    say!(out, "3. MvRegister keeps both writes as siblings");
    paris.join(&from_sydney);
    sydney.join(&from_paris);
    assert_eq!(paris, sydney);
    assert!(paris.is_conflicted());
    say!(out, "   the link is back; both replicas now read:");
    for sibling in paris.siblings() {
        say!(out, "   {:?} {}", sibling.value, clock(&sibling.clock));
    }
    say!(out, "");

    say!(
        out,
        "4. LwwRegister keeps one write and loses the other, silently"
    );
    let mut lww_paris = LwwRegister::new();
    let mut lww_sydney = LwwRegister::new();
    lww_sydney.join(&lww_paris.write(1_000, "paris", "Roadmap"));
    let lww_from_paris = lww_paris.write(1_005, "paris", "Roadmap: Q3");
    let lww_from_sydney = lww_sydney.write(1_007, "sydney", "Roadmap (draft)");
    say!(out, "   paris  sets \"Roadmap: Q3\"     at 1005");
    say!(out, "   sydney sets \"Roadmap (draft)\" at 1007");
    assert!(lww_paris.join(&lww_from_sydney));
    assert!(!lww_sydney.join(&lww_from_paris));
    assert_eq!(lww_paris, lww_sydney);
    let winner = lww_paris.last_write().expect("written");
    assert_eq!((winner.timestamp, winner.replica), (1_007, "sydney"));
    say!(
        out,
        "   both replicas read {:?}: ({}, {}) > (1005, paris)",
        winner.value,
        winner.timestamp,
        winner.replica
    );
    say!(out, "   lost, and nobody is told: \"Roadmap: Q3\"");
    say!(out, "");

    say!(
        out,
        "5. The application resolves the siblings; the next write dominates both"
    );
    let merged = "Roadmap: Q3 (draft)";
    let resolution = paris.write("paris", merged)?;
    let r = only_clock(&resolution);
    say!(out, "   paris writes {merged:?} {}", clock(&r));
    for sibling in sydney.siblings() {
        assert_eq!(r.compare(&sibling.clock), Causality::After);
    }
    say!(
        out,
        "   which is After \"Roadmap (draft)\" and After \"Roadmap: Q3\""
    );
    sydney.join(&resolution);
    assert_eq!(paris, sydney);
    assert_eq!(sydney.read().copied().collect::<Vec<_>>(), [merged]);
    say!(out, "   both replicas read {merged:?}");
    say!(out, "");
    Ok(())
}

/// The replicated value of section 6: a title, written under replica names.
type Title = MvRegister<String, &'static str>;
/// One replica of it; peers are named by `&str` too.
type Node = Replicator<Title, &'static str>;

/// The replicas on the simulated network of `gossip_transport::testing`: virtual time that
/// jumps from one deadline to the next, packets delivered at once, links that can be cut.
struct Net(SimNet<Title, &'static str>);

impl Net {
    fn new(names: &[&'static str]) -> Net {
        // Push-pull anti-entropy: every second, swap digests with a peer that may be behind.
        let config = Config {
            strategy: Strategy::PushPull {
                interval: Duration::from_secs(1),
            },
            overlay: Overlay::Full,
            ..Config::default()
        };
        let faults = Faults {
            latency: Duration::ZERO,
            ..Faults::default()
        };
        let mut net = SimNet::new(names.to_vec(), config, faults, 1);
        net.run_for(Duration::ZERO); // the replicas greet each other
        Net(net)
    }

    fn node(&self, name: &'static str) -> &Node {
        self.0.node(name)
    }

    /// What the application at `name` reads: one value, or several after a conflict.
    fn read(&self, name: &'static str) -> Vec<String> {
        self.node(name).state().read().cloned().collect()
    }

    /// The application at `name` writes `value`: a delta made from the replica's state,
    /// handed back to the replica to apply and spread.
    fn write(&mut self, name: &'static str, value: &str) {
        let delta = self
            .node(name)
            .state()
            .write_delta(name, value.to_string())
            .expect("a counter below u64::MAX");
        self.0.update(name, delta);
        self.0.run_for(Duration::ZERO);
    }

    /// Lets `duration` of virtual time pass.
    fn run_for(&mut self, duration: Duration) {
        assert!(self.0.run_for(duration), "timers kept firing: a livelock");
    }

    /// Deltas each replica received that were new to it.
    fn new_deltas(&self) -> Vec<u64> {
        self.0
            .nodes
            .iter()
            .map(|n| n.stats().received_new)
            .collect()
    }
}

/// Section 6: the same story between two `Replicator`s over a network that is cut and healed.
fn network(out: &mut String) {
    let secs = Duration::from_secs;
    let mut net = Net::new(&["paris", "sydney"]);
    let at = |net: &Net| format!("{:>9}", net.0.now().to_string());

    say!(
        out,
        "6. Across a network: a partition, anti-entropy, the conflict on read"
    );
    net.write("paris", "Roadmap");
    say!(out, "{} paris writes \"Roadmap\"", at(&net));
    net.run_for(secs(2));
    assert_eq!(net.read("sydney"), ["Roadmap"]);
    say!(out, "{} sydney reads {:?}", at(&net), net.read("sydney"));

    net.0.partition(&["paris"], &["sydney"]);
    say!(out, "{} the link is cut", at(&net));
    net.write("paris", "Roadmap: Q3");
    net.write("sydney", "Roadmap (draft)");
    say!(
        out,
        "{} paris writes \"Roadmap: Q3\", sydney writes \"Roadmap (draft)\"",
        at(&net)
    );
    net.run_for(secs(10));
    let dropped = net.0.net_stats().dropped;
    assert!(dropped > 0);
    assert_eq!(net.read("paris"), ["Roadmap: Q3"]);
    assert_eq!(net.read("sydney"), ["Roadmap (draft)"]);
    say!(
        out,
        "{} paris reads {:?}, sydney reads {:?}; {} packets dropped",
        at(&net),
        net.read("paris"),
        net.read("sydney"),
        dropped
    );

    net.0.heal();
    say!(out, "{} the link heals", at(&net));
    let before = net.new_deltas();
    net.run_for(secs(1));
    let crossed: Vec<u64> = net
        .new_deltas()
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    assert_eq!(crossed, [1, 1]);
    say!(
        out,
        "{} anti-entropy: one write crossed each way, the difference and no more",
        at(&net)
    );
    let both = ["Roadmap (draft)", "Roadmap: Q3"];
    assert_eq!(net.read("paris"), both);
    assert_eq!(net.read("sydney"), both);
    let siblings = net.node("sydney").state().siblings();
    assert_eq!(
        siblings[0].clock.compare(&siblings[1].clock),
        Causality::Concurrent
    );
    say!(
        out,
        "{} both read {:?}: Concurrent siblings",
        at(&net),
        net.read("paris")
    );

    let merged = "Roadmap: Q3 (draft)";
    net.write("sydney", merged);
    say!(out, "{} sydney resolves: writes {merged:?}", at(&net));
    net.run_for(secs(1));
    assert_eq!(net.read("paris"), [merged]);
    assert_eq!(net.read("sydney"), [merged]);
    say!(out, "{} both read {:?}", at(&net), net.read("paris"));
    net.run_for(secs(2));
    assert!(net.0.quiet());
    say!(out, "{} nothing differs: no timer is armed", at(&net));
}
