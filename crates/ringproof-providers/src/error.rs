//! [`BuildError`]: why the delivery port could not be built from the config. Its own
//! module so that everything that builds a part of the port (each provider's config and
//! client, [`secret`](crate::secret), [`router`](crate::router)) depends on it, and only
//! [`registry`](crate::registry) depends on them.

/// Why the delivery port could not be built. Names the provider (never a secret).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("provider `{provider}`: {message}")]
    Config { provider: String, message: String },
    #[error("routes: {0}")]
    Routes(String),
}

impl BuildError {
    pub fn config(provider: &str, message: impl Into<String>) -> Self {
        BuildError::Config {
            provider: provider.to_owned(),
            message: message.into(),
        }
    }
}
