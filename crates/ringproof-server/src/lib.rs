//! The ringproof server: HTTP faces over the core engine, the job worker, configuration
//! and telemetry. `startup::Application` is the entry point for the binary and the tests.

pub mod api_error;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod demo;
pub mod json_body;
pub mod netauth;
pub mod pages;
pub mod receipts;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;
