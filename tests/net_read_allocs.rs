//! Heap allocations per read of a `TcpClient` over a real loopback socket,
//! in steady state: none. (One test in this binary: its counting
//! allocator counts every thread.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, Inbox, Scheduler};
use kamaelia::internet::TcpClient;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

const LIMIT: Duration = Duration::from_secs(5);

/// 64-byte messages, each read on its own (the peer sends the next once
/// the last has been read and dropped): after a warm-up, reading them
/// allocates nothing.
#[test]
fn steady_state_reads_allocate_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::to_addr(listener.local_addr().unwrap());
    let got: Inbox<Bytes> = Inbox::inbox();
    link(&client.outbox, &got).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    s.run_until_idle();
    let (mut peer, _) = listener.accept().unwrap();

    // Runs until `want` bytes have come out, each checked against the
    // pattern; returns the number of chunks (reads that got data).
    let pump = |s: &mut Scheduler, want: usize, seed: u8| -> usize {
        let (mut seen, mut chunks) = (0usize, 0usize);
        for _ in 0..100_000 {
            s.run_until_idle();
            while let Some(b) = got.recv() {
                for (i, &x) in b.iter().enumerate() {
                    assert_eq!(x, seed.wrapping_add((seen + i) as u8), "byte {}", seen + i);
                }
                seen += b.len();
                chunks += 1;
            }
            if seen >= want {
                assert_eq!(seen, want);
                return chunks;
            }
            assert!(s.wait_for_wake(LIMIT), "nothing woke the scheduler");
        }
        panic!("{seen} of {want} bytes");
    };

    let mut small = [0u8; 64];
    let mut rounds = |s: &mut Scheduler, n: usize| -> usize {
        let mut reads = 0;
        for r in 0..n {
            let seed = (r * 64) as u8;
            for (i, b) in small.iter_mut().enumerate() {
                *b = seed.wrapping_add(i as u8);
            }
            peer.write_all(&small).unwrap();
            reads += pump(s, small.len(), seed);
        }
        reads
    };
    rounds(&mut s, 2_000); // warm-up: the read buffer goes round once at least
    let before = ALLOCS.load(Ordering::Relaxed);
    let reads = rounds(&mut s, 3_000);
    let small_allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(reads, 3_000, "one read per message");
    assert_eq!(small_allocs, 0, "allocations over {reads} small reads");
}
