//! GSMA Open Gateway / CAMARA: the mobile operator as an authority on the number.
//!
//! - [`number_verification`]: the [`NetworkAuthenticator`] of link clicks and silent
//!   checks. The device goes to the operator's OIDC `/authorize` (authorization code with
//!   network-based authentication: `prompt=none`, `state`, `nonce`, PKCE S256), comes back
//!   with a code, and ringproof exchanges it and asks `POST /number-verification/vwip/verify`.
//! - [`operator`]: what both APIs share: the operators of the config, chosen for a number
//!   by the longest prefix; OIDC discovery; tokens at `/token` with `private_key_jwt`
//!   client authentication (the CAMARA security profile requires it), signed ES256 with
//!   ringproof's key, whose public half is served at `/.well-known/jwks.json`.
//! - [`sim_swap`]: the [`SimSwapCheck`] of OTP and link starts: `POST /sim-swap/vwip/check`
//!   with a two-legged (`client_credentials`) token.
//!
//! Specs: `../shared/specs/camara/` (Number Verification, SIM Swap, the security and
//! interoperability profile). The operator simulator (`ringproof operator-sim`) speaks the
//! same protocol; nothing here knows it.
//!
//! [`NetworkAuthenticator`]: ringproof_core::netauth::NetworkAuthenticator
//! [`SimSwapCheck`]: ringproof_core::simswap::SimSwapCheck

pub mod config;
pub mod number_verification;
pub mod operator;
pub mod sim_swap;

pub use config::OperatorConfig;
pub use number_verification::CamaraNumberVerification;
pub use operator::{Operator, Operators};
pub use sim_swap::CamaraSimSwap;
