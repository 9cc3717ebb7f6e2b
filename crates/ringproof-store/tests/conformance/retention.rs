//! The personal-data erasure (`Store::erase_personal_data`): every row older than the
//! cut-off that holds a phone number, an IP address or a text quoting a number loses it
//! (here: is deleted), whatever its status; newer rows keep theirs; audit entries and
//! clients are untouched.

use ringproof_core::audit::{Actor, AuditAction, AuditEntry, AuditQuery};
use ringproof_core::engine::link::transaction_id;
use ringproof_core::ids::{JobId, LinkId};
use ringproof_core::job::{JobKind, NewJob};
use ringproof_core::link_session::{LinkRecord, LinkSession, NewLink};
use ringproof_core::lookup::LineKind;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::IdempotentResponse;
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{Backend, NOW, client, sms};

conformance!(backend: erasure_removes_personal_data_older_than_the_cutoff_and_keeps_newer);

const DAY_S: i64 = 24 * 3600;
const OLD_NUMBER: &str = "+14155550111";
const NEW_NUMBER: &str = "+14155550122";
const OLD_IP: &str = "203.0.113.11";
const NEW_IP: &str = "203.0.113.22";

/// Rows anywhere holding `OLD_NUMBER` or `OLD_IP` (the digits, so a reformatted number
/// counts too), read behind the port's back.
const OLD_LEFT: &str = "SELECT \
    (SELECT COUNT(*) FROM verifications WHERE to_e164 LIKE '%4155550111%') + \
    (SELECT COUNT(*) FROM link_sessions WHERE to_e164 LIKE '%4155550111%' OR source_ip = '203.0.113.11' \
        OR click_ip = '203.0.113.11') + \
    (SELECT COUNT(*) FROM idempotency WHERE body LIKE '%4155550111%') + \
    (SELECT COUNT(*) FROM jobs WHERE last_error LIKE '%4155550111%') + \
    (SELECT COUNT(*) FROM events WHERE detail LIKE '%4155550111%')";
const NEW_LEFT: &str = "SELECT \
    (SELECT COUNT(*) FROM verifications WHERE to_e164 LIKE '%4155550122%') + \
    (SELECT COUNT(*) FROM link_sessions WHERE to_e164 LIKE '%4155550122%' OR source_ip = '203.0.113.22') + \
    (SELECT COUNT(*) FROM idempotency WHERE body LIKE '%4155550122%') + \
    (SELECT COUNT(*) FROM jobs WHERE last_error LIKE '%4155550122%')";

fn link(c: &ringproof_core::ids::ClientId, to: &str, ip: &str, now: Timestamp) -> (LinkRecord, NewJob) {
    let (session, _token) = LinkSession::create(
        NewLink {
            client_id: c.clone(),
            to: PhoneNumber::parse_e164(to).unwrap(),
            target_url: "https://app.example/done".into(),
            source_ip: Some(ip.parse().unwrap()),
            carrier: "Sandbox Mobile".into(),
            line: LineKind::Mobile,
            // Still valid long after: the erasure goes by age, not by expiry.
            ttl_s: 3600,
            sim_swap: None,
        },
        now,
    );
    let job = NewJob {
        id: JobId::generate(),
        kind: JobKind::Deliver,
        client_id: c.clone(),
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
    (record, job)
}

async fn erasure_removes_personal_data_older_than_the_cutoff_and_keeps_newer(b: &Backend) {
    let store = &b.store;
    let c = client(store).await;
    let later = NOW.plus_secs(40 * DAY_S);
    let cutoff = NOW.plus_secs(30 * DAY_S);

    // One of everything at NOW (older than the cut-off) and again at `later`.
    let mut stored = Vec::new();
    for (at, number, ip) in [(NOW, OLD_NUMBER, OLD_IP), (later, NEW_NUMBER, NEW_IP)] {
        // A verification still pending (its status does not save it), with an idempotent
        // response echoing its number.
        let (mut v, fx) = sms(&c.id, at);
        v.to = PhoneNumber::parse_e164(number).unwrap();
        let idem = IdempotentResponse {
            client_id: c.id.clone(),
            key: format!("key-{number}"),
            request_hash: [1; 32],
            status: 201,
            body: format!("{{\"to\":\"{number}\"}}"),
            created_at: at,
        };
        store.insert_verification(&v, &fx, Some(&idem)).await.unwrap();
        // A link session with its SMS job, the job buried with a provider error quoting
        // the number (a job of no verification: it does not go with one).
        let (l, job) = link(&c.id, number, ip, at);
        store.insert_link(&l, std::slice::from_ref(&job)).await.unwrap();
        store
            .bury_job(&job.id, &format!("provider: {number} is not reachable"), at)
            .await
            .unwrap();
        stored.push((v, l, idem));
    }
    let audit = AuditEntry::new(
        NOW,
        Actor::system(),
        AuditAction::ClientCreated,
        Some(c.id.clone()),
        serde_json::json!({}),
    )
    .unwrap();
    store.insert_audit(&audit).await.unwrap();
    assert_eq!(
        b.raw_count(OLD_LEFT).await,
        4,
        "the fixture stores the old number in each table"
    );

    let erased = store.erase_personal_data(cutoff).await.unwrap();
    assert!(erased >= 4, "verification, link, idempotency record, job: {erased}");

    assert_eq!(b.raw_count(OLD_LEFT).await, 0, "no old number or IP is left anywhere");
    assert_eq!(b.raw_count(NEW_LEFT).await, 4, "newer rows keep theirs");

    let [(old_v, old_l, old_idem), (new_v, new_l, new_idem)] = &stored[..] else {
        unreachable!()
    };
    assert_eq!(store.get_verification(&c.id, &old_v.id).await.unwrap(), None);
    assert!(store.list_events(&c.id, &old_v.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .get_link(&c.id, &old_l.request_id, &old_l.session_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .idempotent_response(&c.id, &old_idem.key, Timestamp(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_verification(&c.id, &new_v.id).await.unwrap().map(|v| v.to),
        Some(new_v.to.clone())
    );
    assert!(!store.list_events(&c.id, &new_v.id).await.unwrap().is_empty());
    assert!(
        store
            .get_link(&c.id, &new_l.request_id, &new_l.session_id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .idempotent_response(&c.id, &new_idem.key, Timestamp(0))
            .await
            .unwrap()
            .is_some()
    );

    // Not personal data: the client and the audit log stay.
    assert!(store.client_by_id(&c.id).await.unwrap().is_some());
    let q = AuditQuery {
        client_id: None,
        since: None,
        limit: 10,
    };
    assert_eq!(store.list_audit(&q).await.unwrap(), vec![audit]);

    // Nothing more to do.
    assert_eq!(store.erase_personal_data(cutoff).await.unwrap(), 0);
}
