//! One node: open, update, read, subscribe, and the errors of the API.

use crate::common;

use std::time::Duration;

use gossip_crdt::{GCounter, GSet};
use gossip_net::{AckLevel, Event, Keyring, NetError, NodeBuilder, UpdateError};

use common::*;

#[tokio::test]
async fn one_node_updates_reads_and_notifies() {
    let node = start(&Keyring::generate(), Vec::new()).await;
    let set = node.open::<GSet<String>>("chat").expect("open");
    let mut sub = set.subscribe();
    let dot = set
        .update(|s, _| Some(s.insert_delta("hi".to_string())))
        .await
        .expect("update");
    assert_eq!(dot.counter, 1);
    assert!(set.read(|s| s.contains(&"hi".to_string())));
    match within("event", sub.next()).await {
        Some(Event::Changed { gained, from: None }) => {
            assert!(gained.contains(&"hi".to_string()))
        }
        other => panic!("unexpected {other:?}"),
    }
    // The same name, the same replica.
    let again = node.open::<GSet<String>>("chat").expect("open again");
    assert!(again.snapshot().contains(&"hi".to_string()));
    // Another type under the same name is refused.
    assert!(matches!(
        node.open::<GCounter<gossip_transport::ReplicaId>>("chat"),
        Err(NetError::TypeMismatch { .. })
    ));
    assert_eq!(set.update(|_, _| None).await, Err(UpdateError::NoChange));
    assert_eq!(
        set.update_with(AckLevel::Durable, Duration::from_secs(1), |s, _| Some(
            s.insert_delta("x".to_string())
        ))
        .await,
        Err(UpdateError::NotDurable)
    );
    assert_eq!(
        set.update_with(AckLevel::Local, Duration::from_secs(1), |s, _| Some(
            s.insert_delta("y".to_string())
        ))
        .await
        .map(|(_, level)| level),
        Ok(AckLevel::Local)
    );
    node.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn start_without_a_key_is_refused() {
    let r = NodeBuilder::new(any_port()).start().await;
    assert!(matches!(r, Err(NetError::NoKey)));
}

#[tokio::test]
async fn binding_a_taken_port_is_a_clear_error() {
    let first = start(&Keyring::generate(), Vec::new()).await;
    let r = NodeBuilder::new(first.local_addr())
        .keyring(Keyring::generate())
        .start()
        .await;
    match r {
        Err(e @ NetError::Bind { .. }) => assert!(e.to_string().contains("cannot bind")),
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_update_too_large_for_a_frame_fails_at_once() {
    let node = start(&Keyring::generate(), Vec::new()).await;
    let set = node.open::<GSet<String>>("big").expect("open");
    let huge = "x".repeat(5 << 20);
    let r = set.update(|s, _| Some(s.insert_delta(huge.clone()))).await;
    assert!(matches!(r, Err(UpdateError::TooLarge { bytes, limit }) if bytes > limit));
    assert!(set.read(|s| s.is_empty()));
}

#[tokio::test]
async fn waiting_for_a_copy_elsewhere_times_out_alone() {
    let node = start(&Keyring::generate(), Vec::new()).await;
    let set = node.open::<GSet<u32>>("lonely").expect("open");
    let r = set
        .update_with(
            AckLevel::Replicated { k: 1 },
            Duration::from_millis(300),
            |s, _| Some(s.insert_delta(1)),
        )
        .await;
    assert!(matches!(
        r,
        Err(UpdateError::Timeout {
            reached: AckLevel::Local,
            ..
        })
    ));
    // The update stays applied.
    assert!(set.read(|s| s.contains(&1)));
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_much_it_missed() {
    let node = start_with(
        NodeBuilder::new(any_port())
            .keyring(Keyring::generate())
            .subscriber_buffer(4),
    )
    .await;
    let set = node.open::<GSet<u32>>("s").expect("open");
    let mut sub = set.subscribe();
    for i in 0..10 {
        set.update(|s, _| Some(s.insert_delta(i)))
            .await
            .expect("update");
    }
    assert_eq!(sub.try_next(), Some(Event::Lagged { missed: 6 }));
    let mut rest = 0;
    while let Some(Event::Changed { .. }) = sub.try_next() {
        rest += 1;
    }
    assert_eq!(rest, 4);
    assert_eq!(node.metrics().subscriber_lagged, 1);
    let text = node.metrics().to_prometheus();
    assert!(text.contains("gossip_net_local_updates_total 10\n"));
    assert!(text.contains("# TYPE gossip_net_members_alive gauge\n"));
}
