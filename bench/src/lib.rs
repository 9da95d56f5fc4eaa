//! # ochat-bench (library)
//!
//! The groups of the benchmark program and what they share; `main.rs` is the command line and
//! says how to add a group.
//!
//! - [`table`] — the result [`table::Row`], the text table and the JSON file.
//! - [`measure`] — alternating rounds (A B A B…) and HdrHistogram latencies.
//! - [`opts`] — what every group is told ([`opts::Opts`]).
//! - [`chart`] — SVG line charts of the scaling groups (cost against size) for `docs/charts/`.
//! - one module per group: [`crypto`], [`federation`], [`livechat`], [`storage`],
//!   [`memory`] (and its `load` test), [`reports`], [`history`] (long histories; its fill in
//!   [`history_fill`], its reads in [`history_probe`]), [`partners`] (one hub, many partners; its partner processes in [`partner_host`]),
//!   [`directory`] (many records), [`reach`] (not in `all`: namespaces, root);
//!   shared baselines, clients, child processes and namespace runtimes: [`bare_p2p`],
//!   [`bare_relay`], [`bare_http`], [`ws`], [`process`], [`ns_runtime`].

pub mod bare_http;
pub mod bare_p2p;
pub mod bare_relay;
pub mod chart;
pub mod crypto;
pub mod directory;
pub mod federation;
pub mod history;
pub mod history_fill;
pub mod history_probe;
pub mod livechat;
pub mod measure;
pub mod memory;
pub mod ns_runtime;
pub mod opts;
pub mod partner_host;
pub mod partners;
pub mod process;
pub mod reach;
mod reach_bare;
mod reach_nodes;
pub mod reports;
pub mod shop;
pub mod storage;
pub mod table;
pub mod ws;
