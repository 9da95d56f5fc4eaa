//! [`FederationError`]: why a federation action failed, one variant per cause, and the
//! [`ErrorKind`] the API answers it with (not found, bad input, conflict, unavailable,
//! internal). Used by every federation file and by the API's error mapping.

use ochat_protocol::connection::{Status, TransitionError};
use ochat_protocol::identity::{IdentityError, InstanceId};
use ochat_protocol::random::RandomError;
use ochat_protocol::record::RecordError;
use ochat_protocol::sign::SignError;
use thiserror::Error;
use uuid::Uuid;

use super::keys::KeyError;
use crate::directory::DirectoryError;
use crate::network::NetworkError;
use crate::peers::PeersError;
use crate::store::StoreError;

/// Why a federation action failed.
#[derive(Debug, Error)]
pub enum FederationError {
    /// No connection with that id (or prefix).
    #[error("no connection {0}")]
    NoConnection(String),
    /// No local user with that id.
    #[error("no user {0}")]
    NoUser(Uuid),
    /// A text is over its limit.
    #[error("the {what} is too long ({len} bytes, at most {max})")]
    TooLong {
        /// Which text.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A connection id prefix shorter than 4 characters.
    #[error("give a connection id, or at least its first 4 characters")]
    ShortId,
    /// A connection id prefix that several connections start with.
    #[error("{matches} connections start with {prefix}: give more characters")]
    Ambiguous {
        /// How many connections start with it.
        matches: usize,
        /// The prefix given.
        prefix: String,
    },
    /// Not an Instance UUID.
    #[error(transparent)]
    BadUuid(#[from] IdentityError),
    /// Our own UUID where another instance's is expected.
    #[error("that is this instance's own UUID")]
    OwnUuid,
    /// The action is not allowed in the connection's state.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// There is a connection with that instance already.
    #[error(
        "there is already a connection with {remote} ({id}, {status}): use it, or delete it first"
    )]
    Duplicate {
        /// The other instance.
        remote: InstanceId,
        /// The existing connection.
        id: Uuid,
        /// Its status.
        status: Status,
    },
    /// Members are managed on accepted connections only.
    #[error("members can be managed only on an Accepted connection; this one is {0}")]
    NotAccepted(Status),
    /// A Not Found connection's instance can be found now: Retry Request sends the request.
    #[error("the instance {0} can be found now: use Retry Request to send the request")]
    FoundNow(InstanceId),
    /// Where the peer is cannot be told now.
    #[error(transparent)]
    Peer(#[from] PeersError),
    /// Nobody knows the instance (yet).
    #[error("no instance with UUID {0} is known yet")]
    NotKnownYet(InstanceId),
    /// Our record could not be published to the directory.
    #[error("could not register with the directory: {0}")]
    Register(#[source] DirectoryError),
    /// The peer's record in its answer does not verify.
    #[error("invalid peer record: {0}")]
    InvalidPeerRecord(#[source] RecordError),
    /// The peer's record in its answer is not the instance (or key) asked.
    #[error("the peer's record does not match the instance asked")]
    WrongPeerRecord,
    /// The peer could not be reached.
    #[error("the peer is unreachable: {0}")]
    Unreachable(#[source] NetworkError),
    /// The peer refused our status query.
    #[error("the peer refused the status query: {0}")]
    QueryRefused(String),
    /// The peer answered something that does not answer our message.
    #[error("the peer answered out of turn")]
    OutOfTurn,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The accounts could not be read.
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountsError),
    /// A message could not be signed.
    #[error("cannot sign: {0}")]
    Sign(#[from] SignError),
    /// Our record could not be signed.
    #[error("cannot sign our record: {0}")]
    SignRecord(#[source] RecordError),
    /// No randomness for a new secret.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The key agreement failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A stored connection lacks the keys its state needs.
    #[error("{0}")]
    MissingKeys(&'static str),
}

/// How the API answers a [`FederationError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 400.
    BadInput,
    /// 409.
    Conflict,
    /// 503: the peer or the directory, try again later.
    Unavailable,
    /// 500: details go to the log only.
    Internal,
}

impl FederationError {
    /// How the API answers it.
    pub fn kind(&self) -> ErrorKind {
        use FederationError as E;
        match self {
            E::NoConnection(_) | E::NoUser(_) => ErrorKind::NotFound,
            E::TooLong { .. } | E::ShortId | E::Ambiguous { .. } | E::BadUuid(_) | E::OwnUuid => {
                ErrorKind::BadInput
            }
            E::Transition(_) | E::Duplicate { .. } | E::NotAccepted(_) | E::FoundNow(_) => {
                ErrorKind::Conflict
            }
            E::Peer(_)
            | E::NotKnownYet(_)
            | E::Register(_)
            | E::InvalidPeerRecord(_)
            | E::WrongPeerRecord
            | E::Unreachable(_)
            | E::QueryRefused(_)
            | E::OutOfTurn => ErrorKind::Unavailable,
            E::Store(_)
            | E::Accounts(_)
            | E::Sign(_)
            | E::SignRecord(_)
            | E::Random(_)
            | E::Keys(_)
            | E::MissingKeys(_) => ErrorKind::Internal,
        }
    }
}
