//! A partner's stopped node taken over by the test (issue 33, protocol hardening): its identity
//! key, its channel's conversation and a copy of its ratchet state, so a test can seal messages
//! exactly as that node would (or as a restored backup of it would) and deliver them over a
//! real libp2p connection; and reading or rewinding a stopped node's channel ratchet.
//! Used by `tests/tests/protocol_hardening.rs`.

use anyhow::{Context, Result, bail};
use libp2p::{Multiaddr, PeerId};
use ochat_node::model::ConnectionRecord;
use ochat_node::network::{self, NetworkConfig, NetworkHandle};
use ochat_node::store::channels::Channels;
use ochat_node::store::connections::Connections;
use ochat_node::store::ratchets::{RatchetPickle, Ratchets};

use ochat_protocol::identity::InstanceId;
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageBatch, MessageResponse, WireMessage, associated_data,
};
use ochat_protocol::ratchet::Ratchet;
use reqwest::Method;
use uuid::Uuid;

use crate::node::{TestNode, open_stopped};

/// A stopped node's channel as the test now drives it.
pub struct Impostor {
    /// The network handle holding the node's identity key.
    pub net: NetworkHandle,
    /// The node's Instance UUID.
    pub sender: InstanceId,
    /// The channel's conversation (the handshake's request id).
    pub conversation: Uuid,
    /// The channel's ratchet state as the node stored it (restore it as often as you like).
    pub ratchet: RatchetPickle,
}

/// Reads the ratchet of channel `channel` of the stopped node in `dir`, as stored.
pub fn stopped_ratchet(dir: &std::path::Path, channel: &str) -> Result<RatchetPickle> {
    let (store, _) = open_stopped(dir)?;
    Ratchets::open(&store)?
        .pickle(channel.parse()?)?
        .context("no such channel")
}

/// Puts `ratchet` back as the ratchet of `channel` in the stopped node in `dir`, durably.
pub fn rewrite_ratchet(
    dir: &std::path::Path,
    channel: &str,
    ratchet: &RatchetPickle,
) -> Result<()> {
    let (store, _) = open_stopped(dir)?;
    Ratchets::open(&store)?.put_pickle(channel.parse()?, ratchet)?;
    store.flush_blocking()?;
    Ok(())
}

impl Impostor {
    /// Takes over channel `channel` of the stopped node in `dir`.
    pub async fn take_over(dir: &std::path::Path, channel: &str, uuid: &str) -> Result<Self> {
        let (ratchet, conversation, secret) = {
            let (store, data) = open_stopped(dir)?;
            let id: Uuid = channel.parse()?;
            let ch = Channels::open(&store)?
                .get(id)?
                .context("no such channel")?;
            let ratchet = Ratchets::open(&store)?.pickle(id)?.context("no ratchet")?;
            let conn: ConnectionRecord = Connections::open(&store)?
                .load(&ch.connection_id)?
                .context("no connection")?;
            (
                ratchet,
                conn.request_id,
                data.secrets.identity.secret_bytes(),
            )
        };
        let (net, _inbound) = network::start(
            &secret,
            NetworkConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
                ..NetworkConfig::default()
            },
        )
        .await?;
        Ok(Impostor {
            net,
            sender: uuid.parse()?,
            conversation,
            ratchet,
        })
    }

    /// A fresh copy of the ratchet state as it was taken over.
    pub fn restore(&self) -> Result<Ratchet> {
        Ok(self.ratchet.unpickle()?)
    }

    /// Seals `body` with `ratchet` as the node would, under a new message id.
    pub fn seal(&self, ratchet: &mut Ratchet, body: Body) -> Result<WireMessage> {
        let id = Uuid::now_v7();
        let content = Content {
            author: "impostor".into(),
            sent_at_ms: 1,
            body,
        };
        let plain = ochat_protocol::codec::encode_body(&content)?;
        let ad = associated_data(&self.conversation, &self.sender, &id);
        Ok(WireMessage {
            conversation: self.conversation,
            sender: self.sender,
            id,
            sealed: ratchet.seal(&plain, &ad)?,
        })
    }

    /// Delivers `messages` in one batch to `to` and returns its acknowledgements.
    pub async fn deliver(
        &self,
        to: &TestNode,
        messages: Vec<WireMessage>,
    ) -> Result<Vec<AckStatus>> {
        let (peer, addr) = where_is(to).await?;
        match self
            .net
            .deliver(peer, vec![addr], MessageBatch { messages })
            .await?
        {
            MessageResponse::Acks(acks) => Ok(acks.into_iter().map(|a| a.status).collect()),
            other => bail!("the batch was refused: {other:?}"),
        }
    }
}

/// A running node's peer id and first listening address.
async fn where_is(node: &TestNode) -> Result<(PeerId, Multiaddr)> {
    let me = node.ok(Method::GET, "/api/v1/instance", None).await?;
    let peer = me["peer_id"].as_str().context("no peer id")?.parse()?;
    let addr = me["addresses"][0].as_str().context("no address")?.parse()?;
    Ok((peer, addr))
}
