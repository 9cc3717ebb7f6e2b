//! Fair delivery (ARCHITECTURE.md, "Fair claims"): one client's flood does not hold up
//! another client's message. Client A queues a flood, client B one SMS, and then the real
//! worker loop drains the queue into the sandbox with a few slots. Asserted on order, not
//! time: how many of A's messages reached the sandbox before B's. Under the old FIFO
//! claim all of A's did (B's job was the youngest); under the fair claim B's job is in the
//! worker's first claim, so at most one batch of A's goes before it.

use std::time::Duration;

use ringproof_server::config::{Config, WorkerConfig};
use ringproof_server::worker::Retention;
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, on_both_stores};

/// A's flood (bounded: the sandbox lists at most 500 messages).
const FLOOD: usize = 200;
/// The worker's slots for messages.
const SLOTS: u32 = 4;

on_both_stores!(a_flood_of_one_client_does_not_hold_up_another, flood_then_one);

async fn flood_then_one(app: TestApp) {
    app.without_pumping_guard().await;
    let b = app.other_client_auth().await;
    // A's flood, queued while no worker runs, each number in a prefix of its own.
    for i in 0..FLOOD {
        app.start_sms(&format!("+1415{}0123", 200 + i)).await;
    }
    let to_b = "+14155550199";
    let r = app.post_as(&b, "/v1/verifications", &json!({ "to": to_b })).await;
    assert_eq!(r.status(), 201);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let cfg = WorkerConfig {
        concurrency: SLOTS,
        ..WorkerConfig::default()
    };
    let worker = tokio::spawn(ringproof_server::worker::run(
        app.engine.clone(),
        app.sender.clone(),
        app.wake.clone(),
        cfg,
        // The server's own retention settings; nothing here is old enough for them.
        Retention::new(&Config::default(), None),
        stopped,
    ));
    let url = format!("{}/sandbox/api/messages?limit=500", app.base);
    // Newest first. Bounded generously: the drain takes well under a second here.
    let sent: Vec<Value> = eventually(
        "every message in the sandbox",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async {
            let msgs: Vec<Value> = app.http.get(&url).send().await.ok()?.json().await.ok()?;
            (msgs.len() > FLOOD).then_some(msgs)
        },
    )
    .await;
    stop.send(true).unwrap();
    worker.await.unwrap();

    assert_eq!(sent.len(), FLOOD + 1, "every message sent exactly once");
    let before_b = sent
        .iter()
        .rev()
        .position(|m| m["to"] == to_b)
        .expect("B's SMS was sent");
    println!("fairness: {before_b} of client A's {FLOOD} messages were sent before client B's");
    // B's job is in the first claim (SLOTS jobs, sent at once), so measured 0 or 1 of A's
    // go first. The bound leaves room for a busy machine, where sends of later batches
    // may overtake B's while it is in flight, and is still far below FIFO's.
    assert!(
        before_b < 3 * SLOTS as usize,
        "{before_b} of A's messages went before B's (FIFO would send all {FLOOD})"
    );
}
