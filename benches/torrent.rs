//! Benchmarks of the BitTorrent parts (issue 12). Run with
//! `cargo bench --bench torrent`; `BENCH_QUICK=1` makes a run of a few
//! seconds; `BENCH_ROWS=bencode_decode_lenient,...` runs only those rows.
//! Every measurement is one JSON line on stdout. Each part's rows live in a
//! file of their own under `benches/torrent_bench/`.
//!
//! * `bencode.rs` (`bencode_decode_lenient`, `bencode_decode_strict`,
//!   `metainfo_from_bytes`, `bendy_value`, `bendy_tokens`): decoding a
//!   10 MB metainfo, ours against `bendy` in the same run.

#[path = "torrent_bench/bencode.rs"]
mod bencode;
mod common;

fn main() {
    bencode::run();
}
