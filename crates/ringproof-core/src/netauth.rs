//! Network authentication: does the device that clicked a one-time link hold the number?
//! The mobile network can tell (CAMARA Number Verification, or a trusted header that an
//! operator's gateway injects); without such a source the answer is "indeterminate".
//!
//! This port covers the single-call kind. CAMARA's flow goes through the operator with an
//! OIDC redirect from the link page; when it is built, it may add a redirect step to this
//! port rather than fit a single call.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::link_session::PhoneMatch;
use crate::phone::PhoneNumber;

/// What the link page knows about the click.
#[derive(Clone, Debug)]
pub struct ClickContext {
    pub ip: IpAddr,
    pub user_agent: String,
}

/// Why no verdict could be had. Never carries the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetAuthError {
    #[error("the network authentication service cannot be reached: {0}")]
    Unreachable(String),
}

#[async_trait]
pub trait NetworkAuthenticator: Send + Sync + 'static {
    fn name(&self) -> &str;
    async fn verify(&self, number: &PhoneNumber, click: &ClickContext) -> Result<PhoneMatch, NetAuthError>;
}

/// No network authentication: every click is [`PhoneMatch::Indeterminate`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNetworkAuth;

#[async_trait]
impl NetworkAuthenticator for NoNetworkAuth {
    fn name(&self) -> &str {
        "none"
    }
    async fn verify(&self, _number: &PhoneNumber, _click: &ClickContext) -> Result<PhoneMatch, NetAuthError> {
        Ok(PhoneMatch::Indeterminate)
    }
}
