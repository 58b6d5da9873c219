//! Heap allocations per request of an `HttpServer` answering a fixed route
//! ([`Router::fixed`]) on one keep-alive connection over a real loopback
//! socket, in steady state. (One test in this binary: its counting
//! allocator counts every thread.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kamaelia::axon::Scheduler;
use kamaelia::protocol::http::{Fixed, HttpServer, Router, ServerConfig};

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

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: allocs\r\nAccept: */*\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nhello\n";

#[test]
fn steady_state_requests_to_a_fixed_route_allocate_nothing() {
    let router = Router::new().fixed("/", Fixed::text(200, "hello\n"));
    let config = ServerConfig {
        date: false,
        ..ServerConfig::default()
    };
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), router, config).unwrap();
    let addr = server.local_addr().unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    s.run_until_idle();
    let mut peer = TcpStream::connect(addr).unwrap();
    peer.set_nonblocking(true).unwrap();
    peer.set_nodelay(true).unwrap();
    let mut buf = [0u8; 1024];

    // One request, its whole response read back and compared.
    let mut one = |s: &mut Scheduler| {
        peer.write_all(REQUEST).unwrap();
        let mut got = 0;
        for _ in 0..10_000 {
            s.run_until_idle();
            loop {
                match peer.read(&mut buf[got..]) {
                    Ok(0) => panic!("the server closed the connection"),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            if got >= RESPONSE.len() {
                assert_eq!(&buf[..got], RESPONSE);
                return;
            }
            assert!(s.wait_for_wake(LIMIT), "nothing woke the scheduler");
        }
        panic!("no whole response");
    };

    for _ in 0..200 {
        one(&mut s);
    }
    const N: u64 = 2_000;
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..N {
        one(&mut s);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(allocs, 0, "{allocs} allocations for {N} requests");
}
