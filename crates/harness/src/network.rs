//! The simulated network between nodes and services: a priority queue per destination
//! ordered by delivery deadline, receive-side partition checks, and Maelstrom's head-of-line
//! blocking.
//!
//! Client-bound messages never enter this module: they have no latency and the engine hands
//! them to the client at once. Everything else waits here until its deadline. With head-of-line
//! blocking on (the default, as in Maelstrom) a node's delivery "thread" takes the head of its
//! queue, checks the partition, then holds it until its deadline; anything that arrives
//! meanwhile, even a zero-latency client request, waits behind it. With it off, each message
//! is delivered at its own deadline. Services are never blocked that way.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::ids::{Endpoint, NodeIndex, Service};
use crate::message::Packet;
use crate::partition::Partitions;
use crate::time::Time;

#[derive(Debug)]
struct Queued {
    deadline: Time,
    seq: u64,
    packet: Packet,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// Which queue a wake-up is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Node(usize),
    Service(usize),
}

#[derive(Debug, Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Queued>>,
    /// Head-of-line blocking: the message the delivery thread has taken and sleeps on.
    holding: Option<Queued>,
}

/// What came out of the network.
#[derive(Debug)]
pub enum Delivery {
    /// Write this to the node's stdin.
    Node(NodeIndex, Packet),
    /// Hand this to the service.
    Service(Service, Packet),
    /// Dropped by a partition at the receiving end (journaled as sent, never as received).
    Dropped,
}

/// The network.
#[derive(Debug)]
pub struct Network {
    nodes: Vec<Queue>,
    services: Vec<Queue>,
    /// Times at which some queue may have something to do (stale entries are harmless).
    wakeups: BinaryHeap<Reverse<(Time, Target)>>,
    /// The cut links.
    pub partitions: Partitions,
    hol_blocking: bool,
    seq: u64,
}

fn service_slot(s: Service) -> usize {
    Service::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl Network {
    /// A network for `node_count` nodes.
    pub fn new(node_count: usize, hol_blocking: bool) -> Network {
        Network {
            nodes: (0..node_count).map(|_| Queue::default()).collect(),
            services: (0..Service::ALL.len()).map(|_| Queue::default()).collect(),
            wakeups: BinaryHeap::new(),
            partitions: Partitions::default(),
            hol_blocking,
            seq: 0,
        }
    }

    /// Queue `packet` (to a node or service), sent at `now`, for delivery at `deadline`.
    /// Client-bound packets are a caller bug; they are ignored.
    pub fn enqueue(&mut self, now: Time, deadline: Time, packet: Packet) {
        let target = match packet.dest {
            Endpoint::Node(NodeIndex(i)) if i < self.nodes.len() => Target::Node(i),
            Endpoint::Service(s) => Target::Service(service_slot(s)),
            _ => return,
        };
        self.seq += 1;
        let q = Queued {
            deadline,
            seq: self.seq,
            packet,
        };
        self.queue(target).heap.push(Reverse(q));
        // With head-of-line blocking an idle delivery thread takes the message at once.
        let wake = if self.hol_blocking && matches!(target, Target::Node(_)) {
            now
        } else {
            deadline
        };
        self.wakeups.push(Reverse((wake, target)));
    }

    fn queue(&mut self, t: Target) -> &mut Queue {
        match t {
            Target::Node(i) => &mut self.nodes[i],
            Target::Service(i) => &mut self.services[i],
        }
    }

    /// The earliest time something may be due.
    pub fn next_deadline(&self) -> Option<Time> {
        self.wakeups.peek().map(|Reverse((t, _))| *t)
    }

    /// Messages waiting (or held) for delivery.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.nodes
            .iter()
            .chain(&self.services)
            .map(|q| q.heap.len() + usize::from(q.holding.is_some()))
            .sum()
    }

    /// Deliver everything due at `now`, in order, into `out`.
    pub fn poll(&mut self, now: Time, out: &mut Vec<Delivery>) {
        while let Some(Reverse((t, target))) = self.wakeups.peek().copied() {
            if t > now {
                break;
            }
            self.wakeups.pop();
            // Skip duplicate wake-ups for the same queue at the same time.
            while self
                .wakeups
                .peek()
                .is_some_and(|Reverse(w)| *w == (t, target))
            {
                self.wakeups.pop();
            }
            self.drain(now, target, out);
        }
    }

    fn drain(&mut self, now: Time, target: Target, out: &mut Vec<Delivery>) {
        let hol = self.hol_blocking && matches!(target, Target::Node(_));
        loop {
            let q = self.queue(target);
            if hol {
                if q.holding.is_none() {
                    let Some(Reverse(head)) = q.heap.pop() else {
                        return;
                    };
                    // The partition is checked when the head is taken, before the sleep.
                    if self.partitioned(&head.packet) {
                        out.push(Delivery::Dropped);
                        continue;
                    }
                    self.queue(target).holding = Some(head);
                }
                let q = self.queue(target);
                let Some(deadline) = q.holding.as_ref().map(|h| h.deadline) else {
                    return;
                };
                if deadline > now {
                    self.wakeups.push(Reverse((deadline, target)));
                    return;
                }
                if let Some(h) = q.holding.take() {
                    out.push(Self::delivery(h.packet));
                }
            } else {
                let Some(Reverse(head)) = q.heap.peek() else {
                    return;
                };
                if head.deadline > now {
                    let d = head.deadline;
                    self.wakeups.push(Reverse((d, target)));
                    return;
                }
                let Some(Reverse(head)) = q.heap.pop() else {
                    return;
                };
                if self.partitioned(&head.packet) {
                    out.push(Delivery::Dropped);
                } else {
                    out.push(Self::delivery(head.packet));
                }
            }
        }
    }

    fn partitioned(&self, p: &Packet) -> bool {
        match (p.src, p.dest) {
            (Endpoint::Node(s), Endpoint::Node(d)) => self.partitions.drops(s, d),
            _ => false,
        }
    }

    fn delivery(p: Packet) -> Delivery {
        match p.dest {
            Endpoint::Service(s) => Delivery::Service(s, p),
            Endpoint::Node(n) => Delivery::Node(n, p),
            Endpoint::Client(_) => Delivery::Dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientId, NetId};
    use crate::message::{BodyHead, raw_body};
    use crate::partition::Grudge;
    use serde_json::json;

    fn pkt(id: u64, src: Endpoint, dest: Endpoint) -> Packet {
        Packet {
            id: NetId(id),
            src,
            dest,
            body: raw_body(&json!({})),
            head: BodyHead::default(),
        }
    }
    const N0: Endpoint = Endpoint::Node(NodeIndex(0));
    const N1: Endpoint = Endpoint::Node(NodeIndex(1));
    const C0: Endpoint = Endpoint::Client(ClientId(0));

    fn ids(out: &[Delivery]) -> Vec<u64> {
        out.iter()
            .filter_map(|d| match d {
                Delivery::Node(_, p) | Delivery::Service(_, p) => Some(p.id.0),
                Delivery::Dropped => None,
            })
            .collect()
    }

    #[test]
    fn delivers_in_deadline_order() {
        let mut net = Network::new(2, false);
        net.enqueue(Time::ZERO, Time::from_millis(30), pkt(1, N0, N1));
        net.enqueue(Time::ZERO, Time::from_millis(10), pkt(2, N0, N1));
        assert_eq!(net.next_deadline(), Some(Time::from_millis(10)));
        let mut out = Vec::new();
        net.poll(Time::from_millis(5), &mut out);
        assert!(out.is_empty());
        net.poll(Time::from_millis(40), &mut out);
        assert_eq!(ids(&out), [2, 1]);
        assert_eq!(net.in_flight(), 0);
    }

    #[test]
    fn head_of_line_blocking_delays_client_requests() {
        for (hol, expect_at_0) in [(true, 0), (false, 1)] {
            let mut net = Network::new(2, hol);
            net.enqueue(Time::ZERO, Time::from_millis(100), pkt(1, N1, N0));
            let mut out = Vec::new();
            net.poll(Time::ZERO, &mut out);
            // A client request arrives while the server message is in flight.
            net.enqueue(Time::from_millis(50), Time::from_millis(50), pkt(2, C0, N0));
            net.poll(Time::from_millis(50), &mut out);
            assert_eq!(out.len(), expect_at_0, "hol={hol}");
            net.poll(Time::from_millis(100), &mut out);
            let order = ids(&out);
            if hol {
                assert_eq!(order, [1, 2]);
            } else {
                assert_eq!(order, [2, 1]);
            }
        }
    }

    #[test]
    fn partitions_drop_at_the_receiver() {
        let mut net = Network::new(2, true);
        net.enqueue(Time::ZERO, Time::from_millis(10), pkt(1, N1, N0));
        net.enqueue(Time::ZERO, Time::from_millis(10), pkt(2, C0, N0));
        let mut g = Grudge::new();
        g.insert(NodeIndex(0), [NodeIndex(1)].into_iter().collect());
        net.partitions.apply(&g);
        let mut out = Vec::new();
        net.poll(Time::from_millis(10), &mut out);
        assert!(matches!(out[0], Delivery::Dropped));
        assert!(matches!(out[1], Delivery::Node(NodeIndex(0), _)));
    }
}
