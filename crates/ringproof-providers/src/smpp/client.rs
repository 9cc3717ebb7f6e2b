//! The SMPP session and the [`Sender`] over it.
//!
//! One task (the *supervisor*) owns the TCP connection: it connects, binds as a
//! transceiver, then runs the session loop until the connection is lost, and reconnects
//! with backoff. The loop multiplexes three things: PDUs from the SMSC (forwarded by a
//! reader task, since reading a PDU is not cancel-safe), requests from senders, and the
//! `enquire_link` timer. Senders never touch the socket: each part of a message is a
//! [`Request`] with a oneshot for its response, and a semaphore bounds how many are
//! outstanding (the window). A request carries its window permit into the session's table
//! of pending requests, so the slot frees when the SMSC answers (or the session ends), not
//! when the sender stops waiting.
//!
//! ```text
//!   send() ──Request──▶ supervisor ──submit_sm──▶ SMSC
//!     ▲                   │   ▲                    │
//!     └──submit_sm_resp───┘   └─reader task◀───────┘ (resp, deliver_sm, enquire_link)
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ringproof_core::ports::{DeliveryReceipt, OutboundMessage, ReceiptSink, SendError, SendReceipt, Sender};
use ringproof_core::workflow::Channel;
use secrecy::ExposeSecret;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

use super::config::{Settings, SmppConfig, source_address};
use super::encoding;
use super::pdu::{self, Address, DeliverSm, Pdu, SubmitSm, status};
use super::receipt;
use crate::error::BuildError;

/// Where the session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Link {
    /// Connecting or binding (also the state before the first attempt).
    Connecting,
    Bound,
    /// The last attempt failed, with this error; the next one waits for the backoff.
    Down(SendError),
}

#[derive(Clone, Debug)]
struct LinkState {
    link: Link,
    /// Attempts (connect and bind) finished so far, to tell a fresh outcome from an old one.
    attempts: u64,
}

/// One PDU to send, with where its response goes.
struct Request {
    command_id: u32,
    body: Vec<u8>,
    /// After this the sender has given up: the request is dropped, never written.
    deadline: Instant,
    reply: oneshot::Sender<Pdu>,
    /// The window slot: held until the response arrives or the session ends, even when the
    /// sender has stopped waiting (the PDU is still outstanding at the SMSC).
    permit: OwnedSemaphorePermit,
}

/// What senders hand the supervisor.
enum ToSession {
    Submit(Request),
    /// Drop and rebind the session with this generation ([`LinkState::attempts`] when it
    /// was bound): its window is held by `submit_sm` the SMSC does not answer.
    Replace(u64),
}

/// After this many submits in a row end in a timeout (no answer, or no window slot), the
/// session is replaced, so slots held by unanswered `submit_sm` cannot leak forever.
const REPLACE_AFTER_TIMEOUTS: u32 = 3;
/// Tries of one part the SMSC answers with `ESME_RTHROTTLED` (the first and two retries).
const THROTTLED_TRIES: u32 = 3;
const THROTTLE_PAUSE_MIN: Duration = Duration::from_secs(1);
const THROTTLE_PAUSE_MAX: Duration = Duration::from_secs(8);

/// New submits on a session that answered `ESME_RTHROTTLED` wait until `until`.
struct Pause {
    /// The session generation this applies to; another session starts unpaused.
    session: u64,
    until: Option<Instant>,
    /// The next pause: doubles with each throttle, back to the minimum on a success.
    next: Duration,
}

/// What the supervisor needs (not the request sender, so that dropping the
/// [`SmppSender`] closes the request channel and ends the supervisor).
struct Core {
    name: String,
    settings: Settings,
    state: watch::Sender<LinkState>,
    /// Asks the supervisor to retry now instead of at the end of its backoff.
    kick: Notify,
    receipts: Option<Arc<dyn ReceiptSink>>,
}

/// The SMPP provider: one `bind_transceiver` session, shared by every send.
pub struct SmppSender {
    core: Arc<Core>,
    requests: mpsc::Sender<ToSession>,
    /// The supervisor's half, until it is started (at build inside a runtime, else on
    /// first use).
    start: Mutex<Option<mpsc::Receiver<ToSession>>>,
    window: Arc<Semaphore>,
    /// Submits in a row that timed out (reset by any answer from the SMSC).
    timeouts: AtomicU32,
    pause: Mutex<Pause>,
    /// When the next `submit_sm` may go, with `throughput_per_s`.
    next_slot: Mutex<Option<Instant>>,
    udh_reference: AtomicU8,
}

impl SmppSender {
    /// Checks the config and starts connecting in the background when called inside a
    /// Tokio runtime. `receipts` gets the delivery receipts the SMSC sends back.
    pub fn new(
        name: &str,
        config: &SmppConfig,
        receipts: Option<Arc<dyn ReceiptSink>>,
    ) -> Result<SmppSender, BuildError> {
        let settings = config.settings(name)?;
        let (requests, rx) = mpsc::channel(settings.window.max(16));
        let (state, _) = watch::channel(LinkState {
            link: Link::Connecting,
            attempts: 0,
        });
        let window = Arc::new(Semaphore::new(settings.window));
        let sender = SmppSender {
            core: Arc::new(Core {
                name: name.to_owned(),
                settings,
                state,
                kick: Notify::new(),
                receipts,
            }),
            requests,
            start: Mutex::new(Some(rx)),
            window,
            timeouts: AtomicU32::new(0),
            pause: Mutex::new(Pause {
                session: 0,
                until: None,
                next: THROTTLE_PAUSE_MIN,
            }),
            next_slot: Mutex::new(None),
            // Any start will do; a per-process random one is not needed.
            udh_reference: AtomicU8::new(1),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            sender.ensure_started();
        }
        Ok(sender)
    }

    fn ensure_started(&self) {
        let rx = self.start.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(rx) = rx {
            tokio::spawn(supervise(self.core.clone(), rx));
        }
    }

    fn err(&self, class: fn(String) -> SendError, what: impl std::fmt::Display) -> SendError {
        class(format!("{}: {what}", self.core.name))
    }

    /// Waits until the session is bound, or until an attempt that finishes after this call
    /// fails (its error), or `wait` passes. When the session is down it asks for an
    /// attempt now.
    async fn wait_bound(&self, wait: Duration) -> Result<(), SendError> {
        self.ensure_started();
        let mut rx = self.core.state.subscribe();
        let (start, mut last) = {
            let s = rx.borrow_and_update();
            match &s.link {
                Link::Bound => return Ok(()),
                Link::Down(e) => {
                    self.core.kick.notify_one();
                    (s.attempts, Some(e.clone()))
                }
                Link::Connecting => (s.attempts, None),
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            match timeout_at(deadline, rx.changed()).await {
                Err(_) => {
                    return Err(last.unwrap_or_else(|| {
                        self.err(
                            SendError::Retryable,
                            format_args!("not bound to the SMSC within {} ms", wait.as_millis()),
                        )
                    }));
                }
                Ok(Err(_)) => return Err(self.err(SendError::Retryable, "the SMPP session has ended")),
                Ok(Ok(())) => {
                    let s = rx.borrow_and_update();
                    match &s.link {
                        Link::Bound => return Ok(()),
                        Link::Down(e) if s.attempts > start => return Err(e.clone()),
                        Link::Down(e) => last = Some(e.clone()),
                        Link::Connecting => {}
                    }
                }
            }
        }
    }

    /// Waits for this part's turn under `throughput_per_s`.
    async fn throttle(&self) {
        let Some(rate) = self.core.settings.throughput_per_s else {
            return;
        };
        let gap = Duration::from_secs(1) / rate;
        let slot = {
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + gap);
            slot
        };
        sleep_until(slot).await;
    }

    /// The generation of the current (or last) session.
    fn session(&self) -> u64 {
        self.core.state.borrow().attempts
    }

    /// Counts a submit that timed out; the [`REPLACE_AFTER_TIMEOUTS`]th in a row asks the
    /// supervisor to replace the bound session.
    fn count_timeout(&self) {
        let n = self.timeouts.fetch_add(1, Ordering::Relaxed) + 1;
        if n < REPLACE_AFTER_TIMEOUTS {
            return;
        }
        let bound = {
            let s = self.core.state.borrow();
            (s.link == Link::Bound).then_some(s.attempts)
        };
        match bound {
            // Not bound: the session is being replaced anyway.
            None => self.timeouts.store(0, Ordering::Relaxed),
            Some(session) => {
                // When the channel is full the next timeout asks again.
                if self.requests.try_send(ToSession::Replace(session)).is_ok() {
                    self.timeouts.store(0, Ordering::Relaxed);
                    tracing::warn!(
                        provider = %self.core.name,
                        timeouts = n,
                        "SMPP submits keep timing out; replacing the session"
                    );
                }
            }
        }
    }

    /// When new submits on `session` may go again, if it is paused.
    fn paused_until(&self, session: u64) -> Option<Instant> {
        let p = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        p.until.filter(|u| p.session == session && *u > Instant::now())
    }

    /// The SMSC throttled `session`: pauses it (unless a pause is already running, so a
    /// burst of throttled answers doubles the pause once) and returns the pause's end.
    fn throttled(&self, session: u64) -> Instant {
        let mut p = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        if p.session != session {
            *p = Pause {
                session,
                until: None,
                next: THROTTLE_PAUSE_MIN,
            };
        }
        let now = Instant::now();
        match p.until {
            Some(u) if u > now => u,
            _ => {
                let u = now + p.next;
                p.until = Some(u);
                p.next = (p.next * 2).min(THROTTLE_PAUSE_MAX);
                u
            }
        }
    }

    /// The SMSC took a message: the throttle pause is over.
    fn accepted(&self) {
        let mut p = self.pause.lock().unwrap_or_else(|e| e.into_inner());
        p.until = None;
        p.next = THROTTLE_PAUSE_MIN;
    }

    /// Sends one `submit_sm` and returns the SMSC's message id. Answered with
    /// `ESME_RTHROTTLED`, it pauses the session and tries again (up to [`THROTTLED_TRIES`]
    /// in all, all within `submit_timeout`).
    async fn submit(&self, submit: &SubmitSm) -> Result<String, SendError> {
        let deadline = Instant::now() + self.core.settings.submit_timeout;
        let body = submit.encode();
        let mut tries = 0;
        loop {
            tries += 1;
            let session = self.session();
            if let Some(until) = self.paused_until(session) {
                if until >= deadline {
                    return Err(self.err(
                        SendError::Retryable,
                        "the SMSC is throttling the session (ESME_RTHROTTLED); submits paused",
                    ));
                }
                sleep_until(until).await;
            }
            let resp = self.submit_once(body.clone(), deadline).await?;
            self.timeouts.store(0, Ordering::Relaxed);
            if resp.status == status::ESME_RTHROTTLED {
                let until = self.throttled(session);
                if tries < THROTTLED_TRIES && until < deadline {
                    tracing::debug!(provider = %self.core.name, tries, "submit_sm throttled; retrying after a pause");
                    continue;
                }
                return Err(classify_submit(&self.core.name, resp.status));
            }
            if resp.status != status::ESME_ROK {
                return Err(classify_submit(&self.core.name, resp.status));
            }
            if resp.command_id == pdu::GENERIC_NACK {
                return Err(self.err(SendError::Retryable, "the SMSC answered generic_nack"));
            }
            self.accepted();
            return pdu::submit_sm_resp_message_id(&resp.body).ok_or_else(|| {
                self.err(
                    SendError::Retryable,
                    "the SMSC accepted the message without a message_id",
                )
            });
        }
    }

    /// One `submit_sm` under the window: its response, whatever the status.
    async fn submit_once(&self, body: Vec<u8>, deadline: Instant) -> Result<Pdu, SendError> {
        let ms = self.core.settings.submit_timeout.as_millis();
        let permit = match timeout_at(deadline, self.window.clone().acquire_owned()).await {
            Err(_) => {
                self.count_timeout();
                return Err(self.err(
                    SendError::Retryable,
                    format_args!("no window slot free within {ms} ms (submit_sm awaiting their answer)"),
                ));
            }
            Ok(Err(_)) => return Err(self.err(SendError::Retryable, "the SMPP session has ended")),
            Ok(Ok(p)) => p,
        };
        self.throttle().await;
        let (reply, answer) = oneshot::channel();
        let req = Request {
            command_id: pdu::SUBMIT_SM,
            body,
            deadline,
            reply,
            permit,
        };
        let timed_out = || {
            self.count_timeout();
            self.err(SendError::Retryable, format_args!("no submit_sm_resp within {ms} ms"))
        };
        timeout_at(deadline, self.requests.send(ToSession::Submit(req)))
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| self.err(SendError::Retryable, "the SMPP session has ended"))?;
        timeout_at(deadline, answer)
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| {
                self.err(
                    SendError::Retryable,
                    "the connection to the SMSC was lost before it answered",
                )
            })
    }
}

/// The class of a `submit_sm_resp` error status.
///
/// Retryable: the SMSC is busy or had a transient failure (throttled, queue full, system
/// error, submit failed, not bound yet). Permanent: everything about the message or the
/// account (invalid destination or source, refused content, vendor codes).
pub fn classify_submit(provider: &str, code: u32) -> SendError {
    let msg = format!(
        "{provider}: the SMSC refused the message: {} (0x{code:02X})",
        status::name(code)
    );
    match code {
        status::ESME_RTHROTTLED
        | status::ESME_RMSGQFUL
        | status::ESME_RSYSERR
        | status::ESME_RSUBMITFAIL
        | status::ESME_RINVBNDSTS
        | status::ESME_RX_T_APPN => SendError::Retryable(msg),
        _ => SendError::Permanent(msg),
    }
}

/// The class of a `bind_transceiver_resp` error status: bad credentials are permanent
/// (for the healthcheck; a send while unbound is always retryable), the rest retryable.
pub fn classify_bind(provider: &str, code: u32) -> SendError {
    let msg = format!(
        "{provider}: the SMSC refused the bind: {} (0x{code:02X})",
        status::name(code)
    );
    match code {
        status::ESME_RINVPASWD | status::ESME_RINVSYSID => SendError::Permanent(msg),
        _ => SendError::Retryable(msg),
    }
}

#[async_trait]
impl Sender for SmppSender {
    fn name(&self) -> &str {
        &self.core.name
    }

    #[tracing::instrument(skip_all, fields(provider = %self.core.name, to = %msg.to.masked()))]
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        if msg.channel != Channel::Sms {
            return Err(self.err(SendError::Permanent, "SMPP carries SMS only"));
        }
        // The message's own sender when SMPP can carry it, else the configured one (a
        // brand too long for an alphanumeric sender must not fail the code's delivery).
        let source = msg
            .sender
            .as_deref()
            .and_then(|s| source_address(s).ok())
            .unwrap_or_else(|| self.core.settings.source.clone());
        let destination = Address {
            ton: 1,
            npi: 1,
            addr: msg.to.e164().trim_start_matches('+').to_owned(),
        };
        let reference = self.udh_reference.fetch_add(1, Ordering::Relaxed);
        let parts = encoding::split(&msg.text, reference).map_err(|e| self.err(SendError::Permanent, e))?;

        // A send while unbound is retryable whatever the bind error: the router tries the
        // next provider, and the job's backoff comes back later.
        self.wait_bound(self.core.settings.bind_timeout)
            .await
            .map_err(|e| match e {
                SendError::Permanent(m) | SendError::Retryable(m) => SendError::Retryable(format!("not bound: {m}")),
            })?;

        let mut first_id = None;
        let total = parts.len();
        for part in parts {
            let submit = SubmitSm {
                source: source.clone(),
                destination: destination.clone(),
                esm_class: if part.udh.is_some() { pdu::ESM_UDHI } else { 0 },
                registered_delivery: 1,
                data_coding: part.data_coding,
                short_message: part.short_message(),
            };
            let id = self.submit(&submit).await?;
            first_id.get_or_insert(id);
        }
        tracing::debug!(parts = total, message_id = first_id.as_deref(), "submitted");
        Ok(SendReceipt {
            provider: self.core.name.clone(),
            provider_message_id: first_id,
        })
    }

    /// `false` once an attempt to connect or bind has failed, until one succeeds.
    fn available(&self) -> bool {
        !matches!(self.core.state.borrow().link, Link::Down(_))
    }

    /// Bound, or binds within `bind_timeout_ms`. Bad credentials are permanent.
    async fn healthcheck(&self) -> Result<(), SendError> {
        // The connect itself is bounded by bind_timeout; allow for the one-second gap the
        // supervisor keeps between attempts.
        self.wait_bound(self.core.settings.bind_timeout + Duration::from_secs(1))
            .await
    }
}

/// Why a session ended.
enum End {
    /// Every [`SmppSender`] handle is gone: unbound, stop.
    Closed,
    Lost(String),
    /// Senders asked for a new session: unbound, reconnect.
    Replaced,
}

/// Connects, binds, runs the session, reconnects: until the sender is dropped.
async fn supervise(core: Arc<Core>, mut requests: mpsc::Receiver<ToSession>) {
    let mut failures: u32 = 0;
    let mut last_attempt: Option<Instant> = None;
    loop {
        // At least a second between attempts, whatever asks for one.
        if let Some(t) = last_attempt {
            sleep_until(t + Duration::from_secs(1)).await;
        }
        last_attempt = Some(Instant::now());
        core.state.send_modify(|s| s.link = Link::Connecting);
        match connect_and_bind(&core).await {
            Ok(stream) => {
                failures = 0;
                core.state.send_modify(|s| {
                    s.link = Link::Bound;
                    s.attempts += 1;
                });
                let generation = core.state.borrow().attempts;
                tracing::info!(provider = %core.name, "SMPP session bound");
                match run_session(&core, generation, stream, &mut requests).await {
                    End::Closed => {
                        tracing::info!(provider = %core.name, "SMPP session closed");
                        return;
                    }
                    End::Lost(why) => {
                        tracing::warn!(provider = %core.name, reason = %why, "SMPP session lost; reconnecting");
                        core.state.send_modify(|s| s.link = Link::Connecting);
                    }
                    End::Replaced => {
                        tracing::warn!(provider = %core.name, "SMPP session unbound to free its window; reconnecting");
                        core.state.send_modify(|s| s.link = Link::Connecting);
                    }
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(provider = %core.name, error = %e, failures, "SMPP bind failed");
                core.state.send_modify(|s| {
                    s.link = Link::Down(e);
                    s.attempts += 1;
                });
                let backoff = Duration::from_secs(1u64 << (failures - 1).min(16)).min(core.settings.reconnect_max);
                let until = Instant::now() + backoff;
                // Wait out the backoff, unless asked to retry now; answer requests that
                // slipped in (a sender that saw the session bound just before it fell)
                // at once.
                loop {
                    tokio::select! {
                        _ = sleep_until(until) => break,
                        _ = core.kick.notified() => break,
                        req = requests.recv() => match req {
                            Some(r) => drop(r),
                            None => return,
                        },
                    }
                }
            }
        }
    }
}

async fn connect_and_bind(core: &Core) -> Result<TcpStream, SendError> {
    let s = &core.settings;
    let name = &core.name;
    let attempt = async {
        let mut stream = TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| SendError::Retryable(format!("{name}: could not connect to the SMSC: {}", e.kind())))?;
        let _ = stream.set_nodelay(true);
        let bind = Pdu::new(
            pdu::BIND_TRANSCEIVER,
            0,
            1,
            pdu::bind_transceiver(&s.system_id, s.password.expose_secret(), &s.system_type),
        );
        stream
            .write_all(&bind.encode())
            .await
            .map_err(|e| SendError::Retryable(format!("{name}: could not send bind_transceiver: {}", e.kind())))?;
        loop {
            let resp = pdu::read_pdu(&mut stream)
                .await
                .map_err(|e| SendError::Retryable(format!("{name}: bind: {e}")))?
                .ok_or_else(|| SendError::Retryable(format!("{name}: the SMSC closed the connection during bind")))?;
            match resp.command_id {
                pdu::BIND_TRANSCEIVER_RESP | pdu::GENERIC_NACK if resp.status != status::ESME_ROK => {
                    return Err(classify_bind(name, resp.status));
                }
                pdu::BIND_TRANSCEIVER_RESP => return Ok(stream),
                pdu::GENERIC_NACK => {
                    return Err(SendError::Retryable(format!(
                        "{name}: the SMSC answered bind with generic_nack"
                    )));
                }
                // Anything else before the bind response is out of place; ignore it.
                _ => {}
            }
        }
    };
    timeout(s.bind_timeout, attempt).await.unwrap_or_else(|_| {
        Err(SendError::Retryable(format!(
            "{name}: no bind_transceiver_resp within {} ms",
            s.bind_timeout.as_millis()
        )))
    })
}

/// Sequence numbers 2..=0x7FFFFFFF (1 is the bind), wrapping.
struct Sequence(u32);

impl Sequence {
    fn next(&mut self) -> u32 {
        self.0 = if self.0 >= 0x7FFF_FFFF { 2 } else { self.0 + 1 };
        self.0
    }
}

async fn write(w: &mut OwnedWriteHalf, pdu: &Pdu) -> Result<(), End> {
    w.write_all(&pdu.encode())
        .await
        .map_err(|e| End::Lost(format!("write failed: {}", e.kind())))
}

async fn run_session(core: &Core, generation: u64, stream: TcpStream, requests: &mut mpsc::Receiver<ToSession>) -> End {
    let (mut rd, mut wr) = stream.into_split();
    let (pdu_tx, mut pdus) = mpsc::channel::<Result<Pdu, String>>(64);
    let reader = tokio::spawn(async move {
        loop {
            let next = match pdu::read_pdu(&mut rd).await {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err("the SMSC closed the connection".to_owned()),
                Err(e) => Err(format!("read failed: {e}")),
            };
            let stop = next.is_err();
            if pdu_tx.send(next).await.is_err() || stop {
                return;
            }
        }
    });
    let end = session_loop(core, generation, &mut wr, &mut pdus, requests).await;
    reader.abort();
    if matches!(end, End::Closed | End::Replaced) {
        // A polite unbind; the answer is not awaited.
        let _ = wr
            .write_all(&Pdu::new(pdu::UNBIND, 0, 0x7FFF_FFFF, vec![]).encode())
            .await;
    }
    let _ = wr.shutdown().await;
    end
}

async fn session_loop(
    core: &Core,
    generation: u64,
    wr: &mut OwnedWriteHalf,
    pdus: &mut mpsc::Receiver<Result<Pdu, String>>,
    requests: &mut mpsc::Receiver<ToSession>,
) -> End {
    let mut seq = Sequence(1);
    // Requests written and not answered yet, with their window slots (at most `window`
    // entries: every request holds a permit). Dropped with the session, which frees them.
    let mut pending: HashMap<u32, (oneshot::Sender<Pdu>, OwnedSemaphorePermit)> = HashMap::new();
    let period = core.settings.enquire_link;
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_enquire = false;
    loop {
        tokio::select! {
            incoming = pdus.recv() => {
                let pdu = match incoming {
                    Some(Ok(p)) => p,
                    Some(Err(why)) => return End::Lost(why),
                    None => return End::Lost("the reader stopped".into()),
                };
                if pdu.is_response() {
                    match pdu.command_id {
                        pdu::ENQUIRE_LINK_RESP => awaiting_enquire = false,
                        _ => {
                            if let Some((tx, _permit)) = pending.remove(&pdu.sequence) {
                                let _ = tx.send(pdu);
                            }
                        }
                    }
                    continue;
                }
                match pdu.command_id {
                    pdu::ENQUIRE_LINK => {
                        if let Err(end) = write(wr, &Pdu::new(pdu::ENQUIRE_LINK_RESP, 0, pdu.sequence, vec![])).await {
                            return end;
                        }
                    }
                    pdu::DELIVER_SM => {
                        handle_deliver_sm(core, &pdu.body);
                        if let Err(end) = write(wr, &Pdu::new(pdu::DELIVER_SM_RESP, 0, pdu.sequence, pdu::deliver_sm_resp())).await {
                            return end;
                        }
                    }
                    pdu::UNBIND => {
                        let _ = write(wr, &Pdu::new(pdu::UNBIND_RESP, 0, pdu.sequence, vec![])).await;
                        return End::Lost("the SMSC unbound".into());
                    }
                    _ => {
                        if let Err(end) = write(wr, &Pdu::new(pdu::GENERIC_NACK, status::ESME_RINVCMDID, pdu.sequence, vec![])).await {
                            return end;
                        }
                    }
                }
            }
            req = requests.recv() => {
                let req = match req {
                    None => return End::Closed,
                    Some(ToSession::Replace(g)) if g == generation => return End::Replaced,
                    // Meant for a session already gone.
                    Some(ToSession::Replace(_)) => continue,
                    Some(ToSession::Submit(req)) => req,
                };
                // Given up on before it was written: dropped, which frees its slot.
                if req.reply.is_closed() || Instant::now() >= req.deadline {
                    continue;
                }
                let s = seq.next();
                if let Err(end) = write(wr, &Pdu::new(req.command_id, 0, s, req.body)).await {
                    return end;
                }
                pending.insert(s, (req.reply, req.permit));
            }
            _ = ticker.tick() => {
                if awaiting_enquire {
                    return End::Lost("no enquire_link_resp for a whole period".into());
                }
                let s = seq.next();
                if let Err(end) = write(wr, &Pdu::new(pdu::ENQUIRE_LINK, 0, s, vec![])).await {
                    return end;
                }
                awaiting_enquire = true;
            }
        }
    }
}

fn handle_deliver_sm(core: &Core, body: &[u8]) {
    // Always acknowledged (by the caller): an SMSC re-sends an unacknowledged deliver_sm,
    // and one we cannot read will not read better the second time.
    let d = match DeliverSm::decode(body) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(provider = %core.name, error = %e, "unreadable deliver_sm acknowledged and dropped");
            return;
        }
    };
    let Some(r) = receipt::from_deliver_sm(&d) else {
        tracing::debug!(provider = %core.name, "deliver_sm that is not a delivery receipt ignored");
        return;
    };
    tracing::debug!(provider = %core.name, message_id = %r.message_id, status = r.status.as_str(), "delivery receipt");
    if let Some(sink) = &core.receipts {
        sink.receipt(DeliveryReceipt {
            provider: core.name.clone(),
            provider_message_id: r.message_id,
            status: r.status,
            reason: r.reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_and_bind_statuses() {
        for code in [0x58, 0x14, 0x08, 0x45, 0x04, 0x64] {
            assert!(
                matches!(classify_submit("p", code), SendError::Retryable(_)),
                "{code:#x}"
            );
        }
        for code in [0x0B, 0x0A, 0x01, 0x61, 0x400] {
            assert!(
                matches!(classify_submit("p", code), SendError::Permanent(_)),
                "{code:#x}"
            );
        }
        assert_eq!(
            classify_submit("smsc", 0x58),
            SendError::Retryable("smsc: the SMSC refused the message: ESME_RTHROTTLED (0x58)".into())
        );
        assert!(matches!(classify_bind("p", 0x0E), SendError::Permanent(m) if m.contains("ESME_RINVPASWD")));
        assert!(matches!(classify_bind("p", 0x0F), SendError::Permanent(_)));
        for code in [0x0D, 0x05, 0x08] {
            assert!(matches!(classify_bind("p", code), SendError::Retryable(_)), "{code:#x}");
        }
    }

    #[test]
    fn the_throttle_pause_doubles_to_its_cap_and_resets_on_a_success() {
        let config: SmppConfig = serde_json::from_value(serde_json::json!({
            "host": "smsc.example", "system_id": "acct", "password": "pw", "source_addr": "Acme"
        }))
        .unwrap();
        // Outside a runtime nothing connects.
        let sender = SmppSender::new("smsc", &config, None).unwrap();
        let next = |s: &SmppSender| s.pause.lock().unwrap().next.as_secs();
        let until = sender.throttled(7);
        assert!(until > Instant::now() + Duration::from_millis(900));
        assert_eq!(sender.paused_until(7), Some(until));
        assert_eq!(sender.paused_until(8), None, "another session is not paused");
        // A throttled answer during the pause does not lengthen it.
        assert_eq!(sender.throttled(7), until);
        assert_eq!(next(&sender), 2);
        for want in [4, 8, 8] {
            sender.pause.lock().unwrap().until = Some(Instant::now());
            sender.throttled(7);
            assert_eq!(next(&sender), want);
        }
        sender.accepted();
        assert_eq!((sender.paused_until(7), next(&sender)), (None, 1));
        // A new session starts from the shortest pause.
        sender.pause.lock().unwrap().next = THROTTLE_PAUSE_MAX;
        sender.throttled(9);
        assert_eq!(next(&sender), 2);
    }

    #[test]
    fn sequence_numbers_wrap_past_the_bind() {
        let mut s = Sequence(0x7FFF_FFFE);
        assert_eq!((s.next(), s.next(), s.next()), (0x7FFF_FFFF, 2, 3));
    }
}
