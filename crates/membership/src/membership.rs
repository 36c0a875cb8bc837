//! `Membership`: foca's SWIM behind a bytes-and-time interface.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use foca::{Foca, Member, NoCustomBroadcast, OwnedNotification, PostcardCodec};
use gossip_transport::Time;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::outbox::{Outbox, TAG_LEFT, TAG_SWIM, TAG_SYNC};
use crate::{
    Config, Identity, MemberEvent, MemberInfo, MemberState, MembershipError, NodeId, Stats,
};

/// How many known members, besides the seeds, a node that is not connected asks to let it in
/// at each attempt: any one that answers reconnects it.
const REJOIN_MEMBERS: usize = 3;

/// Keeps the departure-notice randomness apart from foca's, though both come from one seed.
const LEAVE_RNG_SALT: u64 = 0x3c6e_f372_fe94_f82b;

type Swim = Foca<Identity, PostcardCodec, Xoshiro256PlusPlus, NoCustomBroadcast>;

/// A departure notice: `who` left; `from` passes the news on.
#[derive(Debug, Serialize, Deserialize)]
struct LeftNotice {
    who: Identity,
    from: Uuid,
}

/// A push-pull state exchange: (part of) everything `from` knows of the membership. The first
/// part of a push asks for the receiver's state in return.
#[derive(Debug, Serialize, Deserialize)]
struct Sync {
    from: Identity,
    reply: bool,
    members: Vec<Member<Identity>>,
}

/// SWIM membership of one node, sans-IO: fed bytes and time, it returns bytes to send, events
/// and its next deadline. It never reads a clock, opens a socket or spawns.
///
/// # Driving it
///
/// Methods come in four families, like `quinn-proto`'s `Connection`:
/// - getters: [`me`](Self::me), [`members`](Self::members), [`active_ids`](Self::active_ids),
///   [`stats`](Self::stats);
/// - inputs: [`handle_data`](Self::handle_data) for a received packet,
///   [`handle_timeout`](Self::handle_timeout) when the deadline passes;
/// - commands: [`join`](Self::join), [`leave`](Self::leave);
/// - outputs: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// After every input or command, drain `poll_transmit` and `poll_event` until `None`, then
/// re-arm one timer at `poll_timeout`. `now` must never go backwards (an earlier `now` is
/// taken as the latest seen). Packets go to the address given, over an unreliable datagram
/// transport; SWIM tolerates loss, duplication and reordering.
///
/// ```
/// use gossip_membership::{Config, Identity, Membership};
/// use gossip_transport::Time;
/// use uuid::Uuid;
///
/// let a_addr = "10.0.0.1:7000".parse().unwrap();
/// let b_addr = "10.0.0.2:7000".parse().unwrap();
/// let mut a = Membership::new(Identity::new(Uuid::from_u128(1), a_addr, 1), Config::lan(), 1);
/// let mut b = Membership::new(Identity::new(Uuid::from_u128(2), b_addr, 1), Config::lan(), 2);
/// b.join(Time::ZERO, a_addr).unwrap();
///
/// // A perfect network: deliver everything until both fall silent.
/// let mut in_flight = true;
/// while in_flight {
///     in_flight = false;
///     while let Some((to, bytes)) = b.poll_transmit() {
///         assert_eq!(to, a_addr);
///         a.handle_data(Time::ZERO, &bytes).unwrap();
///         in_flight = true;
///     }
///     while let Some((to, bytes)) = a.poll_transmit() {
///         assert_eq!(to, b_addr);
///         b.handle_data(Time::ZERO, &bytes).unwrap();
///         in_flight = true;
///     }
/// }
/// assert_eq!(a.active_ids(), vec![Uuid::from_u128(2)]);
/// assert_eq!(b.active_ids(), vec![Uuid::from_u128(1)]);
/// ```
pub struct Membership {
    swim: Swim,
    out: Outbox,
    events: VecDeque<MemberEvent>,
    /// Identities known to have left on purpose, reported as `Left` rather than `Down`. Kept
    /// only while SWIM still remembers the identity.
    left: BTreeSet<Identity>,
    /// Chooses whom to tell of a departure.
    rng: Xoshiro256PlusPlus,
    config: Config,
    has_left: bool,
    /// Addresses given to [`join`](Membership::join): asked again while this node is not
    /// connected.
    seeds: Vec<SocketAddr>,
    /// When to ask the seeds (and a few known members) again, while not connected.
    rejoin_at: Option<Time>,
    /// Whether SWIM is connected: it knows an active member and is probing. False before the
    /// first member, when every member is gone, and after a renewal until a member answers.
    connected: bool,
    /// SWIM declared this identity down and could not renew it: asking to be let in again
    /// is pointless until the node restarts.
    defunct: bool,
    /// When to exchange full state with a random member next.
    sync_at: Option<Time>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("me", self.swim.identity())
            .field("active", &self.swim.num_members())
            .field("has_left", &self.has_left)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// A node `me`, alone until it [joins](Self::join) or is joined. `seed` steers every
    /// random choice (whom to probe, whom to gossip to).
    pub fn new(me: Identity, config: Config, seed: u64) -> Membership {
        let swim = Foca::new(
            me,
            config.swim.clone(),
            Xoshiro256PlusPlus::seed_from_u64(seed),
            PostcardCodec,
        );
        Membership {
            swim,
            out: Outbox {
                now: Time::ZERO,
                next_timer: 0,
                timers: BTreeMap::new(),
                transmit: VecDeque::new(),
                notifications: Vec::new(),
                stats: Stats::default(),
            },
            events: VecDeque::new(),
            left: BTreeSet::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ LEAVE_RNG_SALT),
            config,
            has_left: false,
            seeds: Vec::new(),
            rejoin_at: None,
            connected: false,
            defunct: false,
            sync_at: None,
        }
    }

    // ---- getters -------------------------------------------------------------

    /// This node's current identity (renewed if it was declared down).
    pub fn me(&self) -> &Identity {
        self.swim.identity()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every member this node knows of, itself included, sorted by address. Down and left
    /// members stay listed until SWIM forgets them (`Config::swim.remove_down_after`).
    pub fn members(&self) -> Vec<MemberInfo> {
        let me = *self.me();
        let mut members: Vec<MemberInfo> = self
            .swim
            .iter_membership_state()
            .map(|m| {
                let id = *m.id();
                let state = match m.state() {
                    foca::State::Alive => MemberState::Alive,
                    foca::State::Suspect => MemberState::Suspect,
                    foca::State::Down if self.left.contains(&id) => MemberState::Left,
                    foca::State::Down => MemberState::Down,
                };
                MemberInfo {
                    id: id.id,
                    addr: id.addr,
                    state,
                    incarnation: id.generation,
                    refutations: m.incarnation(),
                }
            })
            .collect();
        members.push(MemberInfo {
            id: me.id,
            addr: me.addr,
            state: if self.has_left {
                MemberState::Left
            } else {
                MemberState::Alive
            },
            incarnation: me.generation,
            refutations: 0,
        });
        members.sort_by_key(|m| (m.addr, m.id));
        members
    }

    /// The ids of the other active (alive or suspect) members, sorted and without
    /// duplicates: the member list for `Replicator::set_members`. Empty once this node left.
    pub fn active_ids(&self) -> Vec<NodeId> {
        if self.has_left {
            return Vec::new();
        }
        let me = self.me().id;
        let mut ids: Vec<NodeId> = self
            .swim
            .iter_members()
            .map(|m| m.id().id)
            .filter(|id| *id != me)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Where each active member receives packets, by node id (the latest identity wins if a
    /// node id is listed at two addresses).
    pub fn addr_of(&self, id: NodeId) -> Option<SocketAddr> {
        self.swim
            .iter_members()
            .filter(|m| m.id().id == id)
            .max_by_key(|m| m.id().generation)
            .map(|m| m.id().addr)
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn has_left(&self) -> bool {
        self.has_left
    }

    /// Traffic and refusal counters.
    pub fn stats(&self) -> &Stats {
        &self.out.stats
    }

    // ---- inputs --------------------------------------------------------------

    /// Handles a packet received from the network. On `Err` the packet was refused and
    /// nothing changed (see [`MembershipError`] for which errors mean a misbehaving peer).
    pub fn handle_data(&mut self, now: Time, bytes: &[u8]) -> Result<(), MembershipError> {
        self.clock(now);
        self.out.stats.packets_received += 1;
        self.out.stats.bytes_received += bytes.len() as u64;
        if self.has_left {
            return Ok(());
        }
        let result = match bytes.split_first() {
            None => Err(MembershipError::Empty),
            Some((&TAG_SWIM, rest)) => self
                .swim
                .handle_data(rest, &mut self.out)
                .map_err(MembershipError::Swim),
            Some((&TAG_LEFT, rest)) => match postcard::from_bytes::<LeftNotice>(rest) {
                Ok(notice) => self.heard_left(notice),
                Err(e) => Err(MembershipError::Malformed {
                    what: "departure notice",
                    detail: e.to_string(),
                }),
            },
            Some((&TAG_SYNC, _)) if bytes.len() > self.config.swim.max_packet_size.get() => {
                Err(MembershipError::Malformed {
                    what: "state exchange",
                    detail: format!("{} bytes, over the packet size limit", bytes.len()),
                })
            }
            Some((&TAG_SYNC, rest)) => match postcard::from_bytes::<Sync>(rest) {
                Ok(sync) => self.heard_sync(sync),
                Err(e) => Err(MembershipError::Malformed {
                    what: "state exchange",
                    detail: e.to_string(),
                }),
            },
            Some((&tag, _)) => Err(MembershipError::UnknownKind { tag }),
        };
        if result.is_err() {
            self.out.stats.refused += 1;
        }
        self.after_input();
        result
    }

    /// Fires every timer due at `now`. Call it when [`poll_timeout`](Self::poll_timeout)'s
    /// deadline has passed (calling it early does nothing).
    pub fn handle_timeout(&mut self, now: Time) {
        let now = self.clock(now);
        while let Some(entry) = self.out.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            if self.has_left {
                continue;
            }
            if self.swim.handle_timer(timer, &mut self.out).is_err() {
                self.out.stats.internal_errors += 1;
            }
        }
        if self.rejoin_at.is_some_and(|at| at <= now) {
            self.rejoin_at = None;
            self.ask_to_be_let_in();
        }
        if self.sync_at.is_some_and(|at| at <= now) {
            self.sync_at = None;
            self.sync_with_random_member();
        }
        // Forget departures SWIM itself no longer remembers, so the set stays bounded.
        if !self.left.is_empty() {
            let known: BTreeSet<Identity> =
                self.swim.iter_membership_state().map(|m| *m.id()).collect();
            self.left.retain(|id| known.contains(id));
        }
        self.after_input();
    }

    // ---- commands ------------------------------------------------------------

    /// Asks the member at `seed` to let this node in. Safe to repeat, and to call for several
    /// seeds. The seeds are remembered: whenever this node is not connected (it has not been
    /// let in yet, everyone it knew is gone, or it renewed its identity and nobody has spoken
    /// to the new one) it asks them all again, with a few members it still knows, every
    /// [`Config::rejoin_interval`], so a seed that was unreachable for a while is not fatal.
    pub fn join(&mut self, now: Time, seed: SocketAddr) -> Result<(), MembershipError> {
        self.clock(now);
        if self.has_left {
            return Err(MembershipError::HasLeft);
        }
        if seed == self.me().addr {
            return Err(MembershipError::JoinSelf { addr: seed });
        }
        if !self.seeds.contains(&seed) {
            self.seeds.push(seed);
        }
        let result = self
            .swim
            .announce(Identity::seed(seed), &mut self.out)
            .map_err(MembershipError::Swim);
        self.after_input();
        result
    }

    /// Leaves the cluster for good: tells a few members (who pass it on) that this node left,
    /// and declares its own identity down. Afterwards every input is ignored and no timer is
    /// set; to come back, start a new `Membership` with a new identity.
    pub fn leave(&mut self, now: Time) -> Result<(), MembershipError> {
        self.clock(now);
        if self.has_left {
            return Ok(());
        }
        let me = *self.me();
        self.tell_left(me, &[]);
        let result = self
            .swim
            .leave_cluster(&mut self.out)
            .map_err(MembershipError::Swim);
        self.has_left = true;
        self.out.timers.clear();
        self.rejoin_at = None;
        self.sync_at = None;
        self.after_input();
        result
    }

    // ---- outputs -------------------------------------------------------------

    /// The next packet to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.transmit.pop_front()
    }

    /// The next membership event.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        let swim = self.out.timers.first_key_value().map(|((at, _), _)| *at);
        [swim, self.rejoin_at, self.sync_at]
            .into_iter()
            .flatten()
            .min()
    }

    // ---- internals -----------------------------------------------------------

    fn clock(&mut self, now: Time) -> Time {
        self.out.now = self.out.now.max(now);
        self.out.now
    }

    /// While not connected, asks every seed, and a few of the members it still knows, to let
    /// this node in, and plans to ask again.
    ///
    /// A node that renewed its identity (it was declared down) still knows members, but SWIM
    /// stops probing until one of them speaks to the new identity, and they know only the old
    /// one: if the burst announcing the renewal is lost, nothing else would reconnect it
    /// before the others' occasional announcements to down members.
    fn ask_to_be_let_in(&mut self) {
        if self.has_left || self.connected || self.defunct {
            return;
        }
        let mut members: Vec<SocketAddr> = self
            .swim
            .iter_members()
            .map(|m| m.id().addr)
            .filter(|a| !self.seeds.contains(a))
            .collect();
        members.sort();
        members.shuffle(&mut self.rng);
        members.truncate(REJOIN_MEMBERS);
        let targets: Vec<SocketAddr> = self.seeds.iter().copied().chain(members).collect();
        if targets.is_empty() {
            return;
        }
        for to in targets {
            if self
                .swim
                .announce(Identity::seed(to), &mut self.out)
                .is_err()
            {
                self.out.stats.internal_errors += 1;
            }
        }
        self.rejoin_at = Some(self.out.now + self.config.rejoin_interval);
    }

    /// Starts a state exchange with one active member chosen at random, if there is one.
    fn sync_with_random_member(&mut self) {
        let mut peers: Vec<SocketAddr> = self.swim.iter_members().map(|m| m.id().addr).collect();
        peers.sort();
        if let Some(&peer) = peers.get(self.rng.random_range(0..peers.len().max(1))) {
            self.send_state(peer, true);
        }
    }

    /// Sends everything this node knows of the membership (itself included) to `to`, in as
    /// many packets as the size limit needs; the first asks for the peer's state if `ask`.
    fn send_state(&mut self, to: SocketAddr, ask: bool) {
        let me = *self.me();
        let mut members: Vec<Member<Identity>> =
            self.swim.iter_membership_state().cloned().collect();
        // Alive at refutation count 0: never overrides what the peer knows of this life.
        members.push(Member::alive(me));
        let empty = Sync {
            from: me,
            reply: ask,
            members: Vec::new(),
        };
        // The header, a tag byte, and room for the member count (a varint up to 3 bytes).
        let overhead = postcard::to_allocvec(&empty)
            .map_or(usize::MAX, |b| b.len())
            .saturating_add(3);
        let budget = self
            .config
            .swim
            .max_packet_size
            .get()
            .saturating_sub(overhead);
        let mut part = Vec::new();
        let mut used = 0;
        let mut first = true;
        for member in members {
            let size = postcard::to_allocvec(&member).map_or(usize::MAX, |b| b.len());
            if size > budget {
                continue;
            }
            if used + size > budget {
                self.send_sync(to, me, ask && first, std::mem::take(&mut part));
                first = false;
                used = 0;
            }
            used += size;
            part.push(member);
        }
        if !part.is_empty() {
            self.send_sync(to, me, ask && first, part);
        }
    }

    fn send_sync(
        &mut self,
        to: SocketAddr,
        from: Identity,
        reply: bool,
        members: Vec<Member<Identity>>,
    ) {
        let sync = Sync {
            from,
            reply,
            members,
        };
        // Identities and members always encode; a failure would be an encoder bug, and the
        // exchange is only a shortcut for what gossip spreads anyway.
        if let Ok(bytes) = postcard::to_allocvec(&sync) {
            self.out.send(to, TAG_SYNC, &bytes);
        }
    }

    fn heard_sync(&mut self, sync: Sync) -> Result<(), MembershipError> {
        let Sync {
            from,
            reply,
            members,
        } = sync;
        if from.addr == self.me().addr {
            return Err(MembershipError::Malformed {
                what: "state exchange",
                detail: "it claims to come from this node's address".into(),
            });
        }
        self.swim
            .apply_many(members.into_iter(), true, &mut self.out)
            .map_err(MembershipError::Swim)?;
        if reply {
            self.send_state(from.addr, false);
        }
        Ok(())
    }

    fn heard_left(&mut self, notice: LeftNotice) -> Result<(), MembershipError> {
        let LeftNotice { who, from } = notice;
        if who.addr == self.me().addr || who.id == self.me().id {
            // Only a node itself may say it left; a notice naming us is stale or forged.
            return Err(MembershipError::Malformed {
                what: "departure notice",
                detail: "it names this node".into(),
            });
        }
        if !self.left.insert(who) {
            return Ok(());
        }
        self.tell_left(who, &[from]);
        let already_down = self
            .swim
            .iter_membership_state()
            .any(|m| *m.id() == who && m.state() == foca::State::Down);
        if already_down {
            // SWIM heard of the departure first and reported it as `Down`; now we know better.
            self.events.push_back(MemberEvent::Left(who));
            return Ok(());
        }
        self.swim
            .apply_many(std::iter::once(Member::down(who)), true, &mut self.out)
            .map_err(MembershipError::Swim)
    }

    /// Sends a departure notice for `who` to up to `leave_fanout` active members.
    fn tell_left(&mut self, who: Identity, skip: &[Uuid]) {
        let me = *self.me();
        let mut targets: Vec<SocketAddr> = self
            .swim
            .iter_members()
            .map(|m| *m.id())
            .filter(|m| m.addr != who.addr && m.id != who.id && !skip.contains(&m.id))
            .map(|m| m.addr)
            .collect();
        targets.shuffle(&mut self.rng);
        targets.truncate(self.config.leave_fanout);
        if targets.is_empty() {
            return;
        }
        let notice = LeftNotice { who, from: me.id };
        // An identity and a UUID always encode: a failure here could only be a bug in the
        // encoder, and the departure is then still seen, as `Down`.
        let Ok(bytes) = postcard::to_allocvec(&notice) else {
            return;
        };
        for to in targets {
            self.out.send(to, TAG_LEFT, &bytes);
        }
    }

    /// Turns foca's notifications into events.
    fn after_input(&mut self) {
        let mut just_connected = false;
        for notification in self.out.notifications.drain(..) {
            match notification {
                OwnedNotification::Active => {
                    self.connected = true;
                    just_connected = true;
                }
                OwnedNotification::Idle | OwnedNotification::Rejoin(_) => {
                    self.connected = false;
                    just_connected = false;
                }
                OwnedNotification::Defunct => {
                    self.connected = false;
                    self.defunct = true;
                    just_connected = false;
                }
                _ => {}
            }
            let event = match notification {
                OwnedNotification::MemberUp(id) => MemberEvent::Up(id),
                OwnedNotification::MemberDown(id) if self.left.contains(&id) => {
                    MemberEvent::Left(id)
                }
                OwnedNotification::MemberDown(id) => MemberEvent::Down(id),
                OwnedNotification::Rename(from, to) => MemberEvent::Renamed { from, to },
                OwnedNotification::Active => MemberEvent::Connected,
                OwnedNotification::Idle => MemberEvent::Isolated,
                OwnedNotification::Defunct => MemberEvent::Defunct,
                OwnedNotification::Rejoin(id) => MemberEvent::Rejoined(id),
                // Diagnostics behind foca's `unstable-notifications` feature, if another
                // crate turns it on: not membership changes.
                #[allow(unreachable_patterns)]
                _ => continue,
            };
            self.events.push_back(event);
        }
        if just_connected && !self.has_left {
            // Let in (a join, a return from isolation, a renewal taken back): swap whole
            // states with a member at once, as memberlist does on join. The feed that let this
            // node in names only a few members, and gossip carries only recent changes, so
            // without it the others would come in one periodic exchange later.
            self.sync_with_random_member();
        }
        if self.sync_at.is_none()
            && !self.has_left
            && self.swim.num_members() > 0
            && let Some(interval) = self.config.sync_interval
        {
            // Scaled with the cluster as memberlist does, so the per-member cost of the
            // exchanges stays about flat; started at a random offset so members do not
            // synchronise.
            let scaled = interval.mul_f64(sync_scale(self.swim.num_members() + 1));
            let offset = scaled.mul_f64(self.rng.random_range(0.5..1.5));
            self.sync_at = Some(self.out.now + offset);
        }
        if self.rejoin_at.is_none()
            && !self.has_left
            && !self.connected
            && !self.defunct
            && (!self.seeds.is_empty() || self.swim.num_members() > 0)
        {
            self.rejoin_at = Some(self.out.now + self.config.rejoin_interval);
        }
    }
}

/// memberlist's push-pull scale: 1 up to 32 members, then one more per doubling.
fn sync_scale(members: usize) -> f64 {
    const BASE: f64 = 32.0;
    let n = members as f64;
    if n <= BASE {
        1.0
    } else {
        (n.log2() - BASE.log2()).ceil() + 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell moves the membership into its task.
    #[test]
    fn a_membership_can_move_between_threads() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Membership>();
    }

    #[test]
    fn only_membership_changes_ask_for_a_new_member_list() {
        let id = Identity::new(Uuid::from_u128(1), SocketAddr::from(([10, 0, 0, 1], 1)), 1);
        assert!(MemberEvent::Up(id).changes_members());
        assert!(MemberEvent::Left(id).changes_members());
        assert!(!MemberEvent::Connected.changes_members());
        assert!(!MemberEvent::Rejoined(id).changes_members());
    }
}
