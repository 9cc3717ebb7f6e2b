//! Routing, failover and circuit breaking over the configured providers — itself a
//! [`Sender`], so the worker and the engine see one delivery port.
//!
//! A *route* names a channel (or any), a destination prefix (or none: the default) and
//! providers in priority order. A message takes the route whose prefix is the longest one
//! matching its number, among the routes for its channel (a route for its exact channel
//! wins over an `any` route with the same prefix); then its providers are tried in order:
//!
//! - success → done;
//! - retryable (timeout, 5xx, throttling) → the next provider of the route;
//! - permanent (invalid number, blocked, refused) → failed at once: another provider would
//!   refuse the same number;
//! - a provider whose circuit is open is skipped.
//!
//! When every provider of the route failed retryably (or is open), the send is retryable:
//! the job backs off and tries the route again later.
//!
//! Each provider has a circuit breaker: after `failures` consecutive retryable failures it
//! opens for `cooldown_s` (skipped); then one trial send is let through (half-open): success
//! closes it, failure opens it again. While every provider of the route a destination
//! would take is open, [`Sender::available_for`] is false, so the faces answer "upstream
//! down" at once instead of queueing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::{Clock, Timestamp};
use ringproof_core::workflow::Channel;
use serde::{Deserialize, Serialize};

use crate::error::BuildError;

/// One route of the config (`[[routes]]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `sms`, `voice`, or absent for both.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// A destination prefix in E.164 form (`+1`, `+4477`); absent for every number.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Provider names (keys of `[providers.*]`), tried in this order.
    pub providers: Vec<String>,
}

/// The circuit breaker's settings (`[breaker]`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive retryable failures that open a provider's circuit.
    pub failures: u32,
    /// How long an open circuit skips its provider, in seconds.
    pub cooldown_s: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown_s: 30,
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive: u32,
    open_until: Option<Timestamp>,
    /// When the half-open trial in flight started; others skip the provider until it
    /// answers. A trial older than the cool-down counts as lost (its send was dropped), so a
    /// circuit can never stay open for good.
    trial_since: Option<Timestamp>,
}

struct Member {
    name: String,
    sender: Arc<dyn Sender>,
    breaker: Mutex<Breaker>,
}

struct Route {
    channel: Option<Channel>,
    prefix: String,
    members: Vec<usize>,
}

/// Routes messages over named providers. Build it with [`Router::new`].
pub struct Router {
    members: Vec<Member>,
    routes: Vec<Route>,
    breaker: BreakerConfig,
    clock: Arc<dyn Clock>,
}

/// What the breaker lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Closed,
    Trial,
    Open,
}

impl Router {
    /// `providers` by name; every route must name only those, and have at least one.
    pub fn new(
        providers: Vec<(String, Arc<dyn Sender>)>,
        routes: &[RouteConfig],
        breaker: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        if routes.is_empty() {
            return Err(BuildError::Routes("at least one [[routes]] entry is needed".into()));
        }
        if breaker.failures == 0 {
            return Err(BuildError::Routes("breaker.failures must be at least 1".into()));
        }
        let members: Vec<Member> = providers
            .into_iter()
            .map(|(name, sender)| Member {
                name,
                sender,
                breaker: Mutex::new(Breaker::default()),
            })
            .collect();
        let mut built = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            let prefix = r.prefix.clone().unwrap_or_default();
            let well_formed = prefix
                .strip_prefix('+')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if !prefix.is_empty() && !well_formed {
                return Err(BuildError::Routes(format!(
                    "routes[{i}].prefix `{prefix}` must be `+` and digits, like +1 or +4477"
                )));
            }
            if r.providers.is_empty() {
                return Err(BuildError::Routes(format!("routes[{i}] names no provider")));
            }
            let mut idx = Vec::with_capacity(r.providers.len());
            for name in &r.providers {
                let Some(m) = members.iter().position(|m| &m.name == name) else {
                    return Err(BuildError::Routes(format!(
                        "routes[{i}] names provider `{name}`, which is not configured under [providers]"
                    )));
                };
                idx.push(m);
            }
            built.push(Route {
                channel: r.channel,
                prefix,
                members: idx,
            });
        }
        Ok(Self {
            members,
            routes: built,
            breaker,
            clock,
        })
    }

    /// The route a message to `to` on `channel` takes, if any.
    fn route(&self, to: &str, channel: Channel) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.channel.is_none_or(|c| c == channel) && to.starts_with(&r.prefix))
            .max_by_key(|r| (r.prefix.len(), r.channel.is_some()))
    }

    fn gate(&self, m: &Member, now: Timestamp, take_trial: bool) -> Gate {
        let cooldown = i64::from(self.breaker.cooldown_s);
        let mut b = m.breaker.lock().unwrap_or_else(|p| p.into_inner());
        match b.open_until {
            None => Gate::Closed,
            Some(until) if now < until => Gate::Open,
            Some(_) if b.trial_since.is_some_and(|t| now < t.plus_secs(cooldown)) => Gate::Open,
            Some(_) => {
                if take_trial {
                    b.trial_since = Some(now);
                }
                Gate::Trial
            }
        }
    }

    /// Records a send's outcome. Only the trial's own outcome ends the trial; a failed
    /// trial reopens the circuit at once, other failures open it after `failures` in a row.
    fn record(&self, m: &Member, ok: bool, was_trial: bool, now: Timestamp) {
        let mut b = m.breaker.lock().unwrap_or_else(|p| p.into_inner());
        if was_trial {
            b.trial_since = None;
        }
        if ok {
            b.consecutive = 0;
            if b.open_until.take().is_some() {
                b.trial_since = None;
                tracing::info!(provider = %m.name, "circuit closed: the provider answers again");
                metrics::gauge!("ringproof_provider_circuit_open", "provider" => m.name.clone()).set(0.0);
            }
            return;
        }
        b.consecutive = b.consecutive.saturating_add(1);
        if was_trial || (b.open_until.is_none() && b.consecutive >= self.breaker.failures) {
            b.open_until = Some(now.plus_secs(i64::from(self.breaker.cooldown_s)));
            tracing::warn!(
                provider = %m.name,
                failures = b.consecutive,
                cooldown_s = self.breaker.cooldown_s,
                "circuit open: the provider is skipped for the cool-down"
            );
            metrics::gauge!("ringproof_provider_circuit_open", "provider" => m.name.clone()).set(1.0);
        }
    }

    /// The names of the providers, in config order (for `send-test` and logs).
    pub fn provider_names(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.name.as_str()).collect()
    }
}

#[async_trait]
impl Sender for Router {
    fn name(&self) -> &str {
        "router"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let Some(route) = self.route(msg.to.e164(), msg.channel) else {
            return Err(SendError::Permanent(format!(
                "no route for {} messages to this destination",
                msg.channel.as_str()
            )));
        };
        let mut last: Option<String> = None;
        for &i in &route.members {
            let m = &self.members[i];
            // A provider that knows it cannot send now (an SMPP session that is not bound)
            // is passed over without a try, like an open circuit.
            if !m.sender.available_for(&msg.to, msg.channel) {
                continue;
            }
            let gate = self.gate(m, self.clock.now(), true);
            if gate == Gate::Open {
                continue;
            }
            // Should this send be dropped before it answers (a caller's timeout, shutdown),
            // the guard still records it, as a failure, so a trial is never left open.
            let mut pending = Pending {
                router: self,
                member: m,
                trial: gate == Gate::Trial,
                done: false,
            };
            let result = m.sender.send(msg).await;
            let outcome = match &result {
                Ok(_) => "sent",
                Err(SendError::Retryable(_)) => "retryable",
                Err(SendError::Permanent(_)) => "permanent",
            };
            metrics::counter!("ringproof_provider_sends_total", "provider" => m.name.clone(),
                "channel" => msg.channel.as_str(), "outcome" => outcome)
            .increment(1);
            match result {
                Ok(receipt) => {
                    pending.finish(true);
                    return Ok(receipt);
                }
                Err(SendError::Permanent(e)) => {
                    // The provider answered: it is up, the message is the problem.
                    pending.finish(true);
                    return Err(SendError::Permanent(e));
                }
                Err(SendError::Retryable(e)) => {
                    tracing::warn!(provider = %m.name, error = %e, "send failed; trying the next provider of the route");
                    pending.finish(false);
                    last = Some(e);
                }
            }
        }
        Err(SendError::Retryable(last.unwrap_or_else(|| {
            "every provider of the route is open (circuit breaker); try again later".into()
        })))
    }

    fn available(&self) -> bool {
        let now = self.clock.now();
        self.members
            .iter()
            .any(|m| m.sender.available() && self.gate(m, now, false) != Gate::Open)
    }

    fn available_for(&self, to: &PhoneNumber, channel: Channel) -> bool {
        let now = self.clock.now();
        self.route(to.e164(), channel).is_some_and(|r| {
            r.members.iter().any(|&i| {
                let m = &self.members[i];
                m.sender.available_for(to, channel) && self.gate(m, now, false) != Gate::Open
            })
        })
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        for m in &self.members {
            m.sender.healthcheck().await?;
        }
        Ok(())
    }
}

/// One send through one member, until its outcome is recorded.
struct Pending<'a> {
    router: &'a Router,
    member: &'a Member,
    trial: bool,
    done: bool,
}

impl Pending<'_> {
    fn finish(&mut self, ok: bool) {
        self.done = true;
        self.router.record(self.member, ok, self.trial, self.router.clock.now());
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.router
                .record(self.member, false, self.trial, self.router.clock.now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use ringproof_core::time::ManualClock;

    use super::*;

    /// A provider that answers from a script, counting calls.
    struct Scripted {
        name: String,
        answers: Mutex<Vec<Result<(), SendError>>>,
        calls: AtomicU32,
    }

    impl Scripted {
        fn new(name: &str, answers: Vec<Result<(), SendError>>) -> Arc<Self> {
            Arc::new(Self {
                name: name.into(),
                answers: Mutex::new(answers),
                calls: AtomicU32::new(0),
            })
        }
        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Sender for Scripted {
        fn name(&self) -> &str {
            &self.name
        }
        async fn send(&self, _msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut a = self.answers.lock().unwrap();
            let next = if a.len() > 1 { a.remove(0) } else { a[0].clone() };
            next.map(|()| SendReceipt {
                provider: self.name.clone(),
                provider_message_id: None,
            })
        }
    }

    fn msg(to: &str, channel: Channel) -> OutboundMessage {
        OutboundMessage {
            idempotency_key: "JB1".into(),
            to: PhoneNumber::parse_e164(to).unwrap(),
            channel,
            text: "hi".into(),
            locale: "en".into(),
            sender: None,
            verification: None,
        }
    }

    fn retry() -> Result<(), SendError> {
        Err(SendError::Retryable("HTTP 500".into()))
    }

    fn route(channel: Option<Channel>, prefix: Option<&str>, providers: &[&str]) -> RouteConfig {
        RouteConfig {
            channel,
            prefix: prefix.map(Into::into),
            providers: providers.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn router(
        members: &[&Arc<Scripted>],
        routes: &[RouteConfig],
        breaker: BreakerConfig,
        clock: &Arc<ManualClock>,
    ) -> Router {
        let providers = members
            .iter()
            .map(|s| (s.name.clone(), Arc::clone(s) as Arc<dyn Sender>))
            .collect();
        Router::new(providers, routes, breaker, clock.clone()).unwrap()
    }

    #[tokio::test]
    async fn longest_prefix_and_exact_channel_win() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let (us, uk, def, voice) = (
            Scripted::new("us", vec![Ok(())]),
            Scripted::new("uk", vec![Ok(())]),
            Scripted::new("def", vec![Ok(())]),
            Scripted::new("voice", vec![Ok(())]),
        );
        let r = router(
            &[&us, &uk, &def, &voice],
            &[
                route(None, None, &["def"]),
                route(None, Some("+1"), &["us"]),
                route(None, Some("+44"), &["uk"]),
                route(Some(Channel::Voice), Some("+1"), &["voice"]),
            ],
            BreakerConfig::default(),
            &clock,
        );
        assert_eq!(r.send(&msg("+14155550123", Channel::Sms)).await.unwrap().provider, "us");
        assert_eq!(
            r.send(&msg("+14155550123", Channel::Voice)).await.unwrap().provider,
            "voice"
        );
        assert_eq!(
            r.send(&msg("+447911123456", Channel::Voice)).await.unwrap().provider,
            "uk"
        );
        assert_eq!(
            r.send(&msg("+33612345678", Channel::Sms)).await.unwrap().provider,
            "def"
        );
    }

    #[tokio::test]
    async fn retryable_fails_over_permanent_does_not() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let a = Scripted::new("a", vec![retry()]);
        let b = Scripted::new("b", vec![Ok(())]);
        let r = router(
            &[&a, &b],
            &[route(None, None, &["a", "b"])],
            BreakerConfig::default(),
            &clock,
        );
        assert_eq!(r.send(&msg("+14155550123", Channel::Sms)).await.unwrap().provider, "b");
        assert_eq!((a.calls(), b.calls()), (1, 1));

        let a = Scripted::new("a", vec![Err(SendError::Permanent("invalid number".into()))]);
        let b = Scripted::new("b", vec![Ok(())]);
        let r = router(
            &[&a, &b],
            &[route(None, None, &["a", "b"])],
            BreakerConfig::default(),
            &clock,
        );
        assert_eq!(
            r.send(&msg("+14155550123", Channel::Sms)).await.unwrap_err(),
            SendError::Permanent("invalid number".into())
        );
        assert_eq!(b.calls(), 0, "a permanent refusal is not retried elsewhere");
    }

    #[tokio::test]
    async fn the_breaker_opens_skips_and_closes_after_a_good_trial() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let a = Scripted::new("a", vec![retry(), retry(), Ok(())]);
        let b = Scripted::new("b", vec![Ok(())]);
        let cfg = BreakerConfig {
            failures: 2,
            cooldown_s: 30,
        };
        let r = router(&[&a, &b], &[route(None, None, &["a", "b"])], cfg, &clock);
        let m = msg("+14155550123", Channel::Sms);
        r.send(&m).await.unwrap();
        r.send(&m).await.unwrap();
        assert_eq!(a.calls(), 2, "two failures open a's circuit");
        r.send(&m).await.unwrap();
        assert_eq!(a.calls(), 2, "an open circuit is skipped");
        assert_eq!(b.calls(), 3);
        clock.advance_secs(30);
        assert_eq!(r.send(&m).await.unwrap().provider, "a", "the half-open trial succeeds");
        assert_eq!(r.send(&m).await.unwrap().provider, "a", "closed again");
    }

    #[tokio::test]
    async fn all_open_is_unavailable_and_fails_fast() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let a = Scripted::new("a", vec![retry()]);
        let b = Scripted::new("b", vec![retry()]);
        let us_only = Scripted::new("us", vec![Ok(())]);
        let cfg = BreakerConfig {
            failures: 1,
            cooldown_s: 60,
        };
        let r = router(
            &[&a, &b, &us_only],
            &[route(None, None, &["a", "b"]), route(None, Some("+1"), &["us"])],
            cfg,
            &clock,
        );
        let uk = msg("+447911123456", Channel::Sms);
        assert!(r.available_for(&uk.to, Channel::Sms));
        assert!(matches!(r.send(&uk).await, Err(SendError::Retryable(_))));
        assert!(
            !r.available_for(&uk.to, Channel::Sms),
            "both providers of the default route are open"
        );
        assert!(r.available_for(&PhoneNumber::parse_e164("+14155550123").unwrap(), Channel::Sms));
        let err = r.send(&uk).await.unwrap_err();
        assert!(
            matches!(&err, SendError::Retryable(e) if e.contains("circuit")),
            "{err:?}"
        );
        assert_eq!((a.calls(), b.calls()), (1, 1), "open circuits are not called");
        // A failed half-open trial opens the circuit again at once.
        clock.advance_secs(60);
        assert!(r.available_for(&uk.to, Channel::Sms));
        assert!(r.send(&uk).await.is_err());
        assert_eq!((a.calls(), b.calls()), (2, 2));
        assert!(!r.available_for(&uk.to, Channel::Sms));
    }

    /// A provider that never answers.
    struct Hangs;

    #[async_trait]
    impl Sender for Hangs {
        fn name(&self) -> &str {
            "hangs"
        }
        async fn send(&self, _msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_trial_dropped_before_it_answers_does_not_keep_the_circuit_open() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let hangs: Arc<dyn Sender> = Arc::new(Hangs);
        let r = Router::new(
            vec![("h".into(), hangs)],
            &[route(None, None, &["h"])],
            BreakerConfig {
                failures: 1,
                cooldown_s: 30,
            },
            clock.clone(),
        )
        .unwrap();
        let m = msg("+14155550123", Channel::Sms);
        let timeout = std::time::Duration::from_millis(10);
        assert!(tokio::time::timeout(timeout, r.send(&m)).await.is_err());
        assert!(
            !r.available_for(&m.to, Channel::Sms),
            "the dropped send counted as a failure"
        );
        clock.advance_secs(30);
        assert!(r.available_for(&m.to, Channel::Sms), "half-open: one trial may go");
        assert!(
            tokio::time::timeout(timeout, r.send(&m)).await.is_err(),
            "the trial hangs and is dropped"
        );
        assert!(
            !r.available_for(&m.to, Channel::Sms),
            "a lost trial reopens the circuit"
        );
        clock.advance_secs(30);
        assert!(
            r.available_for(&m.to, Channel::Sms),
            "and it closes again after the cool-down, not never"
        );
    }

    /// A member that says it cannot send is passed over without a try.
    struct Unbound(AtomicU32);

    #[async_trait]
    impl Sender for Unbound {
        fn name(&self) -> &str {
            "unbound"
        }
        async fn send(&self, _msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(SendError::Retryable("not bound".into()))
        }
        fn available(&self) -> bool {
            false
        }
    }

    #[tokio::test]
    async fn a_member_that_is_not_available_is_skipped_and_counts_for_availability() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let unbound = Arc::new(Unbound(AtomicU32::new(0)));
        let b = Scripted::new("b", vec![Ok(())]);
        let r = Router::new(
            vec![
                ("u".into(), unbound.clone() as Arc<dyn Sender>),
                ("b".into(), b.clone() as Arc<dyn Sender>),
            ],
            &[route(None, Some("+1"), &["u", "b"]), route(None, None, &["u"])],
            BreakerConfig::default(),
            clock,
        )
        .unwrap();
        assert_eq!(r.send(&msg("+14155550123", Channel::Sms)).await.unwrap().provider, "b");
        assert_eq!(
            unbound.0.load(Ordering::SeqCst),
            0,
            "never tried while it says it cannot send"
        );
        assert!(!r.available_for(&PhoneNumber::parse_e164("+447911123456").unwrap(), Channel::Sms));
        assert!(r.available_for(&PhoneNumber::parse_e164("+14155550123").unwrap(), Channel::Sms));
    }

    #[test]
    fn bad_routes_are_refused_with_their_reason() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let a: Arc<dyn Sender> = Scripted::new("a", vec![Ok(())]);
        let build = |routes: &[RouteConfig]| {
            Router::new(
                vec![("a".into(), a.clone())],
                routes,
                BreakerConfig::default(),
                clock.clone(),
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
        };
        assert!(build(&[]).contains("at least one"));
        assert!(build(&[route(None, Some("1"), &["a"])]).contains("prefix"));
        assert!(build(&[route(None, None, &[])]).contains("no provider"));
        assert!(build(&[route(None, None, &["zz"])]).contains("`zz`"));
    }
}
