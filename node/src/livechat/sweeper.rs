//! The live chat's background timer. Every [`DEFAULT_SWEEP_EVERY`] (configurable with
//! [`LiveChatConfig::sweep_every`](super::LiveChatConfig)) it applies the time rules that
//! must hold even when nobody calls the node:
//!
//! - sessions nobody wrote in are removed an hour after they started ([`super::expiry`]);
//! - sessions only the chatbot answered are closed after a day without activity
//!   ([`super::expiry`]);
//! - operators who passed 30 minutes without activity are told they are away
//!   ([`super::presence`]);
//! - visitors whose page has been gone for the grace period drop out of the queue, free
//!   operators take the longest waiting, and the waiting see their updated place
//!   ([`super::queue_flow`]).
//!
//! Started by the node at start-up, stopped with its other workers.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{LiveChat, LiveChatError};

/// How often the sweep runs when the configuration says nothing.
pub const DEFAULT_SWEEP_EVERY: Duration = Duration::from_secs(60);

impl LiveChat {
    /// One sweep: expiries, bot-only closes, away announcements. Answers
    /// (removed, closed, announced away).
    pub async fn sweep(&self) -> Result<(usize, usize, usize), LiveChatError> {
        let removed = self.expire_unwritten()?;
        let closed = self.close_bot_only().await?;
        let away = self.announce_away()?;
        self.drop_gone_visitors().await?;
        self.serve_all_queues().await?;
        Ok((removed, closed, away))
    }

    /// Runs [`LiveChat::sweep`] every `every` until `stop` turns true.
    pub fn spawn_sweeper(
        &self,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let chat = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = chat.sweep().await {
                            tracing::warn!(error = %e, "live chat sweep failed");
                        }
                    }
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            return;
                        }
                    }
                }
            }
        })
    }
}
