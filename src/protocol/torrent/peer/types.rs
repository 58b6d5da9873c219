//! What a [`PeerSession`](super::PeerSession) is configured with, what it
//! reports, and why it ends.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::torrent::pieces::BlockRef;
use crate::protocol::torrent::tracker::PeerId;
use crate::protocol::torrent::wire::{
    ExtError, MetadataError, MetadataMsg, RequestError, WireError,
};

/// The id we give `ut_metadata` in our extension handshake's `m`.
pub const OUR_UT_METADATA_ID: u8 = 2;

/// A session's limits and timers. The defaults are what real clients do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// Requests we keep in flight when a peer's rate is unknown yet.
    pub initial_requests: u32,
    /// Requests we keep in flight at least, however slow the peer.
    pub min_requests: u32,
    /// Requests we keep in flight at most (also capped by the peer's `reqq`).
    pub max_requests: u32,
    /// The pipeline holds this much of the peer's rate: `rate * pipeline_time
    /// / 16 KiB` requests.
    pub pipeline_time: Duration,
    /// Requests we keep in flight at most to a near peer (one whose round
    /// trip, [`set_round_trip`](super::PeerSession::set_round_trip), is
    /// under [`near_round_trip`](Self::near_round_trip)), unless more are
    /// needed to hold [`near_pipeline_time`](Self::near_pipeline_time) of
    /// its rate.
    pub near_max_requests: u32,
    /// A near peer's pipeline holds at least this much of its rate (up to
    /// `max_requests`).
    pub near_pipeline_time: Duration,
    /// A round trip shorter than this makes the peer near (same host or
    /// LAN).
    pub near_round_trip: Duration,
    /// Requests we queue from the peer (advertised as our `reqq`); more
    /// outstanding at once disconnects it.
    pub our_reqq: u32,
    /// A keep-alive is sent after this long without sending anything.
    pub keepalive_after: Duration,
    /// The peer is dropped after this long without a byte from it.
    pub idle_timeout: Duration,
    /// The peer is dropped if its handshake has not come by then.
    pub handshake_timeout: Duration,
    /// Requests out and no block for this long: the peer is snubbed.
    pub snub_after: Duration,
    /// Requests out and no block for this long: the oldest request goes
    /// back to the owner (one at a time, each after this long again).
    pub request_timeout: Duration,
    /// Pieces nobody asked for (nor cancelled lately) tolerated.
    pub max_unsolicited: u32,
    /// Requests we cannot serve (while choked, a piece we lack) tolerated
    /// from a peer without the fast extension, past the grace after a choke.
    pub max_unservable: u32,
    /// Requests that cross our `choke` on the wire: those arriving this
    /// long after it are dropped without counting.
    pub choke_grace: Duration,
    /// The largest block a peer may request or send.
    pub max_block: u32,
    /// Output held (unsent bytes plus blocks being read for the peer) past
    /// which [`pop_upload`](super::PeerSession::pop_upload) gives nothing.
    pub upload_window: usize,
    /// Unsent output past which the peer is dropped: it stopped reading.
    pub max_output: usize,
    /// Speak `ut_metadata` (BEP 9) in the extension handshake.
    pub ut_metadata: bool,
    /// The info dictionary's size, sent as `metadata_size` when known.
    pub metadata_size: Option<u64>,
    /// The `v` of our extension handshake.
    pub client_name: &'static str,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            initial_requests: 4,
            min_requests: 2,
            max_requests: 250,
            pipeline_time: Duration::from_secs(2),
            near_max_requests: 32,
            near_pipeline_time: Duration::from_millis(4),
            near_round_trip: Duration::from_millis(1),
            our_reqq: 250,
            keepalive_after: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(180),
            handshake_timeout: Duration::from_secs(30),
            snub_after: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_unsolicited: 8,
            max_unservable: 8,
            choke_grace: Duration::from_secs(10),
            max_block: crate::protocol::torrent::pieces::BLOCK_SIZE,
            upload_window: 256 * 1024,
            max_output: 1024 * 1024,
            ut_metadata: true,
            metadata_size: None,
            client_name: "kamaelia-rs",
        }
    }
}

/// What happened, for the owner (the torrent client) to act on. Events
/// that concern the peer's pieces carry nothing the session keeps:
/// [`peer_has`](super::PeerSession::peer_has) is the bitfield.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// The peer's handshake was right; ours and the opening messages went.
    HandshakeDone {
        /// The peer's id.
        peer_id: PeerId,
        /// Both sides speak the fast extension (BEP 6).
        fast: bool,
        /// Both sides speak the extension protocol (BEP 10).
        extended: bool,
    },
    /// The peer's extension handshake: see
    /// [`peer_ext`](super::PeerSession::peer_ext).
    ExtHandshake,
    /// The peer's bitfield: `Picker::on_bitfield` with `peer_has()`.
    Bitfield,
    /// The peer has every piece (BEP 6): `Picker::on_have_all`.
    HaveAll,
    /// The peer has none (BEP 6): `Picker::on_have_none`.
    HaveNone,
    /// The peer has a piece it did not have: `Picker::on_have`.
    Have(u32),
    /// The peer unchoked us: ask [`wants_requests`](super::PeerSession::wants_requests).
    Unchoked,
    /// The peer choked us. Without the fast extension every request out
    /// was dropped: `Picker::on_peer_choked`. With it, requests stay out
    /// until their block or a `Rejected` comes.
    Choked,
    /// The peer will not send this block (BEP 6 reject), or it timed out:
    /// `Picker::on_request_cancelled`, pick again.
    Returned(BlockRef),
    /// A block came.
    Block {
        /// Which.
        block: BlockRef,
        /// Its bytes, cut from the read buffer (no copy).
        data: Bytes,
        /// We had cancelled it (endgame, a time-out or a choke): the
        /// picker may still want it, but the peer was not asked for it.
        late: bool,
    },
    /// The peer wants our data (`true`) or no longer does (the choker).
    Interest(bool),
    /// No block for `snub_after` with requests out (`true`), or a block
    /// came again (`false`).
    Snubbed(bool),
    /// The peer suggests a piece (BEP 6).
    Suggest(u32),
    /// The peer lets us request this piece while choked (BEP 6).
    AllowedFast(u32),
    /// A `ut_metadata` message (BEP 9).
    Metadata(MetadataMsg),
    /// The session is over: close the connection. Always the last event.
    Disconnect(DisconnectReason),
}

/// Why a session ended. Each is a rule a peer broke, a timer, or the owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The decoder refused the bytes (bad handshake, an oversize length
    /// prefix, an unknown id, a bitfield of the wrong length or with spare
    /// bits set, ...).
    Wire(WireError),
    /// The handshake names another torrent.
    WrongInfoHash,
    /// The handshake carries our own peer id: we dialled ourselves.
    OwnPeerId,
    /// A `have` past the last piece.
    HaveOutOfRange(u32),
    /// A fast-extension (or extended) message on a connection that did
    /// not negotiate it; the message id.
    NotNegotiated(u8),
    /// A request outside the torrent or larger than we serve.
    BadRequest(RequestError),
    /// Too many requests we cannot serve (while choked, pieces we lack)
    /// from a peer without the fast extension.
    UnservableRequests,
    /// More requests outstanding than our `reqq`.
    TooManyRequests,
    /// Too many pieces nobody asked for.
    UnsolicitedPieces,
    /// An extension handshake that cannot be read.
    BadExtHandshake(ExtError),
    /// A `ut_metadata` message that cannot be read.
    BadMetadata(MetadataError),
    /// No handshake within `handshake_timeout`.
    HandshakeTimeout,
    /// Nothing from the peer within `idle_timeout`.
    Idle,
    /// More than `max_output` unsent: the peer stopped reading.
    NotReading,
    /// The owner banned the peer (a piece it sent failed its hash).
    BadData,
    /// The owner closed the session.
    Closed,
    /// The peer closed the connection between messages.
    PeerClosed,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DisconnectReason as D;
        match self {
            D::Wire(e) => write!(f, "{e}"),
            D::WrongInfoHash => write!(f, "handshake for another torrent"),
            D::OwnPeerId => write!(f, "connected to ourselves"),
            D::HaveOutOfRange(p) => write!(f, "have {p} past the last piece"),
            D::NotNegotiated(id) => write!(f, "message {id} not negotiated"),
            D::BadRequest(e) => write!(f, "{e}"),
            D::UnservableRequests => write!(f, "too many requests we cannot serve"),
            D::TooManyRequests => write!(f, "more requests than our reqq"),
            D::UnsolicitedPieces => write!(f, "too many unsolicited pieces"),
            D::BadExtHandshake(e) => write!(f, "{e}"),
            D::BadMetadata(e) => write!(f, "{e}"),
            D::HandshakeTimeout => write!(f, "no handshake in time"),
            D::Idle => write!(f, "peer silent too long"),
            D::NotReading => write!(f, "peer stopped reading"),
            D::BadData => write!(f, "banned: bad data"),
            D::Closed => write!(f, "closed"),
            D::PeerClosed => write!(f, "peer closed the connection"),
        }
    }
}
