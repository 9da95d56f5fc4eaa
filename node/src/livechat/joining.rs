//! An operator of a channel joins one of its conversations by themselves: to take over from the
//! chatbot, or to help a colleague. The visitor sees them join; a chatbot that was leading
//! stops (as after its own forward, the hand-over time is recorded).

use uuid::Uuid;

use super::chatbot::engine::End;
use super::sessions::SessionView;
use super::{LiveChat, LiveChatError, Who};

impl LiveChat {
    /// The calling operator joins the session (a no-op when they are already in it).
    pub async fn join_session(&self, who: Who, id: Uuid) -> Result<SessionView, LiveChatError> {
        let op = who
            .operator()
            .ok_or_else(|| LiveChatError::Forbidden("only operators join conversations".into()))?;
        let session = self.session_for(who, id)?;
        self.channel_for(who, session.channel_id)?;
        if session.closed_at_ms.is_some() {
            return Err(LiveChatError::Conflict("this session is closed".into()));
        }
        if session.operators.contains(&op) {
            return Ok(SessionView::from(&session));
        }
        let now = self.now_ms();
        let (joined, from_line) = {
            let mut state = self.state()?;
            // Taking a visitor who waits in line by hand takes them out of it.
            let from_line = super::queue_flow::leave_line_by_id(
                &mut state,
                id,
                super::queue::QueueExit::Served,
                now,
            );
            let open = state
                .open
                .get_mut(&id)
                .ok_or_else(|| LiveChatError::Conflict("this session is closed".into()))?;
            open.operators.push(op);
            if !open.all_operators.contains(&op) {
                open.all_operators.push(op);
            }
            if let Some(bot) = open.bot.as_mut().filter(|b| b.active()) {
                bot.ended = Some(End::Forwarded);
                bot.waiting = false;
                open.handover_at_ms.get_or_insert(now);
            }
            let joined = open.clone();
            self.save_session(&joined)?;
            (joined, from_line)
        };
        self.remember_operator(joined.visitor_id.as_deref(), op, now)?;
        self.announce_operator(id, op)?;
        self.flush().await?;
        if from_line {
            self.publish_queue(joined.channel_id)?;
        }
        Ok(SessionView::from(&joined))
    }
}
