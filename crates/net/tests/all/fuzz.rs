//! The unsealer, the decoders and the SWIM engine take any bytes without panicking, and
//! nothing but an untouched sealed message opens, transport packets and membership packets
//! alike. Cases: `GOSSIP_FUZZ_CASES` (default 10,000); a long run is
//! `GOSSIP_FUZZ_CASES=1000000 cargo test -p gossip-net --release --test all fuzz::`.

use gossip_net::Keyring;
use gossip_net::fuzz::{
    decode_gset_packet, handle_membership_packet, open_and_decode, open_and_handle_membership,
    valid_membership_message, valid_message,
};
use quickcheck::{QuickCheck, TestResult};
use std::sync::OnceLock;

fn key() -> &'static Keyring {
    static KEY: OnceLock<Keyring> = OnceLock::new();
    KEY.get_or_init(Keyring::generate)
}

fn cases() -> u64 {
    std::env::var("GOSSIP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn check<P: quickcheck::Testable>(prop: P) {
    let n = cases();
    QuickCheck::new()
        .tests(n)
        .max_tests(n.saturating_mul(10))
        .quickcheck(prop);
}

/// A mutation of a message: flip, overwrite, truncate, extend, splice.
#[derive(Debug, Clone)]
struct Mutation {
    ops: Vec<(u8, usize, u8)>,
}

impl quickcheck::Arbitrary for Mutation {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let n = usize::arbitrary(g) % 4 + 1;
        Mutation {
            ops: (0..n)
                .map(|_| (u8::arbitrary(g), usize::arbitrary(g), u8::arbitrary(g)))
                .collect(),
        }
    }
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for &(op, at, v) in &m.ops {
        let len = out.len().max(1);
        let at = at % len;
        match op % 5 {
            0 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << (v % 8);
                }
            }
            1 => {
                if let Some(b) = out.get_mut(at) {
                    *b = v;
                }
            }
            2 => out.truncate(at),
            3 => out.extend(std::iter::repeat_n(v, usize::from(v % 32))),
            _ => out.insert(at.min(out.len()), v),
        }
    }
    out
}

#[test]
fn random_bytes_never_open_nor_panic() {
    fn prop(bytes: Vec<u8>) -> bool {
        let (opened, _) = open_and_decode(Some(key()), "default", &bytes);
        let _ = open_and_decode(None, "default", &bytes);
        let _ = decode_gset_packet(&bytes);
        !opened
    }
    check(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn mutated_sealed_messages_never_open() {
    fn prop(items: Vec<u64>, m: Mutation) -> TestResult {
        let valid = valid_message(Some(key()), "default", &items);
        let bad = mutate(&valid, &m);
        let (opened, decoded) = open_and_decode(Some(key()), "default", &bad);
        if bad == valid {
            return TestResult::from_bool(opened && decoded);
        }
        TestResult::from_bool(!opened)
    }
    check(prop as fn(Vec<u64>, Mutation) -> TestResult);
}

#[test]
fn mutated_plaintext_messages_decode_or_are_refused_without_panic() {
    fn prop(items: Vec<u64>, m: Mutation) -> bool {
        let valid = valid_message(None, "default", &items);
        let (opened, decoded) = open_and_decode(None, "default", &valid);
        let bad = mutate(&valid, &m);
        let _ = open_and_decode(None, "default", &bad);
        // The packet inside, mutated on its own (skipping the version byte).
        let _ = decode_gset_packet(bad.get(1..).unwrap_or_default());
        opened && decoded
    }
    check(prop as fn(Vec<u64>, Mutation) -> bool);
}

#[test]
fn mutated_sealed_membership_messages_never_open() {
    fn prop(members: u8, m: Mutation) -> TestResult {
        let valid = valid_membership_message(Some(key()), "default", members % 8);
        let bad = mutate(&valid, &m);
        let found = open_and_handle_membership(Some(key()), "default", &bad);
        if bad == valid {
            return TestResult::from_bool(found);
        }
        TestResult::from_bool(!found)
    }
    check(prop as fn(u8, Mutation) -> TestResult);
}

#[test]
fn mutated_plaintext_membership_messages_are_handled_without_panic() {
    fn prop(members: u8, m: Mutation) -> bool {
        let valid = valid_membership_message(None, "default", members % 8);
        let found = open_and_handle_membership(None, "default", &valid);
        let bad = mutate(&valid, &m);
        let _ = open_and_handle_membership(None, "default", &bad);
        // The SWIM packet inside, mutated on its own, and random bytes as one.
        handle_membership_packet(&mutate(bad.get(1..).unwrap_or_default(), &m));
        found
    }
    check(prop as fn(u8, Mutation) -> bool);
}

#[test]
fn random_bytes_as_membership_packets_do_not_panic() {
    fn prop(bytes: Vec<u8>) -> bool {
        handle_membership_packet(&bytes);
        true
    }
    check(prop as fn(Vec<u8>) -> bool);
}
