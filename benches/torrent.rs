//! Benchmarks of the BitTorrent parts (issue 12). Run with
//! `cargo bench --bench torrent`; `BENCH_QUICK=1` makes a run of a few
//! seconds; `BENCH_ROWS=sha1_pieces,...` runs only those rows. Every
//! measurement is one JSON line on stdout. Each part's rows live in a file
//! of their own under `benches/torrent_bench/`.
//!
//! * `hash.rs` (`sha1_pieces`, `maker_file`): SHA-1 piece hashing MB/s and
//!   the whole torrent maker on a file against `mktorrent`.

mod common;
#[path = "torrent_bench/hash.rs"]
mod hash;

fn main() {
    hash::run();
}
