//! The limits across verifications ([`crate::guard`]) where the use cases send and check:
//! each admission is one atomic read-modify-write of the counter rows it touches
//! ([`crate::ports::Store::update_counters`]), done before anything is stored, sent or
//! evaluated.

use std::net::IpAddr;

use crate::client::Client;
use crate::error::CoreError;
use crate::guard::{self, Counters, Limits, NumberKind, Refusal, Scope};
use crate::ids::ClientId;
use crate::phone::PhoneNumber;
use crate::ports::{CounterKey, CounterRow};
use crate::time::Timestamp;

use super::Engine;

/// What an admission counted, so it can be taken back when the attempt turned out not to
/// count (a right code; a resend the verification refused).
#[derive(Debug)]
pub(crate) struct Admitted {
    keys: Vec<CounterKey>,
    scopes: Vec<Scope>,
    at: Timestamp,
    guess: bool,
}

impl Engine {
    /// The limits across verifications (default [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The limits in force for this client.
    pub fn limits_for(&self, client: &Client) -> Limits {
        self.limits.with(&client.controls.limits)
    }

    fn counter_key(&self, client: &ClientId, scope: Scope, value: &str) -> CounterKey {
        CounterKey {
            client_id: client.clone(),
            scope: scope.as_str().to_owned(),
            key: match scope {
                Scope::Client => [0; 32],
                _ => self.keys.guard_key(scope.as_str(), value),
            },
        }
    }

    fn refused(&self, r: Refusal, to: &PhoneNumber) -> CoreError {
        let country = to.region().unwrap_or_else(|| to.country_code().to_string());
        self.metrics.guard_refused(r.rule.as_str(), &country);
        CoreError::Limited(r)
    }

    /// Admits one send (an SMS or a call) to `to`, counting it for the number, the end
    /// user's IP (if known) and the client; or refuses it, counting nothing.
    pub(crate) async fn admit_send(
        &self,
        client: &Client,
        to: &PhoneNumber,
        ip: Option<IpAddr>,
    ) -> Result<Admitted, CoreError> {
        let limits = self.limits_for(client);
        self.admit_send_with(&limits, &client.id, to, ip, None).await
    }

    /// [`Self::admit_send`] with the limits given, and the request's idempotency key, if
    /// any: repeats of one keyed request are counted once.
    pub(crate) async fn admit_send_with(
        &self,
        limits: &Limits,
        client: &ClientId,
        to: &PhoneNumber,
        ip: Option<IpAddr>,
        idempotency_key: Option<&str>,
    ) -> Result<Admitted, CoreError> {
        let repeat_of = idempotency_key.map(|k| {
            let h = crate::crypto::sha256(k.as_bytes());
            u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
        });
        limits
            .allows_kind(NumberKind::of(to))
            .map_err(|r| self.refused(r, to))?;
        let mut scopes = vec![Scope::Number];
        let mut keys = vec![self.counter_key(client, Scope::Number, to.e164())];
        if let Some(ip) = ip
            && limits.counts_sends(Scope::Ip)
        {
            scopes.push(Scope::Ip);
            keys.push(self.counter_key(client, Scope::Ip, &ip.to_string()));
        }
        if limits.counts_sends(Scope::Client) {
            scopes.push(Scope::Client);
            keys.push(self.counter_key(client, Scope::Client, ""));
        }
        let now = self.now();
        if scopes == [Scope::Number] && !limits.counts_sends(Scope::Number) && !limits.counts_guesses() {
            // Every count is switched off: nothing to read or write.
            return Ok(Admitted {
                keys: Vec::new(),
                scopes: Vec::new(),
                at: now,
                guess: false,
            });
        }
        let mut outcome = Ok(Vec::new());
        let mut f = |rows: &mut [CounterRow]| {
            let mut counters: Vec<Counters> = rows.iter().map(|r| Counters::decode(&r.state)).collect();
            let mut refs: Vec<(Scope, &mut Counters)> = scopes.iter().copied().zip(counters.iter_mut()).collect();
            outcome = guard::admit_send(limits, &mut refs, repeat_of, now);
            if outcome.is_err() {
                return false;
            }
            store_rows(rows, &counters);
            true
        };
        self.store.update_counters(&keys, &mut f).await?;
        for w in outcome.map_err(|r| self.refused(r, to))? {
            self.metrics.client_cap_near(client, w);
        }
        Ok(Admitted {
            keys,
            scopes,
            at: now,
            guess: false,
        })
    }

    /// Admits one guess at a code sent to `to`, before it is evaluated; or refuses it
    /// (the number's guess budget is used up).
    pub(crate) async fn admit_guess(&self, client: &Client, to: &PhoneNumber) -> Result<Admitted, CoreError> {
        let limits = self.limits_for(client);
        let now = self.now();
        if !limits.counts_guesses() {
            return Ok(Admitted {
                keys: Vec::new(),
                scopes: Vec::new(),
                at: now,
                guess: true,
            });
        }
        let keys = vec![self.counter_key(&client.id, Scope::Number, to.e164())];
        let mut outcome = Ok(());
        let mut f = |rows: &mut [CounterRow]| {
            let mut number = Counters::decode(&rows[0].state);
            outcome = guard::admit_guess(&limits, &mut number, now);
            if outcome.is_err() {
                return false;
            }
            store_rows(rows, std::slice::from_ref(&number));
            true
        };
        self.store.update_counters(&keys, &mut f).await?;
        outcome.map_err(|r| self.refused(r, to))?;
        Ok(Admitted {
            keys,
            scopes: vec![Scope::Number],
            at: now,
            guess: true,
        })
    }

    /// Takes back what an admission counted. Best effort: if the store fails here the
    /// attempt stays counted, which errs on the safe side.
    pub(crate) async fn take_back(&self, a: Admitted) {
        let mut f = |rows: &mut [CounterRow]| {
            let mut counters: Vec<Counters> = rows.iter().map(|r| Counters::decode(&r.state)).collect();
            for (scope, c) in a.scopes.iter().zip(counters.iter_mut()) {
                if a.guess {
                    guard::refund_guess(c, a.at);
                } else {
                    guard::refund_send(*scope, c, a.at);
                }
            }
            store_rows(rows, &counters);
            true
        };
        let _ = self.store.update_counters(&a.keys, &mut f).await;
    }
}

fn store_rows(rows: &mut [CounterRow], counters: &[Counters]) {
    for (row, c) in rows.iter_mut().zip(counters) {
        row.state = c.encode();
        row.expires_at = c.expires_at();
    }
}
