//! foca's runtime for one input: the packets, timers and notifications foca asks for while
//! [`Membership`](crate::Membership) hands it a packet or a timer, collected to be returned.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use foca::{OwnedNotification, Timer};
use gossip_transport::Time;

use crate::{Identity, Stats};

/// The first byte of every packet: which protocol the rest belongs to.
pub(crate) const TAG_SWIM: u8 = 0;
pub(crate) const TAG_LEFT: u8 = 1;
pub(crate) const TAG_SYNC: u8 = 2;

/// foca's runtime: collects what foca asks for while one input is handled.
pub(crate) struct Outbox {
    pub(crate) now: Time,
    pub(crate) next_timer: u64,
    pub(crate) timers: BTreeMap<(Time, u64), Timer<Identity>>,
    pub(crate) transmit: VecDeque<(SocketAddr, Vec<u8>)>,
    pub(crate) notifications: Vec<OwnedNotification<Identity>>,
    pub(crate) stats: Stats,
}

impl Outbox {
    pub(crate) fn send(&mut self, to: SocketAddr, tag: u8, data: &[u8]) {
        let mut packet = Vec::with_capacity(data.len() + 1);
        packet.push(tag);
        packet.extend_from_slice(data);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += packet.len() as u64;
        self.transmit.push_back((to, packet));
    }
}

impl foca::Runtime<Identity> for Outbox {
    fn notify(&mut self, notification: foca::Notification<'_, Identity>) {
        self.notifications.push(notification.to_owned());
    }

    fn send_to(&mut self, to: Identity, data: &[u8]) {
        self.send(to.addr, TAG_SWIM, data);
    }

    fn submit_after(&mut self, event: Timer<Identity>, after: Duration) {
        // The sequence number keeps timers due at the same instant in the order foca set them.
        self.timers
            .insert((self.now + after, self.next_timer), event);
        self.next_timer += 1;
    }
}
