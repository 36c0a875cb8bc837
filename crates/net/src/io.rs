//! Socket I/O: sealing an envelope and opening one (with the replay window), UDP datagrams,
//! and TCP links: the listener, a reader per inbound connection with its limits, and a writer
//! per peer address.
//!
//! An inbound connection is a stranger's until its first frame, a sealed hello, opens under
//! our keys: until then it may buffer one small frame, for a short while, and only so many
//! such connections are open at once. Read buffers grow with the bytes that arrived, never
//! with what a length prefix announced.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::codec::{Encoder, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use crate::NetError;
use crate::keys::OpenError;
use crate::metrics::Counters;
use crate::node::Inner;
use crate::sync::lock;
use crate::wire::{Body, Envelope, decode_envelope, encode_envelope};

/// Nonces seen recently: a replayed message is dropped before it reaches a replica.
#[derive(Default)]
pub(crate) struct Replay {
    set: HashSet<[u8; 24]>,
    order: VecDeque<[u8; 24]>,
}

/// How many nonces are remembered. Older replays still change nothing (the transport drops
/// what it holds, SWIM ignores stale news), they are only not counted as replays.
const REPLAY_WINDOW: usize = 1 << 16;

impl Replay {
    fn seen(&mut self, nonce: [u8; 24]) -> bool {
        if !self.set.insert(nonce) {
            return true;
        }
        self.order.push_back(nonce);
        if self.order.len() > REPLAY_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        false
    }
}

/// The outbound TCP queue to one address.
pub(crate) struct Link {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
}

impl Inner {
    /// `body` in an envelope from this node, sealed.
    pub(crate) fn envelope(&self, body: Body) -> Vec<u8> {
        let env = Envelope {
            from: self.ctx.me,
            body,
        };
        self.sealer.seal(&encode_envelope(&env))
    }

    /// Opens any bytes from the network: `None` (counted) unless they open under our keys (and
    /// our label), are not a replay, decode and come from another node.
    pub(crate) fn open_envelope(&self, bytes: &[u8]) -> Option<Envelope> {
        let c = &self.ctx.counters;
        let (plain, nonce) = match self.sealer.open(bytes) {
            Ok(x) => x,
            Err(OpenError::Unauthentic) => {
                let n = c.refused_unsealed.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1000) {
                    tracing::warn!(
                        refused = n + 1,
                        "messages that no key opens (another cluster or label, or a wrong key)"
                    );
                }
                return None;
            }
            Err(e @ (OpenError::Malformed | OpenError::WrongMode)) => {
                let n = c.refused_malformed.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1000) {
                    tracing::warn!(refused = n + 1, kind = ?e,
                        "malformed messages, or plaintext and sealed nodes mixed");
                }
                return None;
            }
            Err(OpenError::WrongLabel) => {
                Counters::add(&c.refused_label, 1);
                return None;
            }
        };
        if let Some(n) = nonce
            && lock(&self.replay).seen(n)
        {
            Counters::add(&c.replayed, 1);
            return None;
        }
        let Some(env) = decode_envelope(&plain) else {
            Counters::add(&c.refused_invalid, 1);
            return None;
        };
        if env.from == self.ctx.me {
            return None;
        }
        Some(env)
    }

    /// Bytes waiting in TCP queues.
    pub(crate) fn queued_bytes(&self) -> usize {
        lock(&self.links)
            .values()
            .map(|l| l.queued.load(Ordering::Relaxed))
            .sum()
    }

    /// Bytes waiting in TCP queues: all links together, and the fullest one.
    pub(crate) fn queue_depths(&self) -> (usize, usize) {
        lock(&self.links)
            .values()
            .map(|l| l.queued.load(Ordering::Relaxed))
            .fold((0, 0), |(sum, max), q| (sum + q, max.max(q)))
    }

    /// Sends sealed bytes: a datagram if it fits, else a frame on the peer's TCP link.
    pub(crate) fn send(self: &Arc<Self>, to: SocketAddr, sealed: Vec<u8>) {
        #[cfg(feature = "testing")]
        if self.silenced.load(Ordering::Relaxed) {
            return;
        }
        #[cfg(feature = "testing")]
        if let Some(f) = &self.faults {
            for delay in f.decide(to) {
                if delay.is_zero() {
                    self.send_now(to, sealed.clone());
                } else {
                    let me = self.clone();
                    let bytes = sealed.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        me.send_now(to, bytes);
                    });
                }
            }
            return;
        }
        self.send_now(to, sealed);
    }

    fn send_now(self: &Arc<Self>, to: SocketAddr, sealed: Vec<u8>) {
        let c = &self.ctx.counters;
        if sealed.is_empty() {
            return;
        }
        if sealed.len() <= self.limits.max_datagram_bytes {
            match self.udp.try_send_to(&sealed, to) {
                Ok(n) => {
                    Counters::add(&c.udp_sent, 1);
                    Counters::add(&c.udp_sent_bytes, n as u64);
                }
                Err(e) => {
                    Counters::add(&c.udp_send_errors, 1);
                    tracing::debug!(%to, error = %e, "datagram not sent");
                }
            }
            return;
        }
        if sealed.len() > self.limits.max_frame_bytes {
            Counters::add(&c.dropped_too_large, 1);
            tracing::warn!(%to, bytes = sealed.len(), "message larger than a frame, dropped");
            return;
        }
        let mut links = lock(&self.links);
        let link = links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            tokio::spawn(write_link(self.clone(), to, rx, queued.clone()));
            Link { tx, queued }
        });
        let len = sealed.len();
        if link.queued.load(Ordering::Relaxed) + len > self.limits.max_queued_bytes_per_peer {
            Counters::add(&c.dropped_queue_full, 1);
            return;
        }
        link.queued.fetch_add(len, Ordering::Relaxed);
        if link.tx.send(Bytes::from(sealed)).is_err() {
            link.queued.fetch_sub(len, Ordering::Relaxed);
            links.remove(&to);
        }
    }
}

/// Binds UDP and TCP on one port. With port 0 the system picks the UDP port, which TCP may
/// hold elsewhere: then another is tried, a few times.
pub(crate) async fn bind(
    addr: SocketAddr,
) -> Result<(UdpSocket, TcpListener, SocketAddr), NetError> {
    let mut attempts = 0;
    loop {
        let err = |source| NetError::Bind { addr, source };
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let local_addr = udp.local_addr().map_err(err)?;
        match TcpListener::bind(local_addr).await {
            Ok(tcp) => return Ok((udp, tcp, local_addr)),
            Err(_) if addr.port() == 0 && attempts < 8 => attempts += 1,
            Err(source) => {
                return Err(NetError::Bind {
                    addr: local_addr,
                    source,
                });
            }
        }
    }
}

/// Accepts TCP connections and spawns a reader for each, within the per-address limit and the
/// limit on connections still waiting for their hello.
pub(crate) async fn listen(
    inner: Arc<Inner>,
    listener: TcpListener,
    inbound: mpsc::Sender<Vec<u8>>,
) {
    let waiting: Arc<std::sync::Mutex<Waiting>> = Arc::default();
    loop {
        let accepted = tokio::select! {
            _ = inner.cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let c = &inner.ctx.counters;
        {
            let mut conns = lock(&inner.connections);
            let n = conns.entry(peer.ip()).or_insert(0);
            if *n >= inner.limits.max_connections_per_ip {
                Counters::add(&c.refused_connections, 1);
                continue;
            }
            *n += 1;
        }
        let (id, evict) = {
            let mut w = lock(&waiting);
            if w.queue.len() >= inner.limits.max_unauthenticated_connections
                && let Some((_, oldest)) = w.queue.pop_front()
            {
                oldest.cancel();
                let n = c.evicted_unauthenticated.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1000) {
                    tracing::warn!(%peer, evicted = n + 1,
                        "connections waiting for their hello closed to make room for newer ones");
                }
            }
            let id = w.next;
            w.next += 1;
            let evict = CancellationToken::new();
            w.queue.push_back((id, evict.clone()));
            (id, evict)
        };
        Counters::add(&c.tcp_unauthenticated, 1);
        Counters::add(&c.tcp_accepted, 1);
        let unproven = Unproven {
            inner: inner.clone(),
            waiting: waiting.clone(),
            id,
            evict,
        };
        tokio::spawn(read_link(
            inner.clone(),
            stream,
            peer,
            inbound.clone(),
            unproven,
        ));
    }
}

/// Counts a connection down when its reader ends.
struct ConnGuard(Arc<Inner>, IpAddr);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut conns = lock(&self.0.connections);
        if let Some(n) = conns.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                conns.remove(&self.1);
            }
        }
    }
}

/// Inbound connections waiting for their hello, oldest first. When
/// `max_unauthenticated_connections` wait, a new connection closes the oldest: a stranger who
/// fills every place keeps an honest node out only until that node's next connection, which
/// sends its hello at once, not for as long as the stranger refills them.
#[derive(Debug, Default)]
struct Waiting {
    next: u64,
    queue: VecDeque<(u64, CancellationToken)>,
}

/// An inbound connection waiting for its hello: holds a place among
/// `max_unauthenticated_connections` until it authenticates, closes or is evicted.
struct Unproven {
    inner: Arc<Inner>,
    waiting: Arc<std::sync::Mutex<Waiting>>,
    id: u64,
    /// Cancelled when a newer connection takes this one's place.
    evict: CancellationToken,
}

impl Drop for Unproven {
    fn drop(&mut self) {
        let mut w = lock(&self.waiting);
        if let Some(i) = w.queue.iter().position(|(id, _)| *id == self.id) {
            w.queue.remove(i);
        }
        drop(w);
        Counters::sub(&self.inner.ctx.counters.tcp_unauthenticated, 1);
    }
}

/// The most a read buffer grows by at a time, so that it grows with the bytes that arrived,
/// never with what a length prefix announced.
const READ_CHUNK: usize = 64 * 1024;

/// Why no frame could be read.
#[derive(Debug)]
enum FrameError {
    /// The length prefix announced more than the limit in force.
    TooLarge { announced: usize },
    /// The connection ended in the middle of a frame, or failed.
    Broken,
}

/// Reads one frame (a 4-byte big-endian length, then that many bytes) of at most `limit`
/// bytes; `None` when the connection ends cleanly between frames. Bytes past the frame stay
/// in `buf` for the next call.
async fn read_frame(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        let want = match buf.get(..4) {
            Some(head) => {
                let mut len = [0u8; 4];
                len.copy_from_slice(head);
                let announced = u32::from_be_bytes(len) as usize;
                if announced > limit {
                    return Err(FrameError::TooLarge { announced });
                }
                if buf.len() >= 4 + announced {
                    buf.advance(4);
                    let frame = buf.split_to(announced).to_vec();
                    if buf.is_empty() && buf.capacity() > READ_CHUNK {
                        // Let go of what a large frame needed.
                        *buf = BytesMut::new();
                    }
                    return Ok(Some(frame));
                }
                4 + announced - buf.len()
            }
            None => 4 - buf.len(),
        };
        // Grow only once what was reserved is full: then capacity stays within twice what
        // arrived, or what arrived plus one step.
        if buf.len() == buf.capacity() {
            buf.reserve(want.min(READ_CHUNK));
        }
        match stream.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return Err(FrameError::Broken),
            Ok(_) => {}
        }
    }
}

/// Reads an inbound connection: first its hello, within `unauthenticated_timeout` and
/// `max_unauthenticated_frame_bytes`, then frames up to `max_frame_bytes` for the driver.
async fn read_link(
    inner: Arc<Inner>,
    mut stream: TcpStream,
    peer: SocketAddr,
    inbound: mpsc::Sender<Vec<u8>>,
    unproven: Unproven,
) {
    let _guard = ConnGuard(inner.clone(), peer.ip());
    let c = &inner.ctx.counters;
    let limits = &inner.limits;
    let mut buf = BytesMut::new();
    let first = tokio::select! {
        _ = inner.cancel.cancelled() => return,
        _ = unproven.evict.cancelled() => {
            tracing::debug!(%peer, "no hello yet and a newer connection needs the place: closed");
            return;
        }
        _ = tokio::time::sleep(limits.unauthenticated_timeout) => {
            Counters::add(&c.refused_hello_late, 1);
            tracing::debug!(%peer, "no hello in time, connection closed");
            return;
        }
        f = read_frame(&mut stream, &mut buf, limits.max_unauthenticated_frame_bytes) => f,
    };
    match first {
        Ok(Some(frame)) => {
            Counters::add(&c.tcp_received, 1);
            Counters::add(&c.tcp_received_bytes, frame.len() as u64 + 4);
            let hello = inner.open_envelope(&frame);
            if !matches!(
                hello,
                Some(Envelope {
                    body: Body::Hello,
                    ..
                })
            ) {
                Counters::add(&c.refused_hello, 1);
                tracing::debug!(%peer, "first frame is not a hello, connection closed");
                return;
            }
        }
        Ok(None) | Err(FrameError::Broken) => return,
        Err(FrameError::TooLarge { announced }) => {
            Counters::add(&c.refused_frame_too_large, 1);
            tracing::debug!(%peer, announced, "first frame over the hello's limit, connection closed");
            return;
        }
    }
    drop(unproven);
    Counters::add(&c.tcp_authenticated, 1);
    loop {
        let read = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            f = read_frame(&mut stream, &mut buf, limits.max_frame_bytes) => f,
        };
        match read {
            Ok(Some(frame)) => {
                Counters::add(&c.tcp_received, 1);
                Counters::add(&c.tcp_received_bytes, frame.len() as u64 + 4);
                if inbound.send(frame).await.is_err() {
                    return;
                }
            }
            Ok(None) | Err(FrameError::Broken) => return,
            Err(FrameError::TooLarge { announced }) => {
                Counters::add(&c.refused_frame_too_large, 1);
                tracing::warn!(%peer, announced, "frame over the size limit, connection closed");
                return;
            }
        }
    }
}

/// Sends one peer's frames over TCP, connecting (and reconnecting with backoff) as needed.
async fn write_link(
    inner: Arc<Inner>,
    to: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
) {
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(inner.limits.max_frame_bytes)
        .new_codec();
    let mut backoff = Duration::from_millis(50);
    let mut stream: Option<TcpStream> = None;
    let mut out = BytesMut::new();
    loop {
        let frame = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            f = rx.recv() => match f { Some(f) => f, None => return },
        };
        let len = frame.len();
        out.clear();
        if codec.encode(frame, &mut out).is_err() {
            queued.fetch_sub(len, Ordering::Relaxed);
            continue;
        }
        // Try to deliver this frame, reconnecting as needed; give up on it (anti-entropy
        // repairs) once the peer has been unreachable for a while.
        let mut attempts = 0;
        loop {
            if stream.is_none() {
                let connect = tokio::select! {
                    _ = inner.cancel.cancelled() => return,
                    c = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(to)) => c,
                };
                match connect {
                    Ok(Ok(mut s)) => {
                        let _ = s.set_nodelay(true);
                        Counters::add(&inner.ctx.counters.tcp_connects, 1);
                        // Every connection opens with a hello, sealed afresh (a replayed one
                        // is refused), so the listener reads our larger frames.
                        let mut hello = BytesMut::new();
                        let sealed = Bytes::from(inner.envelope(Body::Hello));
                        if codec.encode(sealed, &mut hello).is_ok()
                            && s.write_all(&hello).await.is_ok()
                        {
                            let c = &inner.ctx.counters;
                            Counters::add(&c.tcp_sent, 1);
                            Counters::add(&c.tcp_sent_bytes, hello.len() as u64);
                            stream = Some(s);
                            backoff = Duration::from_millis(50);
                        }
                    }
                    _ => {
                        Counters::add(&inner.ctx.counters.tcp_connect_errors, 1);
                        if attempts == 0 {
                            tracing::debug!(%to, "cannot connect; retrying with backoff");
                        }
                    }
                }
            }
            if let Some(s) = stream.as_mut() {
                match s.write_all(&out).await {
                    Ok(()) => {
                        let c = &inner.ctx.counters;
                        Counters::add(&c.tcp_sent, 1);
                        Counters::add(&c.tcp_sent_bytes, out.len() as u64);
                        break;
                    }
                    Err(_) => stream = None,
                }
            }
            attempts += 1;
            if attempts >= 4 {
                break;
            }
            tokio::select! {
                _ = inner.cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        queued.fetch_sub(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use gossip_crdt::GSet;
    use gossip_transport::{Ack, Packet, ReplicaId, Run};

    use super::*;
    use crate::config::MIN_UNAUTHENTICATED_FRAME;
    use crate::keys::{Keyring, SEAL_OVERHEAD, Sealer};
    use crate::wire::encode_packet;

    #[test]
    fn the_largest_hello_fits_the_least_unauthenticated_frame() {
        let label = "l".repeat(255);
        let env = Envelope {
            from: uuid::Uuid::from_u128(u128::MAX),
            body: Body::Hello,
        };
        let plain = encode_envelope(&env);
        let sealed = Sealer::new(Some(&Keyring::generate()), &label).seal(&plain);
        let insecure = Sealer::new(None, &label).seal(&plain);
        assert_eq!(sealed.len(), SEAL_OVERHEAD + 16 + 1);
        assert!(insecure.len() < 400, "{} bytes", insecure.len());
        assert!(insecure.len() <= MIN_UNAUTHENTICATED_FRAME);
    }

    fn sealed_size(sealer: &Sealer, packet: &Packet<GSet<u64>>) -> usize {
        let env = Envelope {
            from: uuid::Uuid::from_u128(u128::MAX),
            body: Body::Packet {
                replica: "bench".to_string(),
                bytes: encode_packet(packet),
            },
        };
        sealer.seal(&encode_envelope(&env)).len()
    }

    /// What every datagram pays besides its deltas. A packet's incarnations are random, so
    /// the largest values are the usual ones.
    #[test]
    fn a_sealed_packet_pays_a_small_fixed_cost() {
        let key = Keyring::generate();
        let sealer = Sealer::new(Some(&key), "default");
        let ack = Packet {
            to: Some(u64::MAX),
            ack: Some(Ack {
                inc: u64::MAX,
                seq: 1000,
                to: None,
            }),
            ..Packet::new(u64::MAX)
        };
        let mut delta = GSet::new();
        let _ = delta.insert(7u64);
        let push = Packet {
            seq: Some((1000, 1000)),
            runs: Arc::new(vec![Run {
                origin: ReplicaId((1 << 53) - 1),
                first: 1000,
                deltas: vec![delta],
            }]),
            ..ack.clone()
        };
        // Sealing, the sender's id, the body's kind, the replica's name and the packet's
        // length; then the packet: its field bits, `inc`, `to`, and the acknowledgement's
        // incarnation and sequence number.
        let envelope = SEAL_OVERHEAD + 16 + 1 + 6 + 1;
        assert_eq!(sealed_size(&sealer, &ack), envelope + 1 + 8 + 8 + 8 + 2);
        // The push adds `seq` (from, and how many more) and one run: the list's length,
        // origin, first sequence number, the deltas' count and the delta (2 bytes).
        assert_eq!(
            sealed_size(&sealer, &push),
            envelope + 1 + 8 + 8 + 8 + 2 + (2 + 1) + (1 + 8 + 2 + 1 + 2)
        );
        // The label is bound, not sent.
        let long = Sealer::new(Some(&key), &"l".repeat(255));
        assert_eq!(sealed_size(&long, &push), sealed_size(&sealer, &push));
    }

    #[tokio::test]
    async fn a_read_buffer_grows_with_what_arrived_not_with_what_was_announced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        // Announces 4 MiB, sends 10 bytes, then closes.
        client
            .write_all(&(4u32 << 20).to_be_bytes())
            .await
            .expect("write");
        client.write_all(&[7; 10]).await.expect("write");
        drop(client);
        let mut buf = BytesMut::new();
        let read = read_frame(&mut server, &mut buf, 4 << 20).await;
        assert!(matches!(read, Err(FrameError::Broken)));
        assert_eq!(buf.len(), 14);
        assert!(
            buf.capacity() < READ_CHUNK + 1024,
            "capacity {}",
            buf.capacity()
        );
    }

    #[tokio::test]
    async fn frames_are_read_whole_and_one_over_the_limit_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let mut bytes = Vec::new();
        for frame in [&[1u8, 2, 3][..], &[], &[9; 100_000]] {
            bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            bytes.extend_from_slice(frame);
        }
        bytes.extend_from_slice(&100_001u32.to_be_bytes());
        client.write_all(&bytes).await.expect("write");
        drop(client);
        let mut buf = BytesMut::new();
        let limit = 100_000;
        let mut frames = Vec::new();
        let end = loop {
            match read_frame(&mut server, &mut buf, limit).await {
                Ok(Some(f)) => frames.push(f),
                other => break other,
            }
        };
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], vec![1, 2, 3]);
        assert!(frames[1].is_empty());
        assert_eq!(frames[2], vec![9; 100_000]);
        assert!(matches!(
            end,
            Err(FrameError::TooLarge { announced: 100_001 })
        ));
    }
}
