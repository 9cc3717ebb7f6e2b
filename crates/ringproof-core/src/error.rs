//! Errors with stable codes. Each API face maps a [`CoreError`] to its own envelope in
//! exactly one place; the `code()` strings are part of the native API contract.

use crate::client::ClientRefusal;
use crate::phone::PhoneError;
use crate::status::Status;

/// A failure of the persistence port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, timed out or is overloaded. Retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was violated (e.g. an idempotency key or username already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data could not be decoded: a bug or a tampered database.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    InvalidPhoneNumber(#[from] PhoneError),
    #[error("{field}: {message}")]
    InvalidParameter { field: String, message: String },
    #[error("workflow step {step}: {message}")]
    InvalidWorkflow { step: usize, message: String },
    #[error("verification not found")]
    NotFound,
    /// No service of this client has this id ([`crate::service`]).
    #[error("service not found")]
    ServiceNotFound,
    #[error("verification is {}; only a pending verification accepts this", .status.as_str())]
    NotPending { status: Status },
    #[error("resend is cooling down; retry in {retry_after_s} s")]
    ResendCooldown { retry_after_s: u64 },
    #[error("this verification has used all its sends")]
    MaxSendsReached,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Refused without checking the credentials: too many failures from this address or
    /// for this key ([`crate::throttle`]). Retry later.
    #[error("too many failed authentication attempts; retry in {} s", .0.retry_after_s)]
    TooManyFailures(crate::throttle::Throttled),
    /// The delivery provider reports that nothing can be sent now
    /// ([`Sender::available`](crate::ports::Sender::available) is false): refused before
    /// anything is stored. Retry later.
    #[error("the delivery provider is unavailable; retry later")]
    UpstreamDown,
    /// The client's own controls refuse this: a blocked number, a number off the test-mode
    /// allowlist, a disabled product. Refused before anything is stored or sent.
    #[error(transparent)]
    Refused(#[from] ClientRefusal),
    /// A limit across verifications ([`crate::guard`]) refuses this: too many wrong codes
    /// or sends for the number, the IP or the client, or a kind of number that receives
    /// nothing. Refused before anything is stored, sent or evaluated.
    #[error(transparent)]
    Limited(#[from] crate::guard::Refusal),
    /// The client refuses numbers whose SIM was swapped recently ([`crate::simswap`]), and
    /// the operator says this one's was, within `max_age_h` hours. Refused before anything
    /// is stored or sent (the send was counted by the limits, so the operator is not
    /// asked without bound).
    #[error(
        "the SIM card of this number was changed within the last {max_age_h} hours; verifying it by SMS is refused"
    )]
    SimSwapped { max_age_h: u32 },
    /// A start that allows one pending verification per number (the Vonage face's rule)
    /// found one still pending to this number of the client.
    #[error("a verification to this number is still in progress")]
    ConcurrentVerification,
    /// A request to run the next workflow step now, on a verification whose steps have all
    /// run.
    #[error("the verification has no workflow step left to run")]
    NoNextStep,
    /// A service's rate limits ([`crate::ratelimit`]) refuse this: a bad or taken name, too
    /// many rate limits or buckets, an unknown one, or a start over a bucket (nothing sent
    /// or counted).
    #[error(transparent)]
    RateLimit(#[from] crate::ratelimit::RateLimitRefusal),
    /// No template (or template fragment) of this client has this id
    /// ([`crate::vonage_template`]).
    #[error("template not found")]
    TemplateNotFound,
    /// A template change that would break a template rule: a name another template of
    /// the client has, a second fragment for a channel and locale, deleting a template
    /// that still has fragments. The message says which.
    #[error("{0}")]
    TemplateConflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::InvalidPhoneNumber(_) => "invalid_phone_number",
            CoreError::InvalidParameter { .. } => "invalid_parameter",
            CoreError::InvalidWorkflow { .. } => "invalid_workflow",
            CoreError::NotFound => "verification_not_found",
            CoreError::ServiceNotFound => "service_not_found",
            CoreError::NotPending { status } => match status {
                Status::Approved => "verification_approved",
                Status::Canceled => "verification_canceled",
                Status::Expired => "verification_expired",
                Status::MaxAttemptsReached => "max_attempts_reached",
                Status::Failed => "verification_failed",
                Status::Pending => "verification_pending",
            },
            CoreError::ResendCooldown { .. } => "resend_cooldown",
            CoreError::MaxSendsReached => "max_sends_reached",
            CoreError::IdempotencyKeyReused => "idempotency_key_reused",
            CoreError::Unauthorized => "unauthorized",
            CoreError::TooManyFailures(_) => "too_many_failures",
            CoreError::UpstreamDown => "upstream_down",
            CoreError::Refused(ClientRefusal::NumberBlocked) => "destination_blocked",
            CoreError::Refused(ClientRefusal::NotOnAllowlist) => "number_not_allowed",
            CoreError::Refused(ClientRefusal::ProductDisabled(_)) => "product_disabled",
            CoreError::Limited(r) => r.rule.code(),
            CoreError::SimSwapped { .. } => "sim_swapped",
            CoreError::ConcurrentVerification => "concurrent_verification",
            CoreError::NoNextStep => "no_next_step",
            CoreError::RateLimit(r) => r.code(),
            CoreError::TemplateNotFound => "template_not_found",
            CoreError::TemplateConflict(_) => "template_conflict",
            CoreError::Store(StoreError::Unavailable(_)) => "service_unavailable",
            CoreError::Store(_) | CoreError::Internal(_) => "internal_error",
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        CoreError::InvalidParameter {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
