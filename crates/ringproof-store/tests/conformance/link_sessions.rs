//! Link sessions: inserted with their SMS job in one transaction, read by ids (scoped by
//! client), by token hash (public) and by VFP hash (scoped), clicked exactly once under
//! concurrency, and purged after retention.

use std::net::IpAddr;
use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::engine::link::transaction_id;
use ringproof_core::ids::{ClientId, JobId, LinkId};
use ringproof_core::job::{JobKind, NewJob};
use ringproof_core::link_session::LinkRecord;
use ringproof_core::link_session::{ClickError, LinkSession, NewLink, PendingAuth, PhoneMatch, UrlToken};
use ringproof_core::lookup::LineKind;
use ringproof_core::netauth::Verdict;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, claimable, client, phone};

conformance!(store: links_round_trip_scoped_by_client, one_click_wins_under_concurrency, purge_removes_expired_links, operator_authentication_settles_once);

fn new_link(client: &ClientId, now: Timestamp) -> (LinkRecord, UrlToken, NewJob) {
    let (session, token) = LinkSession::create(
        NewLink {
            client_id: client.clone(),
            to: phone(),
            target_url: "https://app.example/done?x=1".into(),
            source_ip: Some("203.0.113.7".parse().unwrap()),
            carrier: "Sandbox Mobile".into(),
            line: LineKind::Mobile,
            ttl_s: 300,
            // Stored and read back (the round trips below compare whole records).
            sim_swap: Some(ringproof_core::simswap::SimSwapResult::Swapped),
        },
        now,
    );
    let job = NewJob {
        id: JobId::generate(),
        kind: JobKind::Deliver,
        client_id: client.clone(),
        verification_id: None,
        due_at: now,
        payload: vec![1, 2, 3],
        max_attempts: 8,
    };
    let record = LinkRecord {
        request_id: LinkId::generate(),
        session_id: LinkId::generate(),
        transaction_id: transaction_id(),
        session,
    };
    (record, token, job)
}

async fn links_round_trip_scoped_by_client(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let (l, token, job) = new_link(&c.id, NOW);
    store.insert_link(&l, std::slice::from_ref(&job)).await.unwrap();

    let got = store.get_link(&c.id, &l.request_id, &l.session_id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&l));
    assert_eq!(
        store.get_link(&other.id, &l.request_id, &l.session_id).await.unwrap(),
        None,
        "another client's ids are unknown ids"
    );
    assert_eq!(
        store.get_link(&c.id, &l.session_id, &l.request_id).await.unwrap(),
        None,
        "ids swapped"
    );
    assert_eq!(
        store.get_link(&c.id, &l.request_id, &LinkId::generate()).await.unwrap(),
        None
    );
    assert_eq!(
        store.link_by_token_hash(&token.hash()).await.unwrap().as_ref(),
        Some(&l)
    );
    assert_eq!(store.link_by_token_hash(&[7; 32]).await.unwrap(), None);
    assert_eq!(store.link_by_vfp_hash(&c.id, &[7; 32]).await.unwrap(), None);

    // The SMS job went in with the session and carries no verification.
    assert_eq!(claimable(&store, NOW).await, vec![job.id.clone()]);

    // A session with a token hash already stored is refused, with its job.
    let (mut dup, _, dup_job) = new_link(&c.id, NOW);
    dup.session.token_hash = l.session.token_hash;
    assert!(matches!(
        store.insert_link(&dup, std::slice::from_ref(&dup_job)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_link(&c.id, &dup.request_id, &dup.session_id).await.unwrap(),
        None
    );
    assert_eq!(
        claimable(&store, NOW.plus_secs(3600)).await,
        vec![job.id.clone()],
        "the job of the refused insert is not stored either"
    );

    // An unknown token: nothing to update, the closure never runs.
    let mut ran = false;
    let mut f = |_: &mut LinkSession| ran = true;
    assert_eq!(store.update_link(&[7; 32], &mut f).await.unwrap(), None);
    assert!(!ran);
}

async fn one_click_wins_under_concurrency(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let (l, token, job) = new_link(&c.id, NOW);
    store.insert_link(&l, &[job]).await.unwrap();
    let hash = token.hash();
    let ip: IpAddr = "203.0.113.7".parse().unwrap();

    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut out = None;
                let mut f = |s: &mut LinkSession| {
                    out = Some(s.confirm(NOW.plus_secs(10 + i), ip, "UA", &Verdict::indeterminate("test")));
                };
                let rec = store.update_link(&hash, &mut f).await.unwrap().unwrap();
                (out.unwrap(), rec)
            })
        })
        .collect();
    let mut wins = Vec::new();
    for t in tasks {
        let (out, rec) = t.await.unwrap();
        assert!(rec.session.click.is_some(), "every caller sees the click");
        match out {
            Ok(vfp) => wins.push(vfp),
            Err(e) => assert_eq!(e, ClickError::AlreadyUsed),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one click is accepted");
    let vfp = &wins[0];

    let stored = store
        .get_link(&c.id, &l.request_id, &l.session_id)
        .await
        .unwrap()
        .unwrap();
    let click = stored.session.click.clone().unwrap();
    assert!(click.ip_match);
    assert_eq!(click.ip, ip);
    assert_eq!(click.user_agent, "UA");
    assert_eq!(click.phone_match, PhoneMatch::Indeterminate);
    assert_eq!(stored.session.vfp_hash, Some(vfp.hash()));
    assert_eq!(stored.session.target_url, l.session.target_url, "the rest is untouched");
    assert_eq!(stored.transaction_id, l.transaction_id);

    let by_vfp = store.link_by_vfp_hash(&c.id, &vfp.hash()).await.unwrap();
    assert_eq!(by_vfp.as_ref(), Some(&stored));
    assert_eq!(
        store.link_by_vfp_hash(&other.id, &vfp.hash()).await.unwrap(),
        None,
        "a VFP is bound to its client"
    );
}

/// A click that waits for the operator: stored with its sealed state, found by the
/// state's hash, settled exactly once under concurrency (a replayed callback loses).
async fn operator_authentication_settles_once(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (l, token, job) = new_link(&c.id, NOW);
    store.insert_link(&l, &[job]).await.unwrap();
    let hash = token.hash();
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    let auth = PendingAuth {
        state_hash: [9; 32],
        deadline: NOW.plus_secs(20),
        sealed: Some(vec![1, 2, 3, 4]),
    };
    let mut out = None;
    let mut f = |s: &mut LinkSession| out = Some(s.start_auth(NOW.plus_secs(10), ip, "UA", auth.clone()));
    store.update_link(&hash, &mut f).await.unwrap().unwrap();
    out.unwrap().unwrap();
    let stored = store.link_by_auth_state(&[9; 32]).await.unwrap().unwrap();
    assert_eq!(stored.session.auth, Some(auth.clone()), "the pending state round-trips");

    // Every column of a clicked, authenticating session goes in and comes back as it was
    // (an insert binds them all: two swapped would show here).
    let (mut full, _, full_job) = new_link(&c.id, NOW);
    full.session
        .start_auth(
            NOW.plus_secs(1),
            "198.51.100.4".parse().unwrap(),
            "Full UA",
            PendingAuth {
                state_hash: [3; 32],
                deadline: NOW.plus_secs(11),
                sealed: Some(vec![5, 6, 7]),
            },
        )
        .unwrap();
    full.session.click.as_mut().unwrap().reason = "custom_reason".into();
    store.insert_link(&full, &[full_job]).await.unwrap();
    assert_eq!(store.link_by_auth_state(&[3; 32]).await.unwrap().as_ref(), Some(&full));
    assert_eq!(stored.session.click.as_ref().unwrap().reason, "pending");
    assert_eq!(store.link_by_auth_state(&[8; 32]).await.unwrap(), None);

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let verdict = Verdict::of(i % 2 == 0);
                let mut out = None;
                let mut f = |s: &mut LinkSession| {
                    out = Some(s.settle(NOW.plus_secs(11), &verdict).and_then(|()| s.mint_vfp()));
                };
                store.update_link(&hash, &mut f).await.unwrap().unwrap();
                out.unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(e, ClickError::Settled),
        }
    }
    assert_eq!(wins, 1, "exactly one callback settles");
    let settled = store.link_by_auth_state(&[9; 32]).await.unwrap().unwrap();
    let a = settled.session.auth.clone().unwrap();
    assert!(
        a.settled() && a.sealed.is_none(),
        "the sealed state is gone once settled"
    );
    let click = settled.session.click.unwrap();
    assert_ne!(click.phone_match, PhoneMatch::Indeterminate);
    assert!(["verified", "not_verified"].contains(&click.reason.as_str()));
    assert!(settled.session.vfp_hash.is_some());
}

async fn purge_removes_expired_links(store: Arc<dyn Store>) {
    let c = client(&store).await;
    const DAY_S: i64 = 24 * 3600;
    let (old, old_token, old_job) = new_link(&c.id, NOW);
    let (recent, _, recent_job) = new_link(&c.id, NOW.plus_secs(10 * DAY_S));
    store.insert_link(&old, &[old_job]).await.unwrap();
    store.insert_link(&recent, &[recent_job]).await.unwrap();
    let cutoff = NOW.plus_secs(DAY_S);
    assert_eq!(
        store.purge(cutoff, cutoff, Timestamp(0), Timestamp(0)).await.unwrap(),
        0,
        "the count is of verifications"
    );
    assert_eq!(
        store.get_link(&c.id, &old.request_id, &old.session_id).await.unwrap(),
        None
    );
    assert_eq!(store.link_by_token_hash(&old_token.hash()).await.unwrap(), None);
    assert!(
        store
            .get_link(&c.id, &recent.request_id, &recent.session_id)
            .await
            .unwrap()
            .is_some()
    );
}
