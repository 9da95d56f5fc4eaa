//! The connection handshake, told as stories and checked with random event sequences.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_protocol::codec::{Limits, decode_body, encode_body};
use ochat_protocol::connection::{
    Connection, Direction, Effect, Event, EventKind, InvalidTransition, Outcome, Status,
    TransitionError, apply, new_incoming, new_outgoing,
};
use proptest::prelude::*;
use uuid::Uuid;

use Direction::{Incoming as In, Outgoing as Out};
use Effect::{
    CreateChannel, DeliverAccept, DeliverCancel, DeliverReject, DeliverRequest, QueryRemote, Remove,
};
use Status::{Accepted, Cancelled, Draft, NotFound, Pending, Rejected};

const ACME: Uuid = Uuid::from_u128(0xac3e);
const GLOBEX: Uuid = Uuid::from_u128(0x610b);

/// Applies an event the story expects to succeed, returning the next connection and the effects.
fn step(state: &Connection, event: Event) -> (Option<Connection>, Vec<Effect>) {
    match apply(state, &event) {
        Ok(Outcome { next, effects }) => (next, effects),
        Err(refused) => panic!("{event:?} on {state:?} was refused: {refused}"),
    }
}

fn refusal(state: &Connection, event: Event) -> String {
    match apply(state, &event) {
        Ok(outcome) => panic!("{event:?} on {state:?} was allowed: {outcome:?}"),
        Err(refused) => refused.to_string(),
    }
}

#[test]
fn an_outgoing_request_ends_in_a_shared_channel() {
    let draft = new_outgoing(ACME, Some(" Acme ".into()), Some("Let's talk".into()));
    assert_eq!((draft.direction, draft.status), (Out, Draft));
    assert_eq!(draft.contact.as_deref(), Some("Acme"));
    assert_eq!(
        refusal(&draft, Event::SyncStatus),
        "cannot sync the status of a connection that is Draft"
    );

    let (pending, effects) = step(&draft, Event::SendRequest);
    let pending = pending.unwrap();
    assert_eq!((pending.status, effects), (Pending, vec![DeliverRequest]));
    assert_eq!(
        step(&pending, Event::SyncStatus),
        (Some(pending.clone()), vec![QueryRemote])
    );
    assert_eq!(
        refusal(&pending, Event::Delete),
        "cannot delete a connection that is Pending"
    );

    let (accepted, effects) = step(&pending, Event::RemoteAccepted);
    let accepted = accepted.unwrap();
    assert_eq!((accepted.status, effects), (Accepted, vec![CreateChannel]));
    // The answer is delivered again after a retry: nothing happens twice.
    assert_eq!(
        step(&accepted, Event::RemoteAccepted),
        (Some(accepted.clone()), vec![])
    );
    // Deleting an Accepted connection is local; the node keeps its channel for a later one.
    assert_eq!(step(&accepted, Event::Delete), (None, vec![Remove]));
}

#[test]
fn a_rejected_request_shows_its_reason_until_deleted() {
    let pending = Connection {
        status: Pending,
        ..new_outgoing(ACME, None, None)
    };
    let said_no = Event::RemoteRejected {
        reason: "  Not this quarter ".into(),
    };
    let rejected = step(&pending, said_no).0.unwrap();
    assert_eq!(rejected.status, Rejected);
    assert_eq!(rejected.reject_reason.as_deref(), Some("Not this quarter"));

    let again = Event::RemoteRejected {
        reason: "something else".into(),
    };
    assert_eq!(step(&rejected, again), (Some(rejected.clone()), vec![]));
    assert_eq!(
        refusal(&rejected, Event::RemoteAccepted),
        "cannot record an acceptance of a connection that is Rejected"
    );
    assert_eq!(step(&rejected, Event::Delete), (None, vec![Remove]));
}

#[test]
fn a_mistyped_uuid_is_found_missing_corrected_and_sent_again() {
    let pending = Connection {
        status: Pending,
        ..new_outgoing(ACME, None, None)
    };
    let missing = step(&pending, Event::LookupFailed).0.unwrap();
    assert_eq!(missing.status, NotFound);
    assert_eq!(
        step(&missing, Event::SyncStatus),
        (Some(missing.clone()), vec![QueryRemote])
    );

    let fixed = step(&missing, Event::EditUuid { remote: GLOBEX })
        .0
        .unwrap();
    assert_eq!((fixed.status, fixed.remote), (Draft, GLOBEX));
    assert_eq!(step(&fixed, Event::SendRequest).1, vec![DeliverRequest]);
    // Or, the directory just was not up to date: send the same request again.
    assert_eq!(step(&missing, Event::RetryRequest).1, vec![DeliverRequest]);
    assert_eq!(
        refusal(&pending, Event::EditUuid { remote: GLOBEX }),
        "cannot edit the remote UUID of a connection that is Pending"
    );
}

#[test]
fn a_cancelled_request_cannot_be_accepted_afterwards() {
    let pending = Connection {
        status: Pending,
        ..new_outgoing(ACME, None, None)
    };
    let (cancelled, effects) = step(&pending, Event::Cancel);
    let cancelled = cancelled.unwrap();
    assert_eq!(
        (cancelled.status, effects),
        (Cancelled, vec![DeliverCancel])
    );
    assert!(apply(&cancelled, &Event::RemoteAccepted).is_err());
    assert_eq!(
        refusal(&cancelled, Event::Cancel),
        "cannot cancel a connection that is Cancelled"
    );
    assert_eq!(step(&cancelled, Event::Delete), (None, vec![Remove]));
}

#[test]
fn an_incoming_request_is_accepted_under_a_contact_name() {
    let request = new_incoming(GLOBEX, Some("  ".into()));
    assert_eq!(
        (
            request.direction,
            request.status,
            request.message.as_deref()
        ),
        (In, Pending, None)
    );
    let blank = Event::Accept {
        contact: " \t".into(),
    };
    assert_eq!(apply(&request, &blank), Err(TransitionError::BlankContact));

    let (accepted, effects) = step(
        &request,
        Event::Accept {
            contact: " Globex Inc ".into(),
        },
    );
    let accepted = accepted.unwrap();
    assert_eq!(accepted.contact.as_deref(), Some("Globex Inc"));
    assert_eq!(
        (accepted.status, effects),
        (Accepted, vec![DeliverAccept, CreateChannel])
    );
    assert_eq!(
        refusal(&request, Event::SendRequest),
        "cannot send an incoming request"
    );
    let outgoing = new_outgoing(ACME, None, None);
    let accept = Event::Accept {
        contact: "Acme".into(),
    };
    assert_eq!(
        refusal(&outgoing, accept),
        "cannot accept an outgoing request"
    );
}

#[test]
fn an_incoming_request_vanishes_when_its_sender_cancels() {
    let request = new_incoming(GLOBEX, Some("Hello".into()));
    assert_eq!(
        step(&request, Event::SyncStatus),
        (Some(request.clone()), vec![])
    );
    assert_eq!(step(&request, Event::RemoteCancelled), (None, vec![Remove]));
}

#[test]
fn an_incoming_request_may_be_rejected_without_a_reason() {
    let request = new_incoming(GLOBEX, None);
    let (rejected, effects) = step(
        &request,
        Event::Reject {
            reason: "   ".into(),
        },
    );
    let rejected = rejected.unwrap();
    assert_eq!(
        (rejected.status, rejected.reject_reason.as_deref()),
        (Rejected, None)
    );
    assert_eq!(effects, vec![DeliverReject]);
    // Their cancellation crossed our rejection on the wire: nothing to do.
    assert_eq!(
        step(&rejected, Event::RemoteCancelled),
        (Some(rejected.clone()), vec![])
    );
    assert_eq!(step(&rejected, Event::Delete), (None, vec![Remove]));
}

#[test]
fn statuses_read_and_print_like_the_ui_shows_them() {
    for status in Status::ALL {
        assert_eq!(status.to_string().parse(), Ok(status));
        assert_eq!(status.as_str(), status.to_string());
    }
    assert_eq!("not_found".parse(), Ok(NotFound));
    assert_eq!("CANCELED".parse(), Ok(Cancelled));
    assert_eq!(NotFound.to_string(), "Not Found");
    let err = "lost".parse::<Status>().unwrap_err();
    assert_eq!(err.input, "lost");
    assert!(err.to_string().contains("Not Found"), "{err}");
}

#[test]
fn the_api_sees_snake_case_names() {
    assert_eq!(serde_json::to_value(NotFound).unwrap(), "not_found");
    let accept = Event::Accept {
        contact: "Acme".into(),
    };
    let json = serde_json::to_value(&accept).unwrap();
    assert_eq!(json, serde_json::json!({ "accept": { "contact": "Acme" } }));
    let refused = InvalidTransition {
        status: Accepted,
        direction: Out,
        event: EventKind::Delete,
    };
    let json = serde_json::to_value(refused).unwrap();
    let expected =
        serde_json::json!({ "status": "accepted", "direction": "outgoing", "event": "delete" });
    assert_eq!(json, expected);
}

/// The allowed transitions, written out independently of the implementation:
/// `Some((status after, effects))`, a status of `None` meaning the connection is gone.
fn allowed(
    direction: Direction,
    from: Status,
    event: EventKind,
) -> Option<(Option<Status>, Vec<Effect>)> {
    use EventKind as K;
    let row = match (direction, from, event) {
        (Out, Draft, K::SendRequest) => (Some(Pending), vec![DeliverRequest]),
        (Out, NotFound, K::RetryRequest) => (Some(Pending), vec![DeliverRequest]),
        (Out, Draft, K::EditUuid) | (Out, NotFound, K::EditUuid) => (Some(Draft), vec![]),
        (Out, Pending, K::Cancel) => (Some(Cancelled), vec![DeliverCancel]),
        (Out, Pending, K::LookupFailed) => (Some(NotFound), vec![]),
        (Out, NotFound, K::LookupFailed) => (Some(NotFound), vec![]),
        (Out, Pending, K::SyncStatus) | (Out, NotFound, K::SyncStatus) => {
            (Some(from), vec![QueryRemote])
        }
        (Out, Accepted, K::SyncStatus) | (Out, Rejected, K::SyncStatus) => (Some(from), vec![]),
        (Out, Cancelled, K::SyncStatus) => (Some(from), vec![]),
        (Out, Pending, K::RemoteAccepted) | (Out, NotFound, K::RemoteAccepted) => {
            (Some(Accepted), vec![CreateChannel])
        }
        (Out, Accepted, K::RemoteAccepted) => (Some(Accepted), vec![]),
        (Out, Pending, K::RemoteRejected) | (Out, NotFound, K::RemoteRejected) => {
            (Some(Rejected), vec![])
        }
        (Out, Rejected, K::RemoteRejected) => (Some(Rejected), vec![]),
        (Out, Draft | NotFound | Accepted | Rejected | Cancelled, K::Delete) => {
            (None, vec![Remove])
        }
        (In, Pending, K::Accept) => (Some(Accepted), vec![DeliverAccept, CreateChannel]),
        (In, Pending, K::Reject) => (Some(Rejected), vec![DeliverReject]),
        (In, Pending, K::RemoteCancelled) => (None, vec![Remove]),
        (In, Rejected | Cancelled, K::RemoteCancelled) => (Some(from), vec![]),
        (In, _, K::SyncStatus) => (Some(from), vec![]),
        (In, Accepted | Rejected | Draft | NotFound | Cancelled, K::Delete) => (None, vec![Remove]),
        _ => return None,
    };
    Some(row)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_owned()),
        "[ a-zA-Z]{0,12}"
    ]
}

fn status() -> impl Strategy<Value = Status> {
    prop::sample::select(Status::ALL.to_vec())
}

fn remote() -> impl Strategy<Value = Uuid> {
    prop_oneof![
        Just(ACME),
        Just(GLOBEX),
        any::<u128>().prop_map(Uuid::from_u128)
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    let texts = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
    );
    (prop_oneof![Just(Out), Just(In)], status(), remote(), texts).prop_map(
        |(direction, status, remote, (contact, message, reject_reason))| Connection {
            direction,
            status,
            remote,
            contact,
            message,
            reject_reason,
        },
    )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::SendRequest),
        Just(Event::SyncStatus),
        Just(Event::Cancel),
        text().prop_map(|contact| Event::Accept { contact }),
        text().prop_map(|reason| Event::Reject { reason }),
        Just(Event::RetryRequest),
        remote().prop_map(|remote| Event::EditUuid { remote }),
        Just(Event::Delete),
        Just(Event::LookupFailed),
        Just(Event::RemoteAccepted),
        text().prop_map(|reason| Event::RemoteRejected { reason }),
        Just(Event::RemoteCancelled),
    ]
}

/// A realistic start: a fresh draft or a fresh incoming request.
fn fresh() -> impl Strategy<Value = Connection> {
    prop_oneof![
        (remote(), prop::option::of(text()), prop::option::of(text()))
            .prop_map(|(remote, contact, message)| new_outgoing(remote, contact, message)),
        (remote(), prop::option::of(text()))
            .prop_map(|(remote, message)| new_incoming(remote, message)),
    ]
}

/// Checks one `apply` against the invariants and the table; returns what the node would store.
fn check(state: &Connection, event: &Event) -> Result<Option<Connection>, TestCaseError> {
    let kind = event.kind();
    let row = allowed(state.direction, state.status, kind);
    match apply(state, event) {
        Ok(Outcome { next, effects }) => {
            let Some(row) = row else {
                return Err(TestCaseError::fail(format!("{state:?} allowed {event:?}")));
            };
            prop_assert_eq!((next.as_ref().map(|c| c.status), effects), row);
            if let Some(next) = &next {
                prop_assert_eq!(
                    next.direction,
                    state.direction,
                    "the direction never changes"
                );
            }
            if state.status == Accepted && kind != EventKind::Delete {
                prop_assert_eq!(
                    next.as_ref(),
                    Some(state),
                    "once Accepted, only Delete changes it"
                );
            }
            if state.status == Rejected && kind != EventKind::Delete {
                prop_assert_eq!(
                    next.as_ref(),
                    Some(state),
                    "once Rejected, only Delete changes it"
                );
            }
            Ok(next)
        }
        Err(TransitionError::Invalid(refused)) => {
            prop_assert!(row.is_none(), "{:?} refused {:?}", state, event);
            let expected = InvalidTransition {
                status: state.status,
                direction: state.direction,
                event: kind,
            };
            prop_assert_eq!(refused, expected);
            Ok(Some(state.clone()))
        }
        Err(TransitionError::BlankContact) => {
            let blank = matches!(event, Event::Accept { contact } if contact.trim().is_empty());
            prop_assert!(
                row.is_some() && blank,
                "{:?} refused {:?} as blank",
                state,
                event
            );
            Ok(Some(state.clone()))
        }
    }
}

/// What holds for any connection built with `new_outgoing` / `new_incoming` and `apply`: incoming
/// ones are never Draft, Not Found or Cancelled, and stored texts are trimmed and never blank.
fn sensible(state: &Connection) -> Result<(), TestCaseError> {
    let incoming_ok = matches!(state.status, Pending | Accepted | Rejected);
    prop_assert!(state.direction == Out || incoming_ok, "{:?}", state);
    for text in [&state.contact, &state.message, &state.reject_reason]
        .into_iter()
        .flatten()
    {
        prop_assert!(
            !text.is_empty() && text.trim() == text.as_str(),
            "untidy {:?}",
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_events_from_any_state_follow_the_table(
        start in connection(),
        events in prop::collection::vec(event(), 1..40),
    ) {
        let mut current = Some(start);
        for event in &events {
            // Once deleted, there is nothing left to apply events to: it stays deleted.
            let Some(state) = current else { break };
            current = check(&state, event)?;
        }
    }

    #[test]
    fn fresh_connections_only_reach_sensible_states_with_tidy_texts(
        start in fresh(),
        events in prop::collection::vec(event(), 1..40),
    ) {
        let mut current = Some(start);
        for event in &events {
            let Some(state) = current else { break };
            sensible(&state)?;
            current = check(&state, event)?;
        }
    }

    #[test]
    fn connections_and_events_are_stored_as_cbor_unchanged(state in connection(), event in event()) {
        let limits = Limits::default();
        prop_assert_eq!(decode_body::<Connection>(&encode_body(&state).unwrap(), &limits).unwrap(), state.clone());
        prop_assert_eq!(decode_body::<Event>(&encode_body(&event).unwrap(), &limits).unwrap(), event.clone());
        let outcome = apply(&state, &event);
        let stored = encode_body(&outcome).unwrap();
        prop_assert_eq!(decode_body::<Result<Outcome, TransitionError>>(&stored, &limits).unwrap(), outcome);
    }
}
