//! The status of a verification: a leaf, so errors and the state machine can both name it.

use serde::{Deserialize, Serialize};

/// Where a verification stands: `pending` until it ends in one of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Canceled,
    Expired,
    MaxAttemptsReached,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::MaxAttemptsReached => "max_attempts_reached",
            Status::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "canceled" => Status::Canceled,
            "expired" => Status::Expired,
            "max_attempts_reached" => Status::MaxAttemptsReached,
            "failed" => Status::Failed,
            _ => return None,
        })
    }
    pub fn is_terminal(self) -> bool {
        self != Status::Pending
    }
}
