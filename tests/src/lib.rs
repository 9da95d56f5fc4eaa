//! # ochat-tests
//!
//! Helpers shared by the integration tests in `tests/tests/`: starting the real `ochat` binary
//! as a process on a fresh data folder ([`process`]) and waiting with timeouts instead of sleeps;
//! headless Chromium for the web pages ([`web`]) and the console's admin area ([`admin_console`]); slow and greedy HTTP clients from chosen
//! loopback addresses ([`slow_clients`]); a small internet of network namespaces with NATing
//! home routers ([`netns`]) and the user's CLI flows inside it ([`netns_user`]); data folders
//! of instances from before derived UUIDs ([`legacy`]); an attacker's hand-made peer, records
//! and requests ([`forge`]); the binary started with settings files and variables, a
//! signed-webhook receiver and a written GeoIP database ([`settings`]); a real nginx with the
//! operations guide's example configuration ([`nginx`]); the seed-behaviour stories' fast-swept shop ([`seeds`]); a small tmpfs to fill up
//! ([`small_disk`]); a lossy, duplicating link that can be cut between two namespaces
//! ([`bad_network`]). Data folders written by the release before typed tables ([`upgrade`]).
//! The console's administration sections, opened with the admin token ([`admin_bots`]).
//! Backups restored and channels re-keyed, with the log of every key sealed ([`rekey`]).
//! The console's alerts in a hidden tab, with recorders of the browser's notification and sound
//! APIs ([`console_alerts`]).
//! Live chat files and a real SMTP server (aiosmtpd) for transcript emails ([`livechat_files`]).
//! A sender process killed between its sends and their flush, with its seals in a file
//! ([`sender_crash`]).

pub mod accounts;
pub mod admin_bots;
pub mod admin_console;
pub mod api_document;
pub mod bad_network;
pub mod console_alerts;
pub mod forge;
pub mod hardening;
pub mod legacy;
pub mod livechat;
pub mod livechat_cli;
pub mod livechat_files;
pub mod livechat_identity;
pub mod livechat_offline;
pub mod livechat_presence;
pub mod netns;
pub mod netns_user;
pub mod nginx;
pub mod node;
pub mod process;
pub mod reach;
pub mod rekey;
pub mod seeds;
pub mod sender_crash;
pub mod settings;
pub mod slow_clients;
pub mod small_disk;
pub mod upgrade;
pub mod web;
