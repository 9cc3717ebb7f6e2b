//! CAMARA SIM Swap as ringproof's [`SimSwapCheck`]: a two-legged access token
//! (`client_credentials`, scope `sim-swap:check`, `private_key_jwt`), cached until shortly
//! before it expires, then `POST <api_root>/sim-swap/vwip/check {phoneNumber, maxAge}` →
//! `{swapped}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ringproof_core::crypto::{base64url, random_bytes};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::simswap::{SimSwapCheck, SimSwapError};
use serde::Deserialize;
use serde_json::json;

use super::operator::{Operator, OperatorError, Operators, json_of};

pub const SCOPE: &str = "sim-swap:check";

/// A check (token and call together) must end within this.
const BUDGET: Duration = Duration::from_secs(5);

pub struct CamaraSimSwap {
    operators: Arc<Operators>,
    /// Access tokens by operator name, with when to stop using them.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl CamaraSimSwap {
    pub fn new(operators: Arc<Operators>) -> Self {
        CamaraSimSwap {
            operators,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    async fn token(&self, op: &Operator, until: Instant) -> Result<String, OperatorError> {
        if let Some((t, _)) = self
            .tokens
            .lock()
            .ok()
            .and_then(|m| m.get(op.name()).filter(|(_, exp)| Instant::now() < *exp).cloned())
        {
            return Ok(t);
        }
        let left = || until.saturating_duration_since(Instant::now());
        let d = self.operators.discovery(op, left()).await?;
        let t = self
            .operators
            .token(
                op,
                &d,
                &[("grant_type", "client_credentials"), ("scope", SCOPE)],
                left(),
            )
            .await?;
        // Used until 30 s before it expires (for a minute when the operator does not say, an
        // hour at most whatever it says).
        let life = t.expires_in.map_or(60, |s| s.saturating_sub(30)).min(3600);
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(
                op.name().to_owned(),
                (t.access_token.clone(), Instant::now() + Duration::from_secs(life)),
            );
        }
        Ok(t.access_token)
    }

    fn forget_token(&self, op: &Operator) {
        if let Ok(mut m) = self.tokens.lock() {
            m.remove(op.name());
        }
    }
}

#[derive(Deserialize)]
struct CheckResponse {
    swapped: bool,
}

fn error_of(e: OperatorError) -> SimSwapError {
    match e {
        OperatorError::Refused { status, error } if status < 500 => {
            SimSwapError::Refused(format!("HTTP {status} {error}"))
        }
        e => SimSwapError::Unreachable(e.to_string()),
    }
}

#[async_trait]
impl SimSwapCheck for CamaraSimSwap {
    fn name(&self) -> &str {
        "camara"
    }

    async fn swapped_within(&self, number: &PhoneNumber, max_age_h: u32) -> Result<bool, SimSwapError> {
        let op = self.operators.for_number(number).ok_or(SimSwapError::NotConfigured)?;
        let until = Instant::now() + BUDGET;
        let token = self.token(op, until).await.map_err(error_of)?;
        let res = self
            .operators
            .http()
            .post(format!("{}/sim-swap/vwip/check", op.api_root()))
            .bearer_auth(&token)
            .header("x-correlator", base64url(&random_bytes::<12>()))
            .json(&json!({ "phoneNumber": number.e164(), "maxAge": max_age_h }))
            .timeout(until.saturating_duration_since(Instant::now()))
            .send()
            .await
            .map_err(|e| SimSwapError::Unreachable(e.to_string()))?;
        if res.status().as_u16() == 401 {
            // A token the operator no longer takes: the next check fetches another.
            self.forget_token(op);
        }
        let r: CheckResponse = json_of(res).await.map_err(|e| {
            tracing::warn!(operator = op.name(), error = %e, "SIM swap check failed");
            error_of(e)
        })?;
        Ok(r.swapped)
    }
}
