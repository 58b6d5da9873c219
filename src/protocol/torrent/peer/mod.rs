//! One peer connection's BitTorrent protocol as a pure state machine: the
//! `TorrentClient` component keeps one [`PeerSession`] per connection
//! in its table (as
//! [`HttpTrackerServer`](crate::protocol::torrent::tracker::http_direct)
//! keeps its HTTP connections) and moves bytes between it and the
//! socket. No socket, no clock, no component here: bytes in
//! ([`on_bytes`](PeerSession::on_bytes)), time in
//! ([`on_tick`](PeerSession::on_tick)), bytes out
//! ([`output_mut`](PeerSession::output_mut), an [`OutQueue`]), [`PeerEvent`]s out
//! ([`poll_event`](PeerSession::poll_event)). Tests drive it step by step
//! on virtual time, two sessions back to back.
//!
//! # The owner's loop
//!
//! | the owner | the session |
//! |---|---|
//! | `PeerSession::new(our_id, info_hash, layout, our_have, config, now)` | writes our handshake |
//! | socket readable: `read_from(&mut reader, max, now)` (straight into the decoder) or `on_bytes(&buf[..n], now)`; stream ended: `on_eof()` | decodes; the handshake first (wrong info-hash or our own id: `Disconnect`), then sends our bitfield (or BEP 6 have-all/none) and BEP 10 handshake |
//! | timer: `on_tick(now)` at `next_deadline()` | keep-alive after 2 min of our silence, `Idle` after 3 min of the peer's, snub after 60 s without a block, a request back after 30 s |
//! | `poll_event()` until `None` | [`PeerEvent`]: `Bitfield`/`Have`/`HaveAll`/`HaveNone` (feed the `Picker` with `peer_has()`), `Unchoked`/`Choked` (without BEP 6, `Picker::on_peer_choked`), `Returned(block)` (reject or time-out: `Picker::on_request_cancelled`), `Block{block, data, late}` (to `Picker::on_block_received` and `PieceBuffers`), `Interest`, `Snubbed`, `Metadata`, `Disconnect(reason)` (last: `Picker::on_peer_gone`) |
//! | `set_interested(Picker::is_interesting(peer_has()))` | |
//! | `let n = wants_requests(); picker.pick_into(key, peer_has(), n, &mut v); let took = request(&v);` (return `v[took..]`) | pipelines up to the depth the peer's rate calls for |
//! | `cancel(block)` (endgame), `send_have(piece)`, `choke()`, `unchoke()`, `allow_fast(piece)` | a fast peer's cancel is answered with a `reject` (BEP 6); its reject of our cancel is final |
//! | `while let Some(r) = pop_upload() { read r; send_block_bytes(r, data) }` (or `send_block(r, &data)`, which copies) | the peer's requests, served only while unchoked (or allowed fast) and while less than `upload_window` is unsent |
//! | write `output().slices(..)` to the socket (one `writev`), `output_mut().advance(n)` by what went | the output is an [`OutQueue`]: small messages in one buffer, blocks given as `Bytes` queued as they are |
//! | a piece failed its hash and `Picker::on_piece_failed` named it: `ban()` | `Disconnect(BadData)` |
//!
//! The peer's requests are pulled ([`pop_upload`](PeerSession::pop_upload)),
//! not pushed as events: the owner asks when its upload rate limit and
//! the socket allow, the session holds at most `our_reqq` of them, and a
//! request cancelled or choked before its block was read is dropped in
//! [`send_block`](PeerSession::send_block).
//!
//! # Pipelining
//!
//! Requests in flight start at `initial_requests` (4) and grow by one per
//! block that comes (slow start: doubling each round trip) while the
//! peer's rate, measured over 4 s, calls for more: `rate * pipeline_time
//! (2 s) / 16 KiB`, at least `min_requests` (2), at most the smaller of
//! `max_requests` (250) and the peer's `reqq`. Answered at once (loopback)
//! the depth goes 4, 8, 16, 32, 64, 128, 250 over six round trips; a peer
//! sending 16 KiB a second keeps 2, one sending 64 KiB a second 8
//! (tests/torrent_peer_timers.rs). A snubbed peer keeps one. A near peer
//! (its round trip, given by the owner with `set_round_trip`, under 1 ms)
//! is capped at `near_max_requests` (32) or 4 ms of its rate, whichever is
//! more: it answers at once, and deeper pipelines only fill memory.
//!
//! # How it ends
//!
//! Not a component, so no boxes: it ends with one
//! `PeerEvent::Disconnect(reason)`, always the last event, after which it
//! reads, says and serves nothing more. The owner closes the socket (the
//! output may be dropped) and calls `Picker::on_peer_gone`.
//!
//! # Hostile peers
//!
//! Each rule ends the session with a typed [`DisconnectReason`]. (A
//! second bitfield is not one: aria2c sends its bitfield again as it gets
//! pieces; what it adds is taken as haves.)
//!
//! | the peer | reason |
//! |---|---|
//! | handshake for another torrent / with our peer id | `WrongInfoHash` / `OwnPeerId` |
//! | a bad handshake, oversize length prefix, unknown id, bitfield of the wrong length or with spare bits | `Wire(WireError)` |
//! | `have` past the last piece | `HaveOutOfRange` |
//! | a BEP 6 or BEP 10 message not negotiated in the handshakes | `NotNegotiated` |
//! | a request outside the torrent or over 16 KiB | `BadRequest` |
//! | requests while choked or for pieces we lack: a BEP 6 peer gets `reject`s; another is dropped past `max_unservable` (requests within `choke_grace` of our choke crossed it and do not count) | `UnservableRequests` |
//! | more requests outstanding than our `reqq` | `TooManyRequests` |
//! | pieces not requested (a block we cancelled is given to the owner as `late`) past `max_unsolicited` | `UnsolicitedPieces` |
//! | a bad extension handshake / `ut_metadata` message | `BadExtHandshake` / `BadMetadata` |
//! | stops reading: more than `max_output` unsent | `NotReading` |
//! | silent for `idle_timeout`; no handshake within `handshake_timeout` | `Idle` / `HandshakeTimeout` |
//! | sent a piece that failed its hash (the owner calls `ban()`) | `BadData` |
//! | closed the connection inside a message / between messages (`on_eof()`) | `Wire(Truncated)` / `PeerClosed` |
//!
//! # Memory per peer
//!
//! | buffer | bound |
//! |---|---|
//! | decoder read buffer | one largest message plus one read: 64 KiB chunks (a bitfield of a huge torrent may make it up to 52 KiB more) |
//! | decoder set-aside buffers (blocks the owner still holds) | `min(piece_length / 64 KiB + 2, 8)` × 64 KiB |
//! | output | `max_output` (1 MiB) then `NotReading`; uploads stop at `upload_window` (256 KiB) |
//! | our requests in flight, cancelled ring | `max_requests` (250) × 12 bytes each |
//! | the peer's requests | `our_reqq` (250) × 12 bytes |
//! | events | what one `on_bytes` decodes (its bytes over 5 at most; bounded by the read size); drain after each call |
//! | bitfields (ours and the peer's) | pieces / 8 bytes each |
//! | allowed-fast sets | 64 pieces each |
//!
//! Nothing is allocated per block in steady state: blocks are cut from
//! the decoder's buffer, requests and events live in queues that keep
//! their capacity, and `send_block` copies into the output buffer
//! (`send_block_bytes` queues the block's `Bytes` instead: the client
//! writes blocks to the socket from the buffer the disk read them into)
//! (tests/torrent_peer.rs counts allocations: none over 5,000 blocks after
//! a warm-up). Two sessions back to back in memory move 1 GiB of blocks
//! in 0.12 s in a release build (9.3 GB/s; the ignored test in
//! tests/torrent_peer_pair.rs prints it).
//!
//! Not handled here: a magnet link's peers before the metadata (the
//! session needs the layout); PEX and other extensions are ignored.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use kamaelia::protocol::torrent::peer::{PeerConfig, PeerEvent, PeerSession};
//! use kamaelia::protocol::torrent::pieces::{Bitfield, Layout};
//! let now = Instant::now();
//! let layout = Layout::new(32_768, 16_384).unwrap();
//! let mut seed = PeerSession::new([1; 20], [9; 20], layout, Bitfield::full(2), PeerConfig::default(), now);
//! let mut leech = PeerSession::new([2; 20], [9; 20], layout, Bitfield::new(2), PeerConfig::default(), now);
//! let pump = |a: &mut PeerSession, b: &mut PeerSession| {
//!     let bytes = a.take_output();
//!     b.on_bytes(&bytes, now);
//! };
//! pump(&mut seed, &mut leech);
//! pump(&mut leech, &mut seed);
//! pump(&mut seed, &mut leech);
//! assert!(matches!(leech.poll_event(), Some(PeerEvent::HandshakeDone { fast: true, .. })));
//! assert_eq!(leech.poll_event(), Some(PeerEvent::HaveAll));
//! leech.set_interested(true);
//! pump(&mut leech, &mut seed);
//! seed.unchoke();
//! pump(&mut seed, &mut leech);
//! let block = layout.block(1, 0).unwrap();
//! assert_eq!(leech.request(&[block]), 1);
//! pump(&mut leech, &mut seed);
//! let asked = seed.pop_upload().unwrap();
//! assert!(seed.send_block(asked, &[7; 16_384]));
//! pump(&mut seed, &mut leech);
//! let got = std::iter::from_fn(|| leech.poll_event())
//!     .find_map(|e| match e { PeerEvent::Block { block, data, .. } => Some((block, data)), _ => None });
//! assert_eq!(got.unwrap().0, block);
//! ```

mod incoming;
mod out_queue;
mod session;
mod timers;
mod types;

pub use out_queue::OutQueue;
pub use session::PeerSession;
pub use types::{DisconnectReason, PeerConfig, PeerEvent, OUR_UT_METADATA_ID};
