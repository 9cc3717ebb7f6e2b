//! `ringproof bench seed`: fills the store with finished verifications, each with the
//! history a real one leaves (created, sent, then approved or expired; its jobs are gone),
//! spread over the last day, so the server can be measured at a million rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ringproof_core::event::{EventKind, NewEvent};
use ringproof_core::ids::{ClientId, VerificationId};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::Policy;
use ringproof_core::status::Status;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, Options, Verification};
use ringproof_core::workflow::{Channel, Workflow};
use ringproof_server::config::Config;
use ringproof_server::startup::{Hooks, open_core};

/// Imports running at once, and the verifications each imports in one transaction
/// (`Store::import_verifications`): one transaction per record would cost ~20× more.
const WRITERS: u64 = 2;
const CHUNK: u64 = 500;
/// Area codes of the seeded numbers: none that a bench scenario sends to.
const AREAS: [u32; 6] = [212, 312, 646, 718, 213, 305];

pub async fn seed(config: Config, n: u64, client: Option<&str>) -> Result<(), String> {
    if config.mode == ringproof_server::config::Mode::Production {
        // A million made-up verifications in a real client's history is never wanted.
        return Err(
            "bench seed refuses a store in production mode: seed a throw-away data directory or database".into(),
        );
    }
    let core = open_core(&config, &Hooks::default()).await.map_err(|e| e.to_string())?;
    let store = core.engine.store().clone();
    let clients = store.list_clients().await.map_err(|e| e.to_string())?;
    let client = match client {
        Some(id) => clients
            .into_iter()
            .find(|c| c.id.as_str() == id)
            .ok_or_else(|| format!("no client {id}"))?,
        None => clients.into_iter().next().ok_or(
            "the store has no client: start the server once (it creates the demo client) or `ringproof client create`",
        )?,
    };
    let now = core.clock.now();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, done, client_id) = (store.clone(), done.clone(), client.id.clone());
        writers.push(tokio::spawn(async move {
            // Chunk k holds records k·CHUNK.. ; this writer takes every WRITERS-th chunk.
            let mut chunk = w;
            while chunk * CHUNK < n {
                let range = chunk * CHUNK..((chunk + 1) * CHUNK).min(n);
                let len = range.end - range.start;
                let items = range
                    .map(|i| finished(&client_id, i, n, now))
                    .collect::<Result<Vec<_>, _>>()?;
                store.import_verifications(&items).await.map_err(|e| e.to_string())?;
                let before = done.fetch_add(len, Ordering::Relaxed);
                if (before + len) / 100_000 > before / 100_000 {
                    let d = before + len;
                    eprintln!(
                        "seeded {d} of {n} ({:.0}/s)",
                        d as f64 / started.elapsed().as_secs_f64()
                    );
                }
                chunk += WRITERS;
            }
            Ok::<(), String>(())
        }));
    }
    for w in writers {
        w.await.map_err(|e| e.to_string())??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "client_id": client.id.as_str(),
            "verifications": n,
            "seconds": (secs * 10.0).round() / 10.0,
            "per_s": (n as f64 / secs).round(),
        })
    );
    Ok(())
}

/// The `i`th of `n` finished verifications: nine in ten approved, the rest expired,
/// created evenly over the day before `now`.
fn finished(client: &ClientId, i: u64, n: u64, now: Timestamp) -> Result<(Verification, Effects), String> {
    let area = AREAS[(i % AREAS.len() as u64) as usize];
    let local = 2_000_000 + (i * 7_919) % 8_000_000;
    let to = PhoneNumber::parse_e164(&format!("+1{area}{local}")).map_err(|e| format!("seed number: {e:?}"))?;
    let created = now.plus_secs(-86_400 + (86_400 * i / n.max(1)) as i64);
    let approved = !i.is_multiple_of(10);
    let policy = Policy::default();
    let v = Verification {
        id: VerificationId::generate(),
        client_id: client.clone(),
        to,
        status: if approved { Status::Approved } else { Status::Expired },
        workflow: Workflow::single(Channel::Sms, &policy),
        locale: "en".into(),
        brand: "Bench".into(),
        code_length: policy.code_length,
        code_hash: None,
        code_expires_at: created.plus_secs(i64::from(policy.validity_s)),
        sealed_code: None,
        next_step: 1,
        sends: 1,
        resends: 0,
        last_sent_at: created,
        wrong_checks: 0,
        created_at: created,
        updated_at: created.plus_secs(if approved { 20 } else { i64::from(policy.validity_s) }),
        expires_at: created.plus_secs(i64::from(policy.validity_s)),
        policy,
        options: Options::default(),
    };
    let mut fx = Effects::default();
    let event = |kind, channel, at| NewEvent {
        kind,
        channel,
        detail: None,
        at,
    };
    fx.record(&v, event(EventKind::Created, None, created));
    fx.record(&v, event(EventKind::Sent, Some(Channel::Sms), created.plus_secs(1)));
    let end = if approved {
        EventKind::Approved
    } else {
        EventKind::Expired
    };
    fx.record(&v, event(end, None, v.updated_at));
    Ok((v, fx))
}
