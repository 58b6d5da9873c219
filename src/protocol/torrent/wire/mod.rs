//! The BitTorrent peer wire as a pure codec: bytes in, messages out, and
//! messages into bytes. Nothing here touches a socket or a clock; the
//! per-peer component drives it.
//!
//! * [`Handshake`]: the 68-byte opening (BEP 3), with the reserved bits
//!   for the fast extension (BEP 6, byte 7 `0x04`) and the extension
//!   protocol (BEP 10, byte 5 `0x10`); the DHT bit is left clear.
//! * [`Decoder`]: a stream decoder. Bytes are pushed in at any boundary
//!   (or read straight into its buffer), messages come out: every BEP 3
//!   message, BEP 6's suggest, have-all, have-none, reject and
//!   allowed-fast, and BEP 10's extended message. A `piece` block is
//!   handed out as a [`bytes::Bytes`] cut from the read buffer: no copy,
//!   and no allocation once the buffers exist.
//! * [`encode`]: any [`Message`] into a `BytesMut`, nothing allocated
//!   when the buffer has room.
//! * [`ExtHandshake`]: BEP 10's handshake dictionary (`m`,
//!   `metadata_size`, `reqq`, `v`, `p`, `yourip`), built and read.
//! * [`MetadataMsg`], [`MetadataAssembler`], [`serve_metadata`]: BEP 9's
//!   `ut_metadata`, the messages, the fetching side (which piece next, the
//!   pieces put together, the SHA-1 checked against the info-hash) and the
//!   serving side.
//!
//! # Limits, and why
//!
//! Every length prefix is checked before a byte of its message is
//! buffered, so a 4 GiB prefix is an error at once, never an allocation:
//!
//! | message | largest accepted | why |
//! |---|---|---|
//! | `piece` | 9 + [`Limits::max_block`] (default 16 KiB) | we only request 16 KiB blocks, so a larger one was never asked for; libtorrent refuses requests over 16 KiB, so no client relies on more |
//! | `bitfield` | 1 + the torrent's bitfield bytes, exactly | once the piece count is known ([`Limits::piece_count`]); before (a magnet link) at most what an info dictionary of [`MAX_METADATA_SIZE`] could describe |
//! | `extended` | [`Limits::max_extended`] (default 128 KiB) | the largest real one is a `ut_metadata` data message, 16 KiB and a short dictionary; PEX and handshakes are smaller |
//! | the rest | their fixed sizes | a `have` of length 6 is an error, not a guess |
//!
//! A connection's decoder buffers at most one message of those sizes plus
//! one read, so memory per peer is bounded.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use kamaelia::protocol::torrent::pieces::BlockRef;
//! use kamaelia::protocol::torrent::wire::{encode, Decoder, Handshake, Limits, Message};
//!
//! let mut out = BytesMut::new();
//! Handshake::new([1; 20], [2; 20]).encode(&mut out);
//! let want = BlockRef { piece: 3, offset: 16_384, len: 16_384 };
//! encode(&Message::Request(want), &mut out).unwrap();
//!
//! let mut d = Decoder::new(Limits::default());
//! d.push(&out[..30]); // any boundary
//! assert_eq!(d.take_handshake().unwrap(), None);
//! d.push(&out[30..]);
//! let hs = d.take_handshake().unwrap().unwrap();
//! assert!(hs.supports_fast() && hs.supports_extensions());
//! assert_eq!(d.next().unwrap(), Some(Message::Request(want)));
//! assert_eq!(d.next().unwrap(), None);
//! ```

mod assembler;
mod decoder;
mod error;
mod extension;
mod handshake;
mod message;
mod metadata;

pub use assembler::{serve_metadata, MetadataAssembler, MetadataProgress, MAX_METADATA_SIZE};
pub use decoder::{Decoder, Limits, ReadUninit, DEFAULT_READ_CHUNK, DEFAULT_SPARE_BUFFERS};
pub use error::{ExtError, MetadataError, RequestError, WireError};
pub use extension::ExtHandshake;
pub use handshake::{Handshake, HANDSHAKE_LEN, PROTOCOL};
pub use message::{check_request, encode, encode_piece_header, Message, MessageId};
pub use metadata::{encode_metadata, MetadataMsg, METADATA_PIECE_SIZE};

/// The extension message id of the BEP 10 handshake.
pub const EXT_HANDSHAKE_ID: u8 = 0;

/// The name `ut_metadata` goes by in the `m` dictionary.
pub const UT_METADATA: &str = "ut_metadata";
