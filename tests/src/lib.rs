//! # ochat-tests
//!
//! Helpers shared by the integration tests in `tests/tests/`: starting the real `ochat` binary
//! as a process on a fresh data folder ([`process`]) and waiting with timeouts instead of sleeps;
//! headless Chromium for the web pages ([`web`]).

pub mod livechat;
pub mod node;
pub mod process;
pub mod reach;
pub mod web;
