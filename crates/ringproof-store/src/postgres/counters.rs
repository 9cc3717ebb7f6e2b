//! `update_counters` on PostgreSQL, batched: concurrent steps share one transaction.
//!
//! Every start of a client to one country locks the SMS-pumping guard's country row (and
//! every start in one range its prefix row) for its whole read-modify-write: BEGIN, insert
//! the missing rows, lock them, let the engine decide, write back, COMMIT. Taken one start
//! at a time, a hot row admits one start per transaction, and the lock is held across
//! several round trips: about 200 starts a second on this project's machine, whatever the
//! number of nodes (BENCHMARKS.md, "Issue 14: the figures").
//!
//! So a node takes its steps through one queue. A combiner task takes every step waiting
//! (up to [`MAX_BATCH`]), locks the union of their rows in one transaction (key order, as
//! every counter transaction does), then hands each step, in arrival order, its rows as
//! the steps before it left them; each step runs its closure on its own task and answers
//! with the rows to write, or none. The changed rows are written and committed once, and
//! every step of the batch gets the commit's outcome. The result is exactly that of the
//! steps run one after another; a step whose caller is gone (a cancelled request) is
//! skipped; a failure fails the whole batch, as it would have failed each transaction.
//! Under no load a batch is one step: the same transaction as before.

use std::collections::BTreeMap;

use ringproof_core::StoreError;
use ringproof_core::ports::{CounterKey, CounterRow, CounterStep};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::{begin_with_counters, write_counters};
use crate::error::db;

/// Most steps in one transaction.
const MAX_BATCH: usize = 64;

const OP: &str = "update counters";

/// The rows a step is handed, and where it answers with the rows to write (`None`: none).
type Handover = (Vec<CounterRow>, oneshot::Sender<Option<Vec<CounterRow>>>);

struct Step {
    keys: Vec<CounterKey>,
    rows: oneshot::Sender<Handover>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// A node's queue of counter steps; the combiner task ends when the queue is dropped.
#[derive(Clone, Debug)]
pub(super) struct CounterQueue {
    steps: mpsc::UnboundedSender<Step>,
}

impl CounterQueue {
    pub(super) fn start(pool: PgPool) -> Self {
        let (steps, queue) = mpsc::unbounded_channel();
        tokio::spawn(combine(pool, queue));
        Self { steps }
    }

    /// [`ringproof_core::ports::Store::update_counters`]: `f` runs on the caller's task.
    pub(super) async fn update(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError> {
        let (rows_tx, rows_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let stopped = || StoreError::Unavailable(format!("{OP}: the store is shut down"));
        self.steps
            .send(Step {
                keys: keys.to_vec(),
                rows: rows_tx,
                done: done_tx,
            })
            .map_err(|_| stopped())?;
        // No rows handed over: the batch failed before this step's turn.
        if let Ok((mut rows, answer)) = rows_rx.await {
            let write = f(&mut rows);
            let _ = answer.send(write.then_some(rows));
        }
        done_rx.await.map_err(|_| stopped())?
    }
}

async fn combine(pool: PgPool, mut queue: mpsc::UnboundedReceiver<Step>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = run_batch(&pool, &mut batch).await;
        for step in batch.drain(..) {
            let _ = step.done.send(result.clone());
        }
    }
}

async fn run_batch(pool: &PgPool, batch: &mut [Step]) -> Result<(), StoreError> {
    let mut union: Vec<CounterKey> = batch.iter().flat_map(|s| s.keys.iter().cloned()).collect();
    union.sort();
    union.dedup();
    let (mut tx, rows) = begin_with_counters(pool, OP, &union).await?;
    let mut state: BTreeMap<CounterKey, (CounterRow, bool)> =
        union.into_iter().zip(rows).map(|(k, r)| (k, (r, false))).collect();
    for step in batch.iter_mut() {
        let mine: Vec<CounterRow> = step
            .keys
            .iter()
            .map(|k| state.get(k).map(|(r, _)| r.clone()).unwrap_or_default())
            .collect();
        let (answer, answered) = oneshot::channel();
        // A step whose caller is gone takes no turn (its sender is replaced by a closed one).
        let (closed, _) = oneshot::channel();
        if std::mem::replace(&mut step.rows, closed).send((mine, answer)).is_err() {
            continue;
        }
        if let Ok(Some(written)) = answered.await {
            for (k, r) in step.keys.iter().zip(written) {
                state.insert(k.clone(), (r, true));
            }
        }
    }
    let (keys, rows): (Vec<CounterKey>, Vec<CounterRow>) = state
        .into_iter()
        .filter(|(_, (_, changed))| *changed)
        .map(|(k, (r, _))| (k, r))
        .unzip();
    if keys.is_empty() {
        // Also drops the empty rows this batch inserted.
        tx.rollback().await.map_err(db(OP))?;
        return Ok(());
    }
    write_counters(&mut tx, OP, &keys, &rows).await?;
    tx.commit().await.map_err(db(OP))
}
