//! What every WebSocket of the API shares (`/api/v1/events` in [`events`](super::events), the
//! live chat sockets in `livechat_ws`):
//!
//! - **Size limits.** A client frame or message over [`MAX_MESSAGE`] bytes is refused as soon
//!   as its header says so (nothing of it is buffered) and the socket is closed with 1009
//!   (message too big). The largest thing a client writes is a 10,000-character chat message.
//! - **Token off the URL.** Browsers offer `ochat, ochat.token.<token>` as subprotocols; the
//!   token is read from there (see `accounts::who`) and only `ochat` is answered.
//! - **Token checks while open.** A socket remembers the token it was opened with; when tokens
//!   are revoked (logout, the admin's revoke, a password change, a visitor's erasure) and once
//!   a minute, it checks the token again and closes with 1008 (policy violation) if it no
//!   longer grants what it granted at the start.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use zeroize::Zeroizing;

use crate::accounts::Who;
use crate::accounts::who::same_token;
use crate::node::NodeShared;

/// The largest frame or message a client may send (64 KiB: a 10,000-character message in
/// JSON, even all in 4-byte characters, fits; 40 MiB does not).
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;
/// The subprotocol a client offers to select (the server answers with it).
pub(crate) const PROTOCOL: &str = "ochat";
/// How often an open socket re-checks its token even when nothing was revoked.
const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Applies the size limits to an upgrade, and answers the `ochat` subprotocol when offered.
pub(crate) fn limited(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
}

/// Whether a read error was a frame or message over the limit.
pub(crate) fn too_big(error: axum::Error) -> bool {
    error
        .into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|e| matches!(*e, tungstenite::Error::Capacity(_)))
}

/// Ends a socket after a read error: a message over the limit is told 1009 first.
pub(crate) async fn close_after_error(socket: &mut WebSocket, error: axum::Error) {
    if too_big(error) {
        let frame = CloseFrame {
            code: close_code::SIZE,
            reason: format!("a message may have at most {MAX_MESSAGE} bytes").into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
}

/// The token a socket was opened with, re-checked while it is open.
pub(crate) struct SocketAuth {
    // Weak: an open socket must not keep a stopped node (and its database) alive.
    node: Weak<NodeShared>,
    token: Zeroizing<String>,
    who: Who,
    revoked: watch::Receiver<u64>,
    tick: Interval,
}

impl std::fmt::Debug for SocketAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketAuth")
            .field("who", &self.who)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SocketAuth {
    /// Watches `token`, which granted `who` when the socket was opened.
    pub(crate) fn new(node: &Arc<NodeShared>, token: &str, who: Who) -> Self {
        let mut revoked = node.livechat.hub().revocations();
        revoked.mark_unchanged();
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        SocketAuth {
            node: Arc::downgrade(node),
            token: Zeroizing::new(token.to_string()),
            who,
            revoked,
            tick,
        }
    }

    /// Who the token granted at the start.
    pub(crate) fn who(&self) -> Who {
        self.who
    }

    /// Whether the node takes writes now (its data folder's disk is not full; see
    /// [`crate::disk_space`]): what the socket's client writes is refused like an HTTP write.
    pub(crate) fn writes_allowed(&self) -> Result<(), crate::disk_space::DiskFull> {
        match self.node.upgrade() {
            Some(node) => node.disk.check(),
            None => Ok(()),
        }
    }

    /// Whether the token still grants what it granted at the start.
    fn valid(&self) -> bool {
        let Some(node) = self.node.upgrade() else {
            return false;
        };
        match self.who {
            Who::Admin => same_token(&self.token, &node.admin_token),
            Who::Operator(id) => {
                matches!(node.accounts.token_valid(&self.token), Ok(Some(u)) if u == id)
            }
            Who::Visitor(session) => {
                matches!(node.livechat.visitor_session(&self.token), Ok(Some(s)) if s == session)
            }
        }
    }

    /// Resolves once the token no longer holds (cancel-safe: use it in `select!`).
    pub(crate) async fn lost(&mut self) {
        loop {
            tokio::select! {
                changed = self.revoked.changed() => {
                    if changed.is_err() {
                        // The hub is gone: the node is stopping.
                        return;
                    }
                }
                _ = self.tick.tick() => {}
            }
            if !self.valid() {
                return;
            }
        }
    }
}

/// Closes a socket whose token no longer holds, with 1008 and a reason.
pub(crate) async fn close_revoked(socket: &mut WebSocket) {
    let frame = CloseFrame {
        code: close_code::POLICY,
        reason: "the token was revoked or has expired".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
