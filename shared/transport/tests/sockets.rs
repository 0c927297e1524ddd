//! Real ZeroMQ sockets over ipc: every pattern the services use.

use aiperf_protocol::events::Event;
use aiperf_transport::*;
use std::time::Duration;

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "aiperf-transport-test-{}-{}",
        std::process::id(),
        aiperf_protocol::short_hex_id(6)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn push_pull_through_forwarder_round_robins() {
    let d = dir();
    let front = format!("ipc://{}/f.ipc", d.display());
    let back = format!("ipc://{}/b.ipc", d.display());
    let fwd = forward(&front, &back).await.unwrap();
    tokio::spawn(fwd);
    let mut a: Pull<u64> = Pull::connect(&back).await.unwrap();
    let mut b: Pull<u64> = Pull::connect(&back).await.unwrap();
    let mut push: Push<u64> = Push::connect(&front).await.unwrap();
    for i in 0..10u64 {
        push.send(&i).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(
            tokio::time::timeout(Duration::from_secs(5), a.recv())
                .await
                .unwrap()
                .unwrap(),
        );
        got.push(
            tokio::time::timeout(Duration::from_secs(5), b.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    got.sort();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn router_dealer_addresses_peers_by_identity() {
    let d = dir();
    let addr = format!("ipc://{}/r.ipc", d.display());
    let router: Router<String, String> = Router::bind(&addr).await.unwrap();
    let (mut rtx, mut rrx) = router.split();
    let mut w1: Dealer<String, String> = Dealer::connect(&addr, "worker_a").await.unwrap();
    let mut w2: Dealer<String, String> = Dealer::connect(&addr, "worker_b").await.unwrap();
    w1.send(&"hello from a".to_string()).await.unwrap();
    w2.send(&"hello from b".to_string()).await.unwrap();
    let mut seen = [rrx.recv().await.unwrap(), rrx.recv().await.unwrap()];
    seen.sort();
    assert_eq!(
        seen[0],
        ("worker_a".to_string(), "hello from a".to_string())
    );
    assert_eq!(
        seen[1],
        ("worker_b".to_string(), "hello from b".to_string())
    );
    rtx.send("worker_b", &"for b".to_string()).await.unwrap();
    rtx.send("worker_a", &"for a".to_string()).await.unwrap();
    assert_eq!(w1.recv().await.unwrap(), "for a");
    assert_eq!(w2.recv().await.unwrap(), "for b");
}

#[tokio::test]
async fn events_flow_through_the_bus_proxy() {
    let d = dir();
    let front = format!("ipc://{}/ef.ipc", d.display());
    let back = format!("ipc://{}/eb.ipc", d.display());
    tokio::spawn(event_proxy(&front, &back).await.unwrap());
    let mut sub = Subscriber::connect(&back, &[""]).await.unwrap();
    let mut publisher = Publisher::connect(&front).await.unwrap();
    // PUB/SUB drops messages until the subscription has propagated: probe until one arrives.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            publisher
                .publish(&Event::BusProbe { nonce: 7 })
                .await
                .unwrap();
            if let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {
                return ev;
            }
        }
    })
    .await
    .unwrap();
    assert!(matches!(got, Event::BusProbe { nonce: 7 }));
    publisher.publish(&Event::CreditsComplete).await.unwrap();
    loop {
        match sub.recv().await.unwrap() {
            Event::BusProbe { .. } => continue,
            ev => {
                assert!(matches!(ev, Event::CreditsComplete));
                break;
            }
        }
    }
}
