//! Our request-response codec: one length-prefixed CBOR frame per request and per response,
//! built on [`ochat_protocol::codec`].
//!
//! Reading: the 4-byte header first, checked with [`codec::frame_len`] against the limit
//! *before* any body byte is read or buffered; then exactly that many bytes (buffered as they
//! arrive, so a peer that declares 64 KiB and sends nothing costs nothing); then
//! [`codec::decode_body`] with its recursion limit. Any violation is an [`io::Error`] of kind
//! `InvalidData` carrying a [`FrameError`], which makes libp2p drop that stream: the frame never
//! reaches the service. Error messages never quote the frame's contents.
//!
//! [`CborCodec`] is generic over the request and response types, so `/ochat/msg/2` can reuse it.

use std::io;
use std::marker::PhantomData;

use futures::prelude::*;
use libp2p::StreamProtocol;
use ochat_protocol::codec::{self, DecodeError, FRAME_HEADER_LEN, Limits};
use ochat_protocol::wire::{Envelope, HandshakeResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// The codec of `/ochat/handshake/1`.
pub type HandshakeCodec = CborCodec<Envelope, HandshakeResponse>;

/// The codec of `/ochat/msg/2`.
pub type MessageCodec =
    CborCodec<ochat_protocol::message::MessageBatch, ochat_protocol::message::MessageResponse>;

/// Bytes buffered up front for a body; the rest grows as bytes actually arrive.
const INITIAL_BUFFER: usize = 4 * 1024;

/// Why a frame was refused (the inner error of the `io::Error`s this codec returns).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The header declares a body over the limit.
    #[error("the frame declares {declared} bytes, over the limit of {max}")]
    TooLarge {
        /// Declared body length.
        declared: usize,
        /// The limit in force.
        max: usize,
    },
    /// The stream ended inside the frame.
    #[error("the stream ended after {got} of {declared} body bytes")]
    Truncated {
        /// Body bytes received.
        got: usize,
        /// Body bytes declared.
        declared: usize,
    },
    /// The body is not an acceptable encoding of the expected type.
    #[error("the frame body is invalid: {0}")]
    Invalid(&'static str),
    /// The value to send does not fit in a frame.
    #[error("the value cannot be sent: {0}")]
    Unsendable(String),
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        let kind = match e {
            FrameError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            FrameError::Unsendable(_) => io::ErrorKind::InvalidInput,
            FrameError::TooLarge { .. } | FrameError::Invalid(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Length-prefixed CBOR frames of `Req` requests and `Resp` responses, with [`Limits`].
pub struct CborCodec<Req, Resp> {
    limits: Limits,
    _types: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> CborCodec<Req, Resp> {
    /// A codec that enforces `limits` on everything it reads and writes.
    pub fn new(limits: Limits) -> Self {
        CborCodec {
            limits,
            _types: PhantomData,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

impl<Req, Resp> Clone for CborCodec<Req, Resp> {
    fn clone(&self) -> Self {
        CborCodec::new(self.limits)
    }
}

impl<Req, Resp> std::fmt::Debug for CborCodec<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CborCodec")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Reads one frame and decodes its body.
async fn read_frame<T, V>(io: &mut T, limits: &Limits) -> io::Result<V>
where
    T: AsyncRead + Unpin + Send,
    V: DeserializeOwned,
{
    let mut header = [0u8; FRAME_HEADER_LEN];
    io.read_exact(&mut header).await?;
    let declared = codec::frame_len(header, limits).map_err(refusal)?;
    let mut body = Vec::with_capacity(declared.min(INITIAL_BUFFER));
    let wanted = u64::try_from(declared).unwrap_or(u64::MAX);
    let got = io.take(wanted).read_to_end(&mut body).await?;
    if got != declared {
        return Err(FrameError::Truncated { got, declared }.into());
    }
    codec::decode_body(&body, limits).map_err(refusal)
}

/// Encodes one frame and writes it (the caller closes the stream). The value is encoded before
/// the first `await`, so it need not be `Sync`.
async fn write_frame<T, V>(io: &mut T, value: V, limits: &Limits) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    V: Serialize,
{
    let frame = codec::encode_frame(&value, limits)
        .map_err(|e| io::Error::from(FrameError::Unsendable(e.to_string())))?;
    drop(value);
    io.write_all(&frame).await?;
    io.flush().await
}

/// Turns a decoder error into a content-free [`FrameError`] (decoder details may quote the
/// peer's bytes, which we never log).
fn refusal(e: DecodeError) -> io::Error {
    let frame_error = match e {
        DecodeError::FrameTooLarge { declared, max } => FrameError::TooLarge { declared, max },
        DecodeError::Incomplete { .. } => FrameError::Invalid("incomplete"),
        DecodeError::RecursionLimit { .. } => FrameError::Invalid("nested too deeply"),
        DecodeError::LengthOverrun { .. } => FrameError::Invalid("a length overruns the frame"),
        DecodeError::Malformed(_) => FrameError::Invalid("not the CBOR of the expected type"),
        DecodeError::TrailingBytes { .. } => FrameError::Invalid("bytes after the value"),
    };
    frame_error.into()
}

impl<Req, Resp> libp2p::request_response::Codec for CborCodec<Req, Resp>
where
    Req: Serialize + DeserializeOwned + Send,
    Resp: Serialize + DeserializeOwned + Send,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, &self.limits).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Resp>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, &self.limits).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Req,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, request, &self.limits).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Resp,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, response, &self.limits).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;

    fn frame_error(e: &io::Error) -> Option<&FrameError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<FrameError>())
    }

    fn protocol() -> StreamProtocol {
        StreamProtocol::new(ochat_protocol::wire::HANDSHAKE_PROTOCOL)
    }

    #[tokio::test]
    async fn a_response_survives_a_round_trip() {
        let mut codec = HandshakeCodec::new(Limits::default());
        let mut wire = Cursor::new(Vec::new());
        let sent = HandshakeResponse::Stored;
        codec
            .write_response(&protocol(), &mut wire, sent.clone())
            .await
            .unwrap();
        wire.set_position(0);
        let read = codec.read_response(&protocol(), &mut wire).await.unwrap();
        assert_eq!(read, sent);
    }

    #[tokio::test]
    async fn an_oversized_header_is_refused_before_the_body_is_read() {
        let limits = Limits::new(16, 8);
        // The header declares 1 MiB; the body that follows is never read.
        let mut bytes = (1u32 << 20).to_be_bytes().to_vec();
        bytes.extend([0u8; 32]);
        let mut wire = Cursor::new(bytes);
        let err = read_frame::<_, String>(&mut wire, &limits)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            frame_error(&err),
            Some(&FrameError::TooLarge {
                declared: 1 << 20,
                max: 16
            })
        );
        assert_eq!(wire.position(), FRAME_HEADER_LEN as u64);
    }

    #[tokio::test]
    async fn a_truncated_body_is_an_unexpected_end() {
        let limits = Limits::default();
        let mut frame = codec::encode_frame(&"hello there", &limits).unwrap();
        frame.truncate(frame.len() - 3);
        let err = read_frame::<_, String>(&mut Cursor::new(frame), &limits)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::Truncated {
                got: 9,
                declared: 12
            })
        ));
    }

    #[tokio::test]
    async fn garbage_is_invalid_data_and_the_error_does_not_quote_it() {
        let limits = Limits::default();
        let frame = codec::encode_frame(&"secret-looking text", &limits).unwrap();
        let err = read_frame::<_, u64>(&mut Cursor::new(frame), &limits)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn a_sender_refuses_a_value_over_its_own_limit() {
        let mut codec = CborCodec::<String, String>::new(Limits::new(8, 8));
        let mut wire = Cursor::new(Vec::new());
        let err = codec
            .write_request(&protocol(), &mut wire, "far too long for eight".into())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(wire.get_ref().is_empty());
    }
}
