//! The connection handshake as a pure state machine.
//!
//! Two instances (each known by its UUID) link through a [`Connection`] that we ask for
//! ([`Direction::Outgoing`]) or they ask for ([`Direction::Incoming`]). The node's service layer
//! turns a user action or network news into an [`Event`], calls [`apply`], stores [`Outcome::next`]
//! (`None`: gone) and carries out [`Outcome::effects`]. No I/O here: the table is tested whole.
//!
//! | Direction | From                                   | Event                                   | To                      | Effects                      |
//! |-----------|----------------------------------------|-----------------------------------------|-------------------------|------------------------------|
//! | Outgoing  | Draft / Not Found                      | `SendRequest` / `RetryRequest`          | Pending                 | DeliverRequest               |
//! | Outgoing  | Draft, Not Found                       | `EditUuid { remote }`                   | Draft, new remote       | —                            |
//! | Outgoing  | Pending                                | `Cancel`                                | Cancelled               | DeliverCancel                |
//! | Outgoing  | Pending                                | `LookupFailed`                          | Not Found               | —                            |
//! | Outgoing  | Pending, Not Found                     | `SyncStatus`                            | unchanged               | QueryRemote                  |
//! | Outgoing  | Pending, Not Found                     | `RemoteAccepted`                        | Accepted                | CreateChannel                |
//! | Outgoing  | Pending, Not Found                     | `RemoteRejected { reason }`             | Rejected, reason        | —                            |
//! | Outgoing  | Not Found / Accepted / Rejected        | `LookupFailed` / `RemoteAccepted` / `RemoteRejected` again | unchanged (first reason kept) | — |
//! | Outgoing  | Accepted, Rejected, Cancelled          | `SyncStatus`                            | unchanged               | —                            |
//! | Outgoing  | Draft, Not Found, Accepted, Rejected, Cancelled | `Delete`                       | gone                    | Remove                       |
//! | Incoming  | Pending                                | `Accept { contact }`                    | Accepted, contact       | DeliverAccept, CreateChannel |
//! | Incoming  | Pending                                | `Reject { reason }`                     | Rejected, reason        | DeliverReject                |
//! | Incoming  | Pending                                | `RemoteCancelled`                       | gone                    | Remove                       |
//! | Incoming  | Rejected, Cancelled                    | `RemoteCancelled`                       | unchanged               | —                            |
//! | Incoming  | any                                    | `SyncStatus`                            | unchanged               | —                            |
//! | Incoming  | Accepted, Rejected (Draft, Not Found, Cancelled) | `Delete`                      | gone                    | Remove                       |
//!
//! Every other combination is an [`InvalidTransition`]. Where the product left room:
//!
//! - `EditUuid` on Not Found goes back to Draft: the corrected request is then sent explicitly.
//! - A remote answer while Not Found counts (it proves the remote exists and has our request).
//!   Repeated answers are idempotent; contradicting ones are invalid.
//! - Sync Status is invalid on a Draft (nothing was sent) and a no-op on incoming connections.
//! - A cancellation crossing our rejection is a no-op. Incoming Draft / Not Found / Cancelled never
//!   arise here, but a stored one can be deleted.
//! - Deleting an Accepted connection is local (the peer is not told, as in O'Chat): the node keeps
//!   its channel, and accepting a later request between the same two instances reuses it.
//! - Texts are trimmed. Accepting needs a non-blank contact ([`TransitionError::BlankContact`]);
//!   a blank rejection reason becomes `None`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// Who asked for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// We sent the request.
    Outgoing,
    /// The remote instance sent the request.
    Incoming,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if *self == Self::Outgoing {
            "outgoing"
        } else {
            "incoming"
        };
        f.write_str(text)
    }
}

/// Where a connection stands in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written but not sent yet (outgoing only).
    Draft,
    /// Sent and waiting for the other side's answer.
    Pending,
    /// Both sides agreed; the channel exists.
    Accepted,
    /// The answering side said no.
    Rejected,
    /// No instance record exists for the remote UUID (outgoing only).
    NotFound,
    /// The requesting side withdrew the request.
    Cancelled,
}

impl Status {
    /// Every status, in handshake order.
    pub const ALL: [Status; 6] = [
        Self::Draft,
        Self::Pending,
        Self::Accepted,
        Self::Rejected,
        Self::NotFound,
        Self::Cancelled,
    ];

    /// The name shown to users: "Draft", "Pending", "Accepted", "Rejected", "Not Found", "Cancelled".
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Pending => "Pending",
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::NotFound => "Not Found",
            Self::Cancelled => "Cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status filter that names no status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown status {input:?} (Draft, Pending, Accepted, Rejected, Not Found, Cancelled)")]
pub struct ParseStatusError {
    /// The text that was given.
    pub input: String,
}

impl FromStr for Status {
    type Err = ParseStatusError;

    /// Reads a status ignoring case and anything but letters: "Not Found", "not_found" and
    /// "NOTFOUND" all mean [`Status::NotFound`]; the spelling "canceled" is accepted too.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fold = |text: &str| -> String {
            let letters = text.chars().filter(char::is_ascii_alphabetic);
            letters.map(|c| c.to_ascii_lowercase()).collect()
        };
        let key = fold(input).replace("canceled", "cancelled");
        let found = Self::ALL
            .into_iter()
            .find(|status| fold(status.as_str()) == key);
        found.ok_or_else(|| ParseStatusError {
            input: input.to_owned(),
        })
    }
}

/// One link between this instance and a remote one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Who asked. Never changes.
    pub direction: Direction,
    /// Where the handshake stands.
    pub status: Status,
    /// The remote instance's UUID.
    pub remote: Uuid,
    /// Our name for the remote organisation (outgoing: given when drafting; incoming: when accepting).
    pub contact: Option<String>,
    /// The requester's note sent with the request.
    pub message: Option<String>,
    /// Why the request was rejected, when a reason was given ("View Reason").
    pub reject_reason: Option<String>,
}

/// Something that happens to a connection: a local user action or news from the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The user sends a drafted request.
    SendRequest,
    /// The user (or the 5-minute timer) asks for the current status.
    SyncStatus,
    /// The user withdraws a pending outgoing request.
    Cancel,
    /// The user accepts an incoming request, naming the remote organisation.
    Accept {
        /// Our name for the remote organisation; must not be blank.
        contact: String,
    },
    /// The user rejects an incoming request.
    Reject {
        /// Why; may be blank.
        reason: String,
    },
    /// The user sends a Not Found request again.
    RetryRequest,
    /// The user corrects the remote UUID of a draft or Not Found request.
    EditUuid {
        /// The corrected UUID.
        remote: Uuid,
    },
    /// The user deletes the connection.
    Delete,
    /// No instance record exists for the remote UUID.
    LookupFailed,
    /// The remote accepted our request.
    RemoteAccepted,
    /// The remote rejected our request.
    RemoteRejected {
        /// Their reason; may be blank.
        reason: String,
    },
    /// The remote withdrew its request.
    RemoteCancelled,
}

/// An [`Event`] without its payload, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each variant mirrors the documented `Event` variant of the same name
pub enum EventKind {
    SendRequest,
    SyncStatus,
    Cancel,
    Accept,
    Reject,
    RetryRequest,
    EditUuid,
    Delete,
    LookupFailed,
    RemoteAccepted,
    RemoteRejected,
    RemoteCancelled,
}

impl EventKind {
    /// Whether this kind of event can ever apply to a connection of this direction.
    pub const fn applies_to(self, direction: Direction) -> bool {
        let incoming_only = matches!(self, Self::Accept | Self::Reject | Self::RemoteCancelled);
        let either = matches!(self, Self::SyncStatus | Self::Delete);
        either || incoming_only == matches!(direction, Direction::Incoming)
    }

    const fn verb(self) -> &'static str {
        match self {
            Self::SendRequest => "send",
            Self::SyncStatus => "sync the status of",
            Self::Cancel => "cancel",
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::RetryRequest => "retry",
            Self::EditUuid => "edit the remote UUID of",
            Self::Delete => "delete",
            Self::LookupFailed => "report a failed lookup for",
            Self::RemoteAccepted => "record an acceptance of",
            Self::RemoteRejected => "record a rejection of",
            Self::RemoteCancelled => "record a cancellation of",
        }
    }
}

impl Event {
    /// The kind of this event, without its payload.
    pub const fn kind(&self) -> EventKind {
        match self {
            Self::SendRequest => EventKind::SendRequest,
            Self::SyncStatus => EventKind::SyncStatus,
            Self::Cancel => EventKind::Cancel,
            Self::Accept { .. } => EventKind::Accept,
            Self::Reject { .. } => EventKind::Reject,
            Self::RetryRequest => EventKind::RetryRequest,
            Self::EditUuid { .. } => EventKind::EditUuid,
            Self::Delete => EventKind::Delete,
            Self::LookupFailed => EventKind::LookupFailed,
            Self::RemoteAccepted => EventKind::RemoteAccepted,
            Self::RemoteRejected { .. } => EventKind::RemoteRejected,
            Self::RemoteCancelled => EventKind::RemoteCancelled,
        }
    }
}

/// Work the node must do after storing the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Deliver the connection request to the remote (through the durable outbox).
    DeliverRequest,
    /// Deliver our cancellation of the request.
    DeliverCancel,
    /// Deliver our acceptance (with a fresh signed ephemeral key).
    DeliverAccept,
    /// Deliver our rejection and its reason.
    DeliverReject,
    /// Ask the remote (or the directory) where the request stands.
    QueryRemote,
    /// Derive the channel's root secret and create the channel.
    CreateChannel,
    /// Delete the stored connection (and anything still queued for it).
    Remove,
}

/// The result of a valid transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The connection after the event; `None` when it is gone.
    pub next: Option<Connection>,
    /// What the node must do, in order.
    pub effects: Vec<Effect>,
}

/// An event that the connection's direction and status do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{}", describe(*.status, *.direction, *.event))]
pub struct InvalidTransition {
    /// The connection's status.
    pub status: Status,
    /// The connection's direction.
    pub direction: Direction,
    /// The refused event.
    pub event: EventKind,
}

impl InvalidTransition {
    fn new(state: &Connection, event: EventKind) -> Self {
        let (status, direction) = (state.status, state.direction);
        Self {
            status,
            direction,
            event,
        }
    }
}

fn describe(status: Status, direction: Direction, event: EventKind) -> String {
    if event.applies_to(direction) {
        format!("cannot {} a connection that is {status}", event.verb())
    } else {
        format!("cannot {} an {direction} request", event.verb())
    }
}

/// Why [`apply`] refused an event.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum TransitionError {
    /// The event is not allowed for this direction and status.
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    /// Accepting needs a contact name and the one given is blank.
    #[error("a contact name is needed to accept a connection request")]
    BlankContact,
}

/// A new outgoing request, in Draft, to the instance `remote`.
pub fn new_outgoing(remote: Uuid, contact: Option<String>, message: Option<String>) -> Connection {
    Connection {
        direction: Direction::Outgoing,
        status: Status::Draft,
        remote,
        contact: contact.as_deref().and_then(non_blank),
        message: message.as_deref().and_then(non_blank),
        reject_reason: None,
    }
}

/// A request just received from the instance `remote`: Incoming and Pending.
pub fn new_incoming(remote: Uuid, message: Option<String>) -> Connection {
    let mut incoming = new_outgoing(remote, None, message);
    (incoming.direction, incoming.status) = (Direction::Incoming, Status::Pending);
    incoming
}

/// Applies `event` to `state`: the next state and the effects, or why the event is refused.
pub fn apply(state: &Connection, event: &Event) -> Result<Outcome, TransitionError> {
    use Direction::{Incoming as In, Outgoing as Out};
    use Effect::{CreateChannel, DeliverAccept, DeliverCancel, DeliverReject, DeliverRequest};
    use Effect::{QueryRemote, Remove};
    use Status::{Accepted, Cancelled, Draft, NotFound, Pending, Rejected};

    let mut next = state.clone();
    let (status, effects) = match (state.direction, state.status, event) {
        (Out, Draft, Event::SendRequest) => (Some(Pending), vec![DeliverRequest]),
        (Out, NotFound, Event::RetryRequest) => (Some(Pending), vec![DeliverRequest]),
        (Out, Draft | NotFound, Event::EditUuid { remote }) => {
            next.remote = *remote;
            (Some(Draft), vec![])
        }
        (Out, Pending, Event::Cancel) => (Some(Cancelled), vec![DeliverCancel]),
        (Out, Pending, Event::LookupFailed) => (Some(NotFound), vec![]),
        (Out, Pending | NotFound, Event::SyncStatus) => (Some(state.status), vec![QueryRemote]),
        (Out, Pending | NotFound, Event::RemoteAccepted) => (Some(Accepted), vec![CreateChannel]),
        (Out, Pending | NotFound, Event::RemoteRejected { reason }) => {
            next.reject_reason = non_blank(reason);
            (Some(Rejected), vec![])
        }
        (In, Pending, Event::Accept { contact }) => {
            next.contact = Some(non_blank(contact).ok_or(TransitionError::BlankContact)?);
            (Some(Accepted), vec![DeliverAccept, CreateChannel])
        }
        (In, Pending, Event::Reject { reason }) => {
            next.reject_reason = non_blank(reason);
            (Some(Rejected), vec![DeliverReject])
        }
        (Out, NotFound, Event::LookupFailed)
        | (Out, Accepted, Event::RemoteAccepted)
        | (Out, Rejected, Event::RemoteRejected { .. })
        | (Out, Accepted | Rejected | Cancelled, Event::SyncStatus)
        | (In, _, Event::SyncStatus)
        | (In, Rejected | Cancelled, Event::RemoteCancelled) => (Some(state.status), vec![]),
        (_, Draft | NotFound | Accepted | Rejected | Cancelled, Event::Delete)
        | (In, Pending, Event::RemoteCancelled) => (None, vec![Remove]),
        _ => return Err(InvalidTransition::new(state, event.kind()).into()),
    };
    let next = status.map(|status| Connection { status, ..next });
    Ok(Outcome { next, effects })
}

fn non_blank(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Incoming as In, Outgoing as Out};
    use Effect::{CreateChannel, DeliverAccept, DeliverCancel, DeliverReject, DeliverRequest};
    use Effect::{QueryRemote, Remove};
    use EventKind as K;
    use Status::{Accepted, Cancelled, Draft, NotFound, Pending, Rejected};

    fn at(direction: Direction, status: Status) -> Connection {
        let draft = new_outgoing(Uuid::from_u128(1), None, None);
        Connection {
            direction,
            status,
            ..draft
        }
    }

    fn events() -> [Event; 12] {
        let (t, remote) = (|| " Acme ".to_owned(), Uuid::from_u128(7));
        [
            Event::SendRequest,
            Event::SyncStatus,
            Event::Cancel,
            Event::Accept { contact: t() },
            Event::Reject { reason: t() },
            Event::RetryRequest,
            Event::EditUuid { remote },
            Event::Delete,
            Event::LookupFailed,
            Event::RemoteAccepted,
            Event::RemoteRejected { reason: t() },
            Event::RemoteCancelled,
        ]
    }

    type Row = Option<(Option<Status>, Vec<Effect>)>;

    /// The module table, row by row: the status after the event (`None`: gone) and the effects.
    fn row(direction: Direction, from: Status, event: EventKind) -> Row {
        let (to, effects) = match (direction, from, event) {
            (Out, Draft, K::SendRequest) => (Some(Pending), vec![DeliverRequest]),
            (Out, NotFound, K::RetryRequest) => (Some(Pending), vec![DeliverRequest]),
            (Out, Draft | NotFound, K::EditUuid) => (Some(Draft), vec![]),
            (Out, Pending, K::Cancel) => (Some(Cancelled), vec![DeliverCancel]),
            (Out, Pending, K::LookupFailed) => (Some(NotFound), vec![]),
            (Out, Pending | NotFound, K::SyncStatus) => (Some(from), vec![QueryRemote]),
            (Out, Pending | NotFound, K::RemoteAccepted) => (Some(Accepted), vec![CreateChannel]),
            (Out, Pending | NotFound, K::RemoteRejected) => (Some(Rejected), vec![]),
            (Out, NotFound, K::LookupFailed)
            | (Out, Accepted, K::RemoteAccepted)
            | (Out, Rejected, K::RemoteRejected)
            | (Out, Accepted | Rejected | Cancelled, K::SyncStatus)
            | (In, _, K::SyncStatus)
            | (In, Rejected | Cancelled, K::RemoteCancelled) => (Some(from), vec![]),
            (_, Draft | NotFound | Accepted | Rejected | Cancelled, K::Delete) => {
                (None, vec![Remove])
            }
            (In, Pending, K::RemoteCancelled) => (None, vec![Remove]),
            (In, Pending, K::Accept) => (Some(Accepted), vec![DeliverAccept, CreateChannel]),
            (In, Pending, K::Reject) => (Some(Rejected), vec![DeliverReject]),
            _ => return None,
        };
        Some((to, effects))
    }

    #[test]
    fn every_row_of_the_table_and_nothing_else() {
        for direction in [Out, In] {
            for from in Status::ALL {
                for event in events() {
                    let (state, kind) = (at(direction, from), event.kind());
                    let got = apply(&state, &event).map(|o| (o.next.map(|c| c.status), o.effects));
                    let refused = TransitionError::from(InvalidTransition::new(&state, kind));
                    let want = row(direction, from, kind).ok_or(refused);
                    assert_eq!(got, want, "{direction} {from} {kind:?}");
                }
            }
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        let accept = Event::Accept {
            contact: "Acme".into(),
        };
        let err = apply(&at(Out, Pending), &accept).unwrap_err();
        assert_eq!(err.to_string(), "cannot accept an outgoing request");
        let err = apply(&at(Out, Pending), &Event::Delete).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot delete a connection that is Pending"
        );
        let err = apply(&at(In, Pending), &Event::SendRequest).unwrap_err();
        assert_eq!(err.to_string(), "cannot send an incoming request");
    }
}
