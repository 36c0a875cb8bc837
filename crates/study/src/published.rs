//! Published results for the same configuration (25 nodes, 100 ms latency, 100 ops/s, 20 s),
//! as reported by their authors: the points the study's plot compares against.

/// A published design and its figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    /// What the design does.
    pub design: &'static str,
    /// Server messages per operation.
    pub msgs_per_op: f64,
    /// Median stable latency, ms.
    pub median: f64,
    /// Maximum stable latency, ms.
    pub max: f64,
}

/// The best published results we know of.
pub const PUBLISHED: [Published; 5] = [
    Published {
        design: "star, leaves flush 100 ms, hub 500 ms, acked batches",
        msgs_per_op: 1.99,
        median: 339.0,
        max: 678.0,
    },
    Published {
        design: "star, batches every 500 ms",
        msgs_per_op: 1.92,
        median: 764.0,
        max: 1087.0,
    },
    Published {
        design: "tree4, one message per value, no acks",
        msgs_per_op: 11.99,
        median: 386.0,
        max: 505.0,
    },
    Published {
        design: "star, gossip every 50 ms",
        msgs_per_op: 14.7,
        median: 195.0,
        max: 281.0,
    },
    Published {
        design: "star, one message per value with acks",
        msgs_per_op: 23.38,
        median: 181.0,
        max: 207.0,
    },
];

/// The reference point for the guide configuration (`g-set`, 5 nodes, 100 ops/s, 10 s):
/// full-state replication to every node every 5 s, as Maelstrom's own g-set guide reports it:
/// 0.099 server msgs-per-op, "roughly 2.5 seconds median, and as high as five seconds".
pub const G_SET_REFERENCE: [Published; 1] = [Published {
    design: "full state to all every 5 s (Maelstrom's guide)",
    msgs_per_op: 0.0987,
    median: 2500.0,
    max: 5000.0,
}];

/// The points to compare a configuration (`3d` or `guide`) against.
pub fn references(config: &str) -> &'static [Published] {
    match config {
        "guide" => &G_SET_REFERENCE,
        _ => &PUBLISHED,
    }
}
