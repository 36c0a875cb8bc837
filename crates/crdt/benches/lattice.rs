//! The costs the transport pays per message, measured.
//!
//! Run: `cargo bench -p gossip-crdt --bench lattice -- --warm-up-time 1 --measurement-time 3`
//! (figures and machine in `docs/benchmarks.md`, section "CRDT operations").
//!
//! - joining a one-element delta into a large `GSet` must cost about `O(log n)`: the sizes
//!   1,000 → 1,000,000 show it (a linear join would be 1,000 times slower at the top);
//! - joining two 1,000,000-element sets that differ by 1 % (a full-state repair), and
//!   computing what one lacks of the other;
//! - joining a one-element add delta into an `OrSet` of 1,000 and 100,000 elements;
//! - joining (and absorbing) a nested update delta (one counter, in one inner map, under one
//!   key) into an `OrMap` of maps of 1,000 and 100,000 keys: about `O(log n)` too;
//! - `VersionVector::compare` on two 1,000-replica vectors (equal, ordered, concurrent);
//! - applying 100,000 deltas: `GSet` inserts and `GCounter` increments.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use gossip_crdt::{
    Causality, Decompose, GCounter, GSet, Lattice, OrMap, OrSet, PnCounter, VersionVector,
};

/// A set of `n` even numbers; odd numbers are never in it.
fn evens(n: u64) -> GSet<u64> {
    (0..n).map(|i| 2 * i).collect()
}

fn gset_one_element_delta(c: &mut Criterion) {
    let mut group = c.benchmark_group("gset_join_one_element_delta");
    for n in [1_000u64, 1_000_000] {
        let base = evens(n);
        // A delta with an element the set lacks: the cost of a real, changing join, not of a
        // lookup. Each join grows the set by one, so the set is rebuilt (untimed) every n/20
        // joins: the timed joins always land in a set of n to 1.05·n elements.
        group.bench_with_input(BenchmarkId::new("new_element", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let chunk = (n / 20).max(1);
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let len = chunk.min(iters - done);
                    let mut set = base.clone();
                    let deltas: Vec<GSet<u64>> = (0..len)
                        .map(|i| [2 * i + 1].into_iter().collect())
                        .collect();
                    let start = Instant::now();
                    for delta in &deltas {
                        set.join(black_box(delta));
                    }
                    timed += start.elapsed();
                    done += len;
                }
                timed
            });
        });
        // A duplicate delta: the common case on a gossip network, and a pure lookup.
        let duplicate: GSet<u64> = [n].into_iter().collect();
        group.bench_with_input(BenchmarkId::new("duplicate", n), &n, |b, _| {
            let mut set = base.clone();
            b.iter(|| set.join(black_box(&duplicate)));
        });
    }
    group.finish();
}

fn or_set_one_add_delta(c: &mut Criterion) {
    let mut group = c.benchmark_group("orset_join_one_add_delta");
    for n in [1_000u64, 100_000] {
        // n elements added by replica 0; the deltas add new elements on replica 1.
        let mut base = OrSet::new();
        for i in 0..n {
            base.insert(0u64, i).expect("small counters");
        }
        let mut source = OrSet::new();
        let deltas: Vec<OrSet<u64, u64>> = (0..(n / 20).max(1))
            .map(|i| source.insert(1, n + i).expect("small counters"))
            .collect();
        // As for the GSet: the set is rebuilt, untimed, after every n/20 joins.
        group.bench_with_input(BenchmarkId::new("new_element", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let len = (deltas.len() as u64).min(iters - done);
                    let mut set = base.clone();
                    let start = Instant::now();
                    for delta in &deltas[..len as usize] {
                        set.join(black_box(delta));
                    }
                    timed += start.elapsed();
                    done += len;
                }
                timed
            });
        });
    }
    group.finish();
}

type Nested = OrMap<u64, OrMap<u64, PnCounter<u64>, u64>, u64>;

fn or_map_nested_update_delta(c: &mut Criterion) {
    let mut group = c.benchmark_group("ormap_join_nested_update_delta");
    for n in [1_000u64, 100_000] {
        // n keys written by replica 0, each an inner map with one counter; the deltas come
        // from replica 1 and update existing keys, spread over the map.
        let mut base: Nested = OrMap::new();
        for key in 0..n {
            base.update(0, key, |inner| {
                inner.update_delta(0, key % 7, |c| c.increment_delta(0, 1))
            })
            .expect("small counters");
        }
        let mut source = base.clone();
        let deltas: Vec<Nested> = (0..(n / 20).max(1))
            .map(|i| {
                let key = i * 7919 % n;
                source
                    .update(1, key, |inner| {
                        inner.update_delta(1, key % 7, |c| c.increment_delta(1, 1))
                    })
                    .expect("small counters")
            })
            .collect();
        for absorb in [false, true] {
            let name = if absorb { "absorb" } else { "join" };
            // The map is rebuilt, untimed, after every n/20 deltas.
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        let len = (deltas.len() as u64).min(iters - done);
                        let mut map = base.clone();
                        let start = Instant::now();
                        for delta in &deltas[..len as usize] {
                            if absorb {
                                black_box(map.absorb(black_box(delta.clone())));
                            } else {
                                map.join(black_box(delta));
                            }
                        }
                        timed += start.elapsed();
                        done += len;
                    }
                    timed
                });
            });
        }
    }
    group.finish();
}

fn gset_one_percent_apart(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    // `a` holds 0..N; `b` lacks the first 1 % of those and has 1 % that `a` lacks.
    let a: GSet<u64> = (0..N).collect();
    let b: GSet<u64> = (N / 100..N + N / 100).collect();
    let mut group = c.benchmark_group("gset_1m_differing_by_1pct");
    group.sample_size(10);
    group.bench_function("join", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |mine| assert!(mine.join(black_box(&b))),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("difference", |bench| {
        bench.iter(|| {
            let lacking = b.difference(black_box(&a));
            assert_eq!(lacking.len() as u64, N / 100);
            lacking
        });
    });
    group.bench_function("clone_only_for_reference", |bench| {
        bench.iter(|| black_box(&a).clone());
    });
    group.finish();
}

fn version_vector_compare(c: &mut Criterion) {
    let replicas = 1_000u64;
    let base: VersionVector<u64> = (0..replicas).map(|r| (r, 1 + r % 17)).collect();
    let mut after = base.clone();
    after.increment(replicas - 1).expect("small counts");
    let mut other_side = base.clone();
    other_side.increment(replicas - 2).expect("small counts");
    let mut group = c.benchmark_group("version_vector_compare_1000_replicas");
    for (name, left, right, expected) in [
        ("equal", &base, &base.clone(), Causality::Equal),
        ("before", &base, &after, Causality::Before),
        (
            "concurrent_at_the_end",
            &after,
            &other_side,
            Causality::Concurrent,
        ),
    ] {
        assert_eq!(left.compare(right), expected);
        group.bench_function(name, |b| {
            b.iter(|| black_box(left).compare(black_box(right)));
        });
    }
    group.finish();
}

fn apply_100k_deltas(c: &mut Criterion) {
    const DELTAS: u64 = 100_000;
    let mut group = c.benchmark_group("apply_100k_deltas");
    group.sample_size(20);

    // GSet: the insert deltas of 100,000 distinct elements, joined into an empty replica.
    let mut writer = GSet::new();
    let inserts: Vec<GSet<u64>> = (0..DELTAS)
        .map(|i| writer.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    group.bench_function("gset_insert_deltas", |b| {
        b.iter_batched_ref(
            GSet::new,
            |replica| {
                for delta in &inserts {
                    replica.join(delta);
                }
            },
            BatchSize::LargeInput,
        );
    });

    // GCounter: 100,000 increment deltas from 10 replicas, joined into an empty replica.
    let mut counter = GCounter::new();
    let increments: Vec<GCounter<u64>> = (0..DELTAS)
        .map(|i| counter.increment(i % 10, 1).expect("small counts"))
        .collect();
    group.bench_function("gcounter_increment_deltas", |b| {
        b.iter_batched_ref(
            GCounter::new,
            |replica| {
                for delta in &increments {
                    replica.join(delta);
                }
                assert_eq!(replica.value(), u128::from(DELTAS));
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(
    benches,
    gset_one_element_delta,
    or_set_one_add_delta,
    or_map_nested_update_delta,
    gset_one_percent_apart,
    version_vector_compare,
    apply_100k_deltas
);
criterion_main!(benches);
