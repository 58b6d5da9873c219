//! How often a connection reads its socket: a `TcpClient` over a real
//! loopback socket whose transport counts every read that reaches the
//! socket (each one a `recv` call); when a listener calls `accept`; and
//! the round-trip time a TCP transport reads from the kernel.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Step};
use kamaelia::internet::{
    Acceptor, TcpAcceptor, TcpClient, TcpTransport, Transport, DEFAULT_BACKLOG,
};

/// Counts reads that reach the socket and those that would block.
#[derive(Default)]
struct Counts {
    reads: Cell<usize>,
    blocked: Cell<usize>,
}

/// A real TCP transport, counting its reads.
struct Counting {
    inner: TcpTransport,
    counts: Rc<Counts>,
}

impl Counting {
    fn count<T>(&self, r: &io::Result<T>) {
        self.counts.reads.set(self.counts.reads.get() + 1);
        if matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.counts.blocked.set(self.counts.blocked.get() + 1);
        }
    }
}

impl Transport for Counting {
    fn register(&mut self, cx: &mut Cx) -> io::Result<()> {
        self.inner.register(cx)
    }
    fn deregister(&mut self, cx: &mut Cx) {
        self.inner.deregister(cx)
    }
    fn poll_connect(&mut self, cx: &mut Cx) -> io::Result<bool> {
        self.inner.poll_connect(cx)
    }
    fn read(&mut self, cx: &mut Cx, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(cx, buf);
        self.count(&r);
        r
    }
    fn read_chunk(&mut self, cx: &mut Cx, max: usize) -> io::Result<Option<Bytes>> {
        let r = self.inner.read_chunk(cx, max);
        self.count(&r);
        r
    }
    fn read_ready(&mut self, cx: &mut Cx) -> bool {
        self.inner.read_ready(cx)
    }
    fn write(&mut self, cx: &mut Cx, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(cx, buf)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.inner.shutdown_write()
    }
    fn peer(&self) -> Option<SocketAddr> {
        self.inner.peer()
    }
    fn local(&self) -> Option<SocketAddr> {
        self.inner.local()
    }
}

const LIMIT: Duration = Duration::from_secs(5);

/// Runs the scheduler until `done` holds, waiting in the poll between
/// passes; panics if a wait of `LIMIT` brings nothing.
fn run_until(s: &mut Scheduler, mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        s.run_until_idle();
        if done() {
            return;
        }
        assert!(s.wait_for_wake(LIMIT), "nothing woke the scheduler");
    }
    panic!("not done after 10,000 passes");
}

/// Round trips on one connection: each reply the peer sends is read once
/// (a read shorter than its room took everything queued, so no read that
/// would block follows it); writing the answer, and being woken by
/// anything but readiness, reads nothing.
#[test]
fn a_round_trip_reads_the_socket_once_and_a_write_reads_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Rc::new(Counts::default());
    let c = counts.clone();
    let client = TcpClient::to_addr(addr).with_connector(Box::new(move |a| {
        let stream = mio::net::TcpStream::connect(a)?;
        Ok(Box::new(Counting {
            inner: TcpTransport::new(stream, true),
            counts: c.clone(),
        }) as Box<dyn Transport>)
    }));
    let got: Inbox<Bytes> = Inbox::inbox();
    let say: Outbox<Bytes> = Outbox::new("say", "to the peer");
    link(&client.outbox, &got).unwrap();
    link(&say, &client.inbox).unwrap();
    let mut s = Scheduler::new();
    let id = s.spawn(client);
    s.run_until_idle();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    // Connected: its first read found nothing. (Counted from here on.)
    run_until(&mut s, || counts.blocked.get() >= 1);
    let (reads0, blocked0) = (counts.reads.get(), counts.blocked.get());

    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        let msg: Vec<u8> = (0..64).map(|i| (round * 3 + i) as u8).collect();
        peer.write_all(&msg).unwrap();
        let mut seen = Vec::new();
        run_until(&mut s, || {
            while let Some(b) = got.recv() {
                seen.extend_from_slice(&b);
            }
            seen.len() >= msg.len()
        });
        assert_eq!(seen, msg, "round {round}");
        let answer: Vec<u8> = msg.iter().rev().copied().collect();
        say.send(Bytes::from(answer.clone())).unwrap();
        s.run_until_idle();
        let mut back = vec![0u8; answer.len()];
        peer.read_exact(&mut back).unwrap();
        assert_eq!(back, answer, "round {round}");
        assert_eq!(
            (counts.reads.get(), counts.blocked.get()),
            (reads0 + round + 1, blocked0),
            "reads after round {round}"
        );
    }
    // The peer closes: one more read, the end of stream, and the client ends.
    drop(peer);
    let mut passes = 0;
    while s.is_alive(id) {
        passes += 1;
        assert!(passes < 1000, "the client did not end");
        if !s.wait_for_wake(LIMIT) {
            panic!("nothing woke the scheduler");
        }
        s.run_until_idle();
    }
    assert_eq!(
        (counts.reads.get(), counts.blocked.get()),
        (reads0 + ROUNDS + 1, blocked0)
    );
}

/// Data and the peer's close reported by one readiness event: the short
/// read that takes the data must not count the socket drained, or the end
/// would never be read (the close brings no further event).
#[test]
fn data_and_close_together_still_reach_the_end() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Rc::new(Counts::default());
    let c = counts.clone();
    let client = TcpClient::to_addr(addr).with_connector(Box::new(move |a| {
        let stream = mio::net::TcpStream::connect(a)?;
        Ok(Box::new(Counting {
            inner: TcpTransport::new(stream, true),
            counts: c.clone(),
        }) as Box<dyn Transport>)
    }));
    let got: Inbox<Bytes> = Inbox::inbox();
    link(&client.outbox, &got).unwrap();
    let mut s = Scheduler::new();
    let id = s.spawn(client);
    s.run_until_idle();
    let (mut peer, _) = listener.accept().unwrap();
    // Connected, and its first read found nothing: the socket is drained.
    run_until(&mut s, || counts.blocked.get() >= 1);
    // Loopback queues both before `write` and `shutdown` return, and the
    // scheduler (this thread) polls only afterwards: one event for both.
    let msg = vec![7u8; 100];
    peer.write_all(&msg).unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut seen = Vec::new();
    let mut passes = 0;
    while s.is_alive(id) {
        passes += 1;
        assert!(passes < 1000, "the client did not end");
        if !s.wait_for_wake(LIMIT) {
            panic!("nothing woke the scheduler: the end was never read");
        }
        s.run_until_idle();
    }
    while let Some(b) = got.recv() {
        seen.extend_from_slice(&b);
    }
    assert_eq!(seen, msg);
}

#[test]
fn a_tcp_transport_knows_its_round_trip_once_connected() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = mio::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let t = TcpTransport::new(stream, true);
    // Linux's TCP_INFO: the handshake gave a sample, well under a
    // millisecond on loopback (the client calls such a peer near).
    if cfg!(target_os = "linux") {
        let rtt = t.round_trip().expect("TCP_INFO gives the round trip");
        assert!(rtt < std::time::Duration::from_millis(1), "{rtt:?}");
    } else {
        assert_eq!(t.round_trip(), None);
    }
}

/// Accepts on every step, as the torrent client does; in its second step
/// it also connects to itself between two accepts.
struct AcceptEveryStep {
    acceptor: TcpAcceptor,
    /// Per step: connections the accepts of that step took.
    taken: Rc<std::cell::RefCell<Vec<usize>>>,
    /// The connections made, kept open.
    clients: Vec<std::net::TcpStream>,
}

impl AcceptEveryStep {
    fn take_all(&mut self, cx: &mut Cx) -> usize {
        let mut n = 0;
        while self.acceptor.accept(cx).unwrap().is_some() {
            n += 1;
        }
        n
    }
}

impl Component for AcceptEveryStep {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let step = self.taken.borrow().len() + 1;
        if step == 1 {
            self.acceptor.register(cx).unwrap();
        }
        let mut n = self.take_all(cx);
        if step == 2 {
            // The kernel queues this connection at once (loopback, a
            // listening socket), but the poll has not seen it yet.
            let addr = self.acceptor.local_addr().unwrap();
            self.clients
                .push(std::net::TcpStream::connect(addr).unwrap());
            n += self.take_all(cx);
        }
        self.taken.borrow_mut().push(n);
        if self.taken.borrow().iter().sum::<usize>() == 3 {
            self.acceptor.close(cx);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

/// An `accept` that would block marks the listener drained: later steps
/// do not call `accept` again (each failed call makes and frees a socket
/// in the kernel) until the poll reports a connection. Shown by a
/// connection queued in the kernel after a failed accept, in the same
/// step: the second accept does not reach the kernel, so it does not see
/// it; the poll's report does, and nothing is lost.
#[test]
fn a_listener_accepts_only_after_the_poll_reports_a_connection() {
    let acceptor = TcpAcceptor::bind("127.0.0.1:0".parse().unwrap(), DEFAULT_BACKLOG).unwrap();
    let addr = acceptor.local_addr().unwrap();
    let taken = Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut s = Scheduler::new();
    let id = s.spawn(AcceptEveryStep {
        acceptor,
        taken: taken.clone(),
        clients: Vec::new(),
    });
    s.run_until_idle();
    assert_eq!(*taken.borrow(), [0], "nothing to accept yet");
    // Two connections from outside: the poll reports them, one step takes both.
    let _a = std::net::TcpStream::connect(addr).unwrap();
    let _b = std::net::TcpStream::connect(addr).unwrap();
    run_until(&mut s, || taken.borrow().len() >= 2);
    assert_eq!(taken.borrow()[1], 2, "both, and not the one made in step 2");
    // The connection made in step 2 after its failed accept: taken in the
    // step its readiness wakes.
    run_until(&mut s, || taken.borrow().iter().sum::<usize>() == 3);
    assert_eq!(*taken.borrow(), [0, 2, 1]);
    s.run_until_idle();
    assert!(!s.is_alive(id), "it ends once it has all three");
}
