//! # ochat-node
//!
//! The runtime of an ochat node.
//!
//! - [`config`] — [`NodeConfig`] and its embedded defaults.
//! - [`data_dir`] — the data folder: lock, identity key file (0600), admin token (0600),
//!   `instance.json` and `api.addr` for the CLI.
//! - [`store`] — the only module that touches sled; one catalog of trees and key layouts;
//!   typed tables (`store::table`) under one repository per domain: `channels`, `ratchets`
//!   (each channel's ratchet as a zeroized, redacted pickle, and its rollback mark), `rekeys`
//!   (each channel's epoch, re-key state, previous ratchet),
//!   `messages` (history, read marks), `message_outbox` (outbox, seen marks), `attachments`,
//!   `meta` (counters), `accounts`, `livechat`; `store::upgrade` moves data of earlier
//!   layouts when the store opens.
//! - [`accounts`] — users, passwords, login tokens, who is calling (`Who`, `Caller`), the
//!   login guard; used by live chat, federation and the API's extractors (`api::auth`).
//! - [`clock`] — the injectable clock (system, test) of accounts and live chat.
//! - [`network`] — the libp2p network actor (one task owns the swarm; callers hold a
//!   [`network::NetworkHandle`], inbound handshake requests arrive as [`network::Inbound`]);
//!   both request-response protocols are handled once, in `network/exchange.rs`.
//! - [`api`] — the local HTTP API (axum): token extractors, handlers (the widget's extra
//!   routes in `api/livechat_widget.rs`), [`api::ApiError`] and every error-to-HTTP mapping
//!   (`api/error.rs`).
//! - [`directory`] — the optional UUID directory: its HTTP server and the client nodes use.
//! - [`federation`] — the connection handshake service: user actions, inbound envelopes,
//!   the durable outbox and Sync Status.
//! - [`messaging`] — end-to-end encrypted channel messages: seal, store, deliver, receive,
//!   history, through the store's channels, ratchets, rekeys, messages, outbox and attachments
//!   repositories (it writes a channel's ratchet, never the channel); `messaging::rekey`
//!   re-keys a channel (after a restore, or a peer's reused number) with the federation's
//!   record and identity key, its requests and answers on the handshake protocol (the node
//!   hands an authenticated `Rekey` envelope to messaging); [`durable`] — grouped
//!   flushes.
//! - [`livechat`] — the website live chat: channels, rules, routing, sessions (a visitor
//!   starting one: `livechat/session_start.rs`), reports; its operators are `accounts` users.
//! - [`web`] — the pages people see: the website widget, the direct chat link and the
//!   operator console (embedded HTML/CSS/JS), with their CSP and the widget's CORS.
//! - `backoff` — the one exponential backoff of every retry loop (federation outbox, channel
//!   delivery, directory registration, the directory's libp2p node); `reconnect` — a
//!   connection established with a peer (the network's event) wakes the message delivery and
//!   the handshake outbox waiting for it.
//! - [`model`] — stored records and their API views (the live chat's in `model::livechat`),
//!   a leaf every layer may name; [`events`] — the live event bus.
//! - [`http_server`] — the one HTTP server loop of the API and the directory: header and body
//!   timeouts, connection caps in all and per address (`http_caps`), graceful shutdown;
//!   [`client_addr`] — the client address and `--trusted-proxy`; [`process_setup`] — umask
//!   077 and the open-file limit, set once at start.
//! - [`node`] — [`RunningNode::start`] wires them together; [`RunningNode::shutdown`] stops
//!   the API, flushes sled and releases the lock. `node_reach` — a node started with a
//!   directory uses the directory host's libp2p node as relay and DHT bootstrap.
//!
//! Who talks to whom: `api` handlers → services (`federation`, `messaging`, `livechat`) →
//! `accounts` → `store` → `protocol`; `node` owns the lifecycle.

pub mod accounts;
pub mod api;
mod backoff;
pub mod backup;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod directory;
pub mod disk_space;
pub mod durable;
pub mod events;
pub mod federation;
mod http_caps;
pub mod http_server;
pub mod livechat;
pub mod messaging;
pub mod model;
pub mod network;
pub mod node;
mod node_reach;
pub mod peers;
pub mod process_setup;
mod reconnect;
pub mod store;
pub mod web;

pub use config::NodeConfig;
pub use node::{NodeError, RunningNode};
