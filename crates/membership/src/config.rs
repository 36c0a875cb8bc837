//! `Config`: SWIM's timings, with presets for a LAN and a WAN.

use std::num::NonZeroU32;
use std::time::Duration;

/// The cluster size the presets assume when none is given: it sets how long a suspect has to
/// refute and how often an update is retransmitted, both of which grow with log10(size).
pub const DEFAULT_CLUSTER_SIZE: u32 = 64;

/// How a [`Membership`](crate::Membership) runs SWIM.
///
/// `swim` is foca's configuration, used as is. The presets follow memberlist's defaults
/// (through foca's `new_lan` / `new_wan`); `docs/membership.md` derives the detection time
/// each one predicts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Probe period, round-trip allowance, suspicion timeout, retransmissions, packet size,
    /// periodic gossip and announcements.
    pub swim: foca::Config,
    /// How many members a leaving node, and then every member that hears of the departure
    /// first, tell that it left. The notice spreads like a rumour that dies after one
    /// forwarding per member; a member it misses still sees the departure, as `Down`.
    pub leave_fanout: usize,
    /// How often a node that is not connected (not let in yet, alone, or renewed and not yet
    /// spoken to) asks its seeds and a few members it knows to let it in.
    pub rejoin_interval: Duration,
    /// How often a member exchanges its whole membership state with one random member (a
    /// push-pull, as memberlist does), for clusters of up to 32 members; one interval more
    /// per doubling beyond. Gossip alone tells a newcomer only about changes still being
    /// spread; the exchange teaches it the rest, and repairs any verdict a member missed.
    /// `None` turns it off.
    pub sync_interval: Option<Duration>,
}

impl Config {
    /// A LAN cluster of about [`DEFAULT_CLUSTER_SIZE`] members: probe every 1 s, 500 ms for
    /// a direct answer, suspects declared down after 4 s × log10(size) (7.2 s at 64). SWIM
    /// then predicts a crash is declared after 8.9 s at the median, 12.8 s at the 99th
    /// percentile.
    pub fn lan() -> Config {
        Config::lan_sized(DEFAULT_CLUSTER_SIZE)
    }

    /// A WAN cluster of about [`DEFAULT_CLUSTER_SIZE`] members: probe every 5 s, 3 s for a
    /// direct answer, suspects declared down after 30 s × log10(size) (54 s at 64). SWIM then
    /// predicts a crash is declared after 63 s at the median, 82 s at the 99th percentile.
    pub fn wan() -> Config {
        Config::wan_sized(DEFAULT_CLUSTER_SIZE)
    }

    /// [`lan`](Self::lan) for a cluster of about `size` members (at least 1).
    pub fn lan_sized(size: u32) -> Config {
        Config::from_swim(foca::Config::new_lan(cluster(size)))
    }

    /// [`wan`](Self::wan) for a cluster of about `size` members (at least 1).
    pub fn wan_sized(size: u32) -> Config {
        Config {
            sync_interval: Some(Duration::from_secs(60)),
            ..Config::from_swim(foca::Config::new_wan(cluster(size)))
        }
    }

    /// A configuration around foca's own.
    pub fn from_swim(swim: foca::Config) -> Config {
        Config {
            // Two probe periods: a seed that answers is heard from well within that.
            rejoin_interval: swim.probe_period * 2,
            swim,
            leave_fanout: DEFAULT_LEAVE_FANOUT,
            // memberlist's LAN push-pull interval.
            sync_interval: Some(Duration::from_secs(30)),
        }
    }

    /// The longest a crashed member goes undetected by the member that probes it, once it is
    /// probed: one probe period (direct and indirect probes unanswered) plus the suspicion
    /// timeout. Add the wait for the first probe (see `docs/membership.md`) and the spread of
    /// the verdict.
    pub fn detection_after_first_probe(&self) -> Duration {
        self.swim.probe_period + self.swim.suspect_to_down_after
    }
}

/// Infect-and-die with fanout f misses a given member with probability about e^-f: 1 in 1100
/// at 7, and a missed member still learns of the departure as `Down`.
const DEFAULT_LEAVE_FANOUT: usize = 7;

fn cluster(size: u32) -> NonZeroU32 {
    NonZeroU32::new(size).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_scale_suspicion_with_the_cluster() {
        assert_eq!(
            Config::lan_sized(10).swim.suspect_to_down_after,
            Duration::from_secs(4)
        );
        assert_eq!(
            Config::lan_sized(100).swim.suspect_to_down_after,
            Duration::from_secs(8)
        );
        assert_eq!(
            Config::wan_sized(100).swim.probe_period,
            Duration::from_secs(5)
        );
        assert_eq!(
            Config::lan_sized(0).swim.suspect_to_down_after,
            Config::lan_sized(1).swim.suspect_to_down_after
        );
    }
}
