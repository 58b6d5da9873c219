//! Benchmarks of the BitTorrent parts (issue 12). Run with
//! `cargo bench --bench torrent`; `BENCH_QUICK=1` makes a run of a few
//! seconds; `BENCH_ROWS=a,b` runs only those rows. Every measurement is one
//! JSON line on stdout. Each part's rows live in a file of their own under
//! `benches/torrent_bench/`:
//!
//! * `hash.rs` (`sha1_pieces`, `maker_file`): SHA-1 piece hashing MB/s and
//!   the whole torrent maker on a file against `mktorrent`;
//! * `storage.rs` (`storage_write`): writing verified pieces to a file,
//!   one `pwritev` per piece against one `pwrite` per block;
//! * `floor.rs` (`torrent_cpu_floor`): the least CPU a downloaded GiB
//!   costs this machine (SHA-1, the tmpfs write, loopback TCP), and the
//!   rate all its cores could reach spending nothing else;
//! * `bencode.rs` (`bencode_decode_lenient`, `bencode_decode_strict`,
//!   `metainfo_from_bytes`, `bendy_value`, `bendy_tokens`): decoding a
//!   10 MB metainfo, ours against `bendy` in the same run;
//! * `tracker.rs`: HTTP tracker announces per second, ours against
//!   opentracker in the same run (`tracker_http`), and instructions per
//!   announce under callgrind (`tracker_http_instr`); the same over UDP
//!   (`tracker_udp`, `tracker_udp_instr`, load client in
//!   `tracker_udp.rs`).
//! * `client.rs` (`torrent_seed_one`, `torrent_seed_four`,
//!   `torrent_cold_start`, `torrent_rss`, `torrent_libtorrent_pair`): the
//!   `kamaelia` binary's `seed` and `get` (and `tracker`) as processes on
//!   loopback, data on tmpfs: MB/s one to one and one to four, a small
//!   torrent's start to finish, the downloader's peak RSS, and the same
//!   transfer between two libtorrent processes (issue 13); with
//!   `plain_four.rs`, the four-downloader row's work done by the plainest
//!   threaded program, run beside that row.

#[path = "torrent_bench/bencode.rs"]
mod bencode;
#[path = "torrent_bench/client.rs"]
mod client;
mod common;
#[path = "torrent_bench/floor.rs"]
mod floor;
#[path = "torrent_bench/hash.rs"]
mod hash;
// Only the process helpers are used here, not its re-exports.
#[allow(unused_imports)]
#[path = "http_procs/mod.rs"]
mod http_procs;
#[path = "torrent_bench/storage.rs"]
mod storage;
#[path = "torrent_bench/tracker.rs"]
mod tracker;
#[path = "torrent_bench/tracker_udp.rs"]
mod tracker_udp;

fn main() {
    // A re-run of this binary playing one of the bench's processes.
    if tracker::run_role() {
        return;
    }
    hash::run();
    storage::run();
    let ceiling = floor::run();
    bencode::run();
    tracker::run();
    client::run(ceiling);
}
