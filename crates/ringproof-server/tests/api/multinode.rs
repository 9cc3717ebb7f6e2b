//! Two servers on one PostgreSQL database run the iDenfy fallback workflow for many
//! verifications, their workers racing for the same jobs, and no SMS or call goes out twice.
//!
//! Each server has its own HTTP port, pools and worker (polling every few milliseconds);
//! they share the database, the data directory (so the server secret that seals job
//! payloads) and one injected clock. Both deliver through one counting carrier that records
//! every send, with the node that made it. Verifications are started on both nodes'
//! APIs; then the clock is moved past 2 min and past 5 min, waking both workers at once,
//! and the test waits (bounded) until every due job is done.
//!
//! How it fails if claims were not exclusive: both workers take some of the same delivery
//! jobs, so the carrier sees an idempotency key twice, a number gets two SMS or three
//! calls, and the history shows a `sent` twice. Tried: `claim_jobs` without `FOR UPDATE
//! SKIP LOCKED` made about 154 sends instead of 120, without its `locked_until` condition
//! about 310. (A step job run twice is harmless: the verification's `next_step` makes the
//! second run a no-op; were it not, the events would show the step twice.)
//!
//! So that the two workers demonstrably race, the carrier holds a node's first send of
//! each stage until the other node is sending too (a rendezvous, bounded by
//! [`RENDEZVOUS`]): both then hold claimed deliveries of the same queue at the same moment.
//! A node can hold at most `worker.concurrency` jobs, fewer than a stage has, so the other
//! node always gets one; the test asserts that every stage met.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::{Clock, ManualClock};
use ringproof_core::workflow::Channel;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::{Opts, T0, TestApp, code_in, eventually, pg_database, temp_dir};

/// Verifications started (half on each node).
const N: usize = 40;
/// Jobs one worker runs at once: well below `N`, so one node can never take a whole stage.
const CONCURRENCY: u32 = 4;
/// How long a node's first send of a stage waits for the other node to send too.
const RENDEZVOUS: Duration = Duration::from_secs(10);
/// How long a stage may take before the test gives up.
const STAGE_DEADLINE: Duration = Duration::from_secs(60);

/// One send the carrier accepted.
#[derive(Clone, Debug)]
struct Delivery {
    node: usize,
    key: String,
    to: String,
    channel: Channel,
    text: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct Gate {
    /// A rendezvous is awaited: the first send of each node waits for the other's.
    armed: bool,
    arrived: [bool; 2],
    /// Rendezvous that happened (a timed-out one does not count).
    met: u32,
}

/// The outside world: every SMS and call of both nodes, in the order they were sent.
struct Carrier {
    sent: Mutex<Vec<Delivery>>,
    gate: watch::Sender<Gate>,
}

impl Carrier {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            sent: Mutex::new(Vec::new()),
            gate: watch::Sender::new(Gate::default()),
        })
    }
    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
    fn deliveries(&self) -> Vec<Delivery> {
        self.sent.lock().unwrap().clone()
    }
    fn arm(&self) {
        self.gate.send_modify(|g| {
            g.armed = true;
            g.arrived = [false; 2];
        });
    }
    fn rendezvous_met(&self) -> u32 {
        self.gate.borrow().met
    }
}

/// One node's connection to the carrier.
struct NodeSender {
    node: usize,
    carrier: Arc<Carrier>,
}

#[async_trait::async_trait]
impl Sender for NodeSender {
    fn name(&self) -> &str {
        "carrier"
    }
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let mut rx = self.carrier.gate.subscribe();
        let mut wait = false;
        self.carrier.gate.send_modify(|g| {
            if g.armed {
                g.arrived[self.node] = true;
                if g.arrived == [true; 2] {
                    g.armed = false;
                    g.met += 1;
                } else {
                    wait = true;
                }
            }
        });
        if wait
            && tokio::time::timeout(RENDEZVOUS, rx.wait_for(|g| !g.armed))
                .await
                .is_err()
        {
            // The other node never sent: give up waiting (the test then fails on `met`).
            self.carrier.gate.send_modify(|g| g.armed = false);
        }
        self.carrier.sent.lock().unwrap().push(Delivery {
            node: self.node,
            key: msg.idempotency_key.clone(),
            to: msg.to.e164().to_owned(),
            channel: msg.channel,
            text: msg.text.clone(),
        });
        Ok(SendReceipt {
            provider: "carrier".into(),
            provider_message_id: None,
        })
    }
}

/// Waits until the carrier has `sends` deliveries and no job is due at the clock's time
/// (every due job claimed, run and recorded), polling with a deadline.
async fn settle(node: &TestApp, carrier: &Carrier, sends: usize, stage: &str) {
    let what = format!("{stage}: {sends} sends and no job due");
    eventually(&what, STAGE_DEADLINE, Duration::from_millis(10), async || {
        let due = node.engine.store().job_stats(node.clock.now()).await.unwrap().due;
        (carrier.count() >= sends && due == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn two_nodes_never_send_the_same_message_twice_postgres() {
    let db = pg_database().await;
    let clock = Arc::new(ManualClock::new(T0));
    let carrier = Carrier::new();
    let dir = temp_dir("multinode");
    let mut nodes = Vec::new();
    // One after the other: the first creates the schema, the demo client and the server
    // secret; the second finds them.
    for node in 0..2 {
        nodes.push(
            TestApp::spawn_with(Opts {
                database_url: Some(db.url.clone()),
                worker: true,
                sender: Some(Arc::new(NodeSender {
                    node,
                    carrier: carrier.clone(),
                })),
                data_dir: Some(dir.path().to_path_buf()),
                clock: Some(clock.clone()),
                worker_poll_interval_ms: Some(10),
                worker_concurrency: Some(CONCURRENCY),
                ..Opts::default()
            })
            .await,
        );
    }
    assert_ne!(nodes[0].base, nodes[1].base);

    // Stage 1: the SMS of N verifications, started on both nodes at once.
    carrier.arm();
    let numbers: Vec<String> = (0..N).map(|i| format!("+1415555{:04}", 100 + i)).collect();
    // 40 numbers of one range, none approved, look like SMS pumping: they are the test's
    // safe list (never counted or blocked by the guard).
    nodes[0]
        .update_client(ringproof_core::engine::ClientChange {
            safe_numbers: Some(numbers.clone()),
            ..Default::default()
        })
        .await;
    let mut starts = tokio::task::JoinSet::new();
    for (i, to) in numbers.iter().enumerate() {
        let node = &nodes[i % 2];
        let request = node
            .http
            .post(format!("{}/v1/verifications", node.base))
            .header("authorization", node.auth())
            .json(&json!({"to": to, "workflow": [
                {"channel": "sms", "code": "new", "valid_for_s": 300},
                {"channel": "voice", "after_s": 120, "code": "same"},
                {"channel": "voice", "after_s": 300, "code": "new", "valid_for_s": 300}
            ]}));
        starts.spawn(async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 201);
            (i, r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned())
        });
    }
    let mut ids = vec![String::new(); N];
    while let Some(started) = starts.join_next().await {
        let (i, id) = started.unwrap();
        ids[i] = id;
    }
    settle(&nodes[0], &carrier, N, "the SMS").await;

    // Stages 2 and 3: the calls at 2 min (code repeated) and 5 min (new code). Both
    // workers are woken together, so they claim the step jobs, then the deliveries, at once.
    for (stage, (advance_s, sends)) in [(121, 2 * N), (180, 3 * N)].into_iter().enumerate() {
        carrier.arm();
        clock.advance_secs(advance_s);
        for n in &nodes {
            n.wake.notify();
        }
        settle(&nodes[0], &carrier, sends, &format!("call {}", stage + 1)).await;
    }

    // Each verification's history, then both nodes stopped (which waits for jobs in
    // flight), so a duplicate still on its way would be counted below.
    let mut histories = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let r = nodes[i % 2].get(&format!("/v1/verifications/{id}/events")).await;
        assert_eq!(r.status(), 200);
        histories.push(r.json::<Value>().await.unwrap());
    }
    for n in nodes {
        n.stop().await;
    }

    let sent = carrier.deliveries();
    let mut keys = HashMap::new();
    for d in &sent {
        *keys.entry(d.key.as_str()).or_insert(0) += 1;
    }
    let twice = keys.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "{twice} of {} jobs delivered more than once", keys.len());
    assert_eq!(sent.len(), 3 * N, "one SMS and two calls per verification, no more");
    for to in &numbers {
        let mine: Vec<&Delivery> = sent.iter().filter(|d| &d.to == to).collect();
        let channels: Vec<Channel> = mine.iter().map(|d| d.channel).collect();
        assert_eq!(channels, [Channel::Sms, Channel::Voice, Channel::Voice], "{to}");
        assert_eq!(
            code_in(&mine[1].text),
            code_in(&mine[0].text),
            "the 2-min call repeats the SMS code"
        );
    }
    for node in 0..2 {
        assert!(sent.iter().any(|d| d.node == node), "node {node} delivered nothing");
    }
    assert_eq!(
        carrier.rendezvous_met(),
        3,
        "both workers sent concurrently in every stage"
    );

    let expected = [
        ("created", None),
        ("send_queued", Some("sms")),
        ("sent", Some("sms")),
        ("send_queued", Some("voice")),
        ("sent", Some("voice")),
        ("send_queued", Some("voice")),
        ("sent", Some("voice")),
    ];
    for (id, h) in ids.iter().zip(&histories) {
        let events: Vec<(&str, Option<&str>)> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["channel"].as_str()))
            .collect();
        assert_eq!(events, expected, "{id}");
    }
}

/// Two nodes on one PostgreSQL database, each with its own data directory (the obvious way
/// to run two), share one sandbox phone: a verification started on node A whose SMS node
/// B's worker delivers shows on A's sandbox phone, announced live on A's event stream,
/// and its code checks on A. Were each node's outbox its own file, A would never see the
/// message (B's `sandbox.db` would hold it), and the wait for A's event would time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn nodes_on_postgresql_share_the_sandbox_phone() {
    let db = pg_database().await;
    let (dir_a, dir_b) = (temp_dir("node-a"), temp_dir("node-b"));
    let on = |dir: &tempfile::TempDir| Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default().in_dir(dir.path())
    };
    let a = TestApp::spawn_with(on(&dir_a)).await;
    // Nodes must share the server secret (a node with another is refused): B gets A's,
    // and the demo client's credentials (only the first node creates the client).
    for file in ["server-secret", "demo-credentials.json"] {
        std::fs::copy(dir_a.path().join(file), dir_b.path().join(file)).unwrap();
    }
    let b = TestApp::spawn_with(on(&dir_b)).await;
    for dir in [&dir_a, &dir_b] {
        assert!(!dir.path().join("sandbox.db").exists(), "no outbox of a node's own");
    }

    let mut events = a.http.get(format!("{}/sandbox/events", a.base)).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let to = "+14155550123";
    let id = a.start(json!({"to": to})).await["id"].as_str().unwrap().to_owned();
    assert_eq!(b.drain().await, 1, "node B's worker delivers A's SMS");
    let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("node A announces the message node B delivered within 10 s")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("data: changed"), "{chunk:?}");

    let (on_a, on_b) = (a.messages(to).await, b.messages(to).await);
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(on_a, on_b, "both nodes show the same outbox");
    assert_eq!(on_a[0]["verification_id"], json!(id));
    let code = a.last_code(to).await;
    let r = a.check(&id, &code).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");

    // Clearing on one node clears every node's phone.
    let r = b.http.post(format!("{}/sandbox/clear", b.base)).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(a.messages(to).await.is_empty());
    a.stop().await;
    b.stop().await;
}
