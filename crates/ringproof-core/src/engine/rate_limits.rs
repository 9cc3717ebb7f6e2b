//! The use cases of a service's rate limits and buckets ([`crate::ratelimit`]): create,
//! read, change and delete them, and turn the rate limits a start names into the buckets
//! its admission must fit ([`Engine::bucket_checks`]; the check and the count are the
//! guard's atomic step, `admit_send_with`).

use std::collections::BTreeMap;

use crate::error::{CoreError, StoreError};
use crate::ids::{BucketId, ClientId, RateLimitId, ServiceId};
use crate::ports::CounterKey;
use crate::ratelimit::{
    self, Bucket, BucketCheck, COUNTER_SCOPE, MAX_BUCKETS, MAX_RATE_LIMITS, RateLimit, RateLimitRefusal,
};
use crate::time::Timestamp;

use super::Engine;

/// Rows read where "all of them" is meant: well past the caps, which two creates at once
/// may overshoot by one.
const ALL: u64 = 1_000;

/// A change to a bucket; `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct BucketChange {
    pub max: Option<i64>,
    pub interval_s: Option<i64>,
}

impl Engine {
    /// A time after `before`: each write moves `updated_at` forward.
    fn later_than(&self, before: Timestamp) -> Timestamp {
        Timestamp(self.now().millis().max(before.millis() + 1))
    }

    /// Creates a rate limit in the client's service.
    pub async fn create_rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        unique_name: &str,
        description: Option<&str>,
    ) -> Result<RateLimit, CoreError> {
        let unique_name = ratelimit::parse_unique_name(unique_name)?;
        let description = description.map(ratelimit::parse_description).transpose()?.flatten();
        self.service(client, service).await?;
        // Checked before the insert: two creates at once may end one over the cap.
        if !self
            .store
            .list_rate_limits(client, service, MAX_RATE_LIMITS - 1, 1)
            .await?
            .is_empty()
        {
            return Err(RateLimitRefusal::TooManyRateLimits.into());
        }
        let now = self.now();
        let r = RateLimit {
            id: RateLimitId::generate(),
            client_id: client.clone(),
            service_id: service.clone(),
            unique_name,
            description,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_rate_limit(&r).await {
            Ok(()) => Ok(r),
            Err(StoreError::Conflict(_)) => Err(RateLimitRefusal::NameTaken.into()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &RateLimitId,
    ) -> Result<RateLimit, CoreError> {
        self.service(client, service).await?;
        self.store
            .rate_limit(client, service, id)
            .await?
            .ok_or(RateLimitRefusal::NotFound.into())
    }

    /// The service's rate limits, oldest first: `limit` of them from `offset`.
    pub async fn list_rate_limits(
        &self,
        client: &ClientId,
        service: &ServiceId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<RateLimit>, CoreError> {
        self.service(client, service).await?;
        Ok(self.store.list_rate_limits(client, service, offset, limit).await?)
    }

    /// Changes a rate limit's description (its name is fixed, as on Twilio); `None`
    /// leaves it as it is, an empty one clears it.
    pub async fn update_rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &RateLimitId,
        description: Option<&str>,
    ) -> Result<RateLimit, CoreError> {
        let description = description.map(ratelimit::parse_description).transpose()?;
        let mut r = self.rate_limit(client, service, id).await?;
        if let Some(d) = description {
            r.description = d;
            r.updated_at = self.later_than(r.updated_at);
            if !self.store.update_rate_limit(&r).await? {
                return Err(RateLimitRefusal::NotFound.into());
            }
        }
        Ok(r)
    }

    /// Deletes a rate limit and its buckets (their counters expire by themselves).
    pub async fn delete_rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &RateLimitId,
    ) -> Result<(), CoreError> {
        self.service(client, service).await?;
        if self.store.delete_rate_limit(client, service, id).await? {
            Ok(())
        } else {
            Err(RateLimitRefusal::NotFound.into())
        }
    }

    /// Creates a bucket of a rate limit: `max` starts per value in any `interval_s`.
    pub async fn create_bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        max: i64,
        interval_s: i64,
    ) -> Result<Bucket, CoreError> {
        let max = ratelimit::check_max(max)?;
        let interval_s = ratelimit::check_interval(interval_s)?;
        self.rate_limit(client, service, rate_limit).await?;
        if !self
            .store
            .list_buckets(client, service, Some(rate_limit), MAX_BUCKETS - 1, 1)
            .await?
            .is_empty()
        {
            return Err(RateLimitRefusal::TooManyBuckets.into());
        }
        let now = self.now();
        let b = Bucket {
            id: BucketId::generate(),
            client_id: client.clone(),
            service_id: service.clone(),
            rate_limit_id: rate_limit.clone(),
            max,
            interval_s,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_bucket(&b).await {
            Ok(()) => Ok(b),
            Err(StoreError::Conflict(_)) => Err(RateLimitRefusal::IntervalTaken.into()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        id: &BucketId,
    ) -> Result<Bucket, CoreError> {
        self.service(client, service).await?;
        self.store
            .bucket(client, service, rate_limit, id)
            .await?
            .ok_or(RateLimitRefusal::NotFound.into())
    }

    /// A rate limit's buckets, oldest first: `limit` of them from `offset`.
    pub async fn list_buckets(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Bucket>, CoreError> {
        self.rate_limit(client, service, rate_limit).await?;
        Ok(self
            .store
            .list_buckets(client, service, Some(rate_limit), offset, limit)
            .await?)
    }

    /// Changes a bucket's `max` or interval; the counts so far stay (a start is judged by
    /// the bucket as it is then).
    pub async fn update_bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        id: &BucketId,
        change: BucketChange,
    ) -> Result<Bucket, CoreError> {
        let max = change.max.map(ratelimit::check_max).transpose()?;
        let interval_s = change.interval_s.map(ratelimit::check_interval).transpose()?;
        let mut b = self.bucket(client, service, rate_limit, id).await?;
        if max.is_none() && interval_s.is_none() {
            return Ok(b);
        }
        b.max = max.unwrap_or(b.max);
        b.interval_s = interval_s.unwrap_or(b.interval_s);
        b.updated_at = self.later_than(b.updated_at);
        match self.store.update_bucket(&b).await {
            Ok(true) => Ok(b),
            Ok(false) => Err(RateLimitRefusal::NotFound.into()),
            Err(StoreError::Conflict(_)) => Err(RateLimitRefusal::IntervalTaken.into()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        id: &BucketId,
    ) -> Result<(), CoreError> {
        self.service(client, service).await?;
        if self.store.delete_bucket(client, service, rate_limit, id).await? {
            Ok(())
        } else {
            Err(RateLimitRefusal::NotFound.into())
        }
    }

    /// The buckets a start naming `named` (rate limit name → value) must fit, each with
    /// the counter row of (bucket, keyed hash of the value). A name the service does not
    /// define is refused (a typo would silently switch a protection off); a rate limit
    /// not named is not applied.
    pub(crate) async fn bucket_checks(
        &self,
        client: &ClientId,
        service: &ServiceId,
        named: &BTreeMap<String, String>,
    ) -> Result<Vec<BucketCheck>, CoreError> {
        if named.is_empty() {
            return Ok(Vec::new());
        }
        for value in named.values() {
            ratelimit::check_value(value)?;
        }
        let limits = self.store.list_rate_limits(client, service, 0, ALL).await?;
        let mut by_id = BTreeMap::new();
        for (name, value) in named {
            let r = limits.iter().find(|r| &r.unique_name == name).ok_or_else(|| {
                CoreError::invalid("rate_limits", format!("the service has no rate limit named '{name}'"))
            })?;
            by_id.insert(r.id.clone(), (name.as_str(), value.as_str()));
        }
        let buckets = self.store.list_buckets(client, service, None, 0, ALL).await?;
        Ok(buckets
            .iter()
            .filter_map(|b| {
                let (name, value) = by_id.get(&b.rate_limit_id)?;
                Some(BucketCheck {
                    rate_limit: (*name).to_owned(),
                    max: b.max,
                    interval_ms: b.interval_ms(),
                    key: CounterKey {
                        client_id: client.clone(),
                        scope: COUNTER_SCOPE.to_owned(),
                        key: self.keys.guard_key(COUNTER_SCOPE, &format!("{}\0{value}", b.id)),
                    },
                })
            })
            .collect())
    }
}
