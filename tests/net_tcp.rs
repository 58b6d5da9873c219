//! TCP client and servers: real sockets on 127.0.0.1, and scripted
//! connections for what real sockets cannot show deterministically.

use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::*;
use kamaelia::internet::{
    EndReason, NetError, ServerCore, SingleServer, TcpClient, CONNECTION_INBOX,
};
use kamaelia::testing::scripted::{scripted_connector, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

/// Echoes bytes back; ends on any control signal (forwarding it).
///
/// | box     | carries  | meaning                  |
/// |---------|----------|--------------------------|
/// | inbox   | `Bytes`  | bytes from the client    |
/// | control | `Signal` | ends it                  |
/// | outbox  | `Bytes`  | the same bytes back      |
/// | signal  | `Signal` | the control signal       |
struct Echo(DefaultBoxes<Bytes, Bytes>, Option<Bytes>);

fn echo() -> Box<dyn Component> {
    Box::new(Echo(DefaultBoxes::new(), None))
}

impl Component for Echo {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.1.take().or_else(|| self.0.inbox.recv()) {
            if let Err(Full(b)) = self.0.outbox.send(b) {
                self.1 = Some(b);
                return Step::Pause;
            }
        }
        if let Some(s) = self.0.control.recv() {
            let _ = self.0.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.list(set)
    }
}

/// A safety net so a failing test ends: stops the whole system after `d`,
/// unless something arrives on its inbox first (the server's end signal,
/// which it passes on), in which case it just ends.
///
/// | box    | carries  | meaning                                  |
/// |--------|----------|------------------------------------------|
/// | inbox  | `Signal` | the server's end: passed on, then ends   |
/// | outbox | `Signal` | what arrived                             |
struct Deadline {
    inbox: Inbox<Signal>,
    outbox: Outbox<Signal>,
    after: Duration,
    armed: bool,
}

fn deadline(after: Duration) -> Deadline {
    Deadline {
        inbox: Inbox::inbox(),
        outbox: Outbox::outbox(),
        after,
        armed: false,
    }
}

impl Component for Deadline {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(s) = self.inbox.recv() {
            let _ = self.outbox.send(s);
            return Step::Done;
        }
        if !self.armed {
            self.armed = true;
            cx.wake_after(self.after);
            return Step::Pause;
        }
        // The time is up and nothing came: the test has hung.
        cx.stop_system();
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn net_error(sig: &Signal) -> NetError {
    match sig {
        Signal::Failed(f) => f.downcast_ref::<NetError>().expect("a NetError").clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Waits for `n` end signals (from clients), keeps them, then stops the
/// server (if linked) and ends.
///
/// | box     | carries  | meaning                            |
/// |---------|----------|------------------------------------|
/// | inbox   | `Signal` | clients' end signals               |
/// | outbox  | `Signal` | shutdown for the server            |
struct Watcher {
    inbox: Inbox<Signal>,
    outbox: Outbox<Signal>,
    want: usize,
    seen: std::rc::Rc<std::cell::RefCell<Vec<Signal>>>,
}

impl Component for Watcher {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(s) = self.inbox.recv() {
            self.seen.borrow_mut().push(s);
        }
        if self.seen.borrow().len() >= self.want {
            let _ = self.outbox.send(Signal::Shutdown);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

type Seen = std::rc::Rc<std::cell::RefCell<Vec<Signal>>>;

fn watcher(want: usize) -> (Watcher, Seen) {
    let seen = Seen::default();
    (
        Watcher {
            inbox: Inbox::inbox(),
            outbox: Outbox::outbox(),
            want,
            seen: seen.clone(),
        },
        seen,
    )
}

/// A client that sends `msg`, finishes, and collects what comes back.
fn client_for(port: u16, msg: &'static [u8]) -> (TcpClient, Inbox<Bytes>) {
    let client = TcpClient::new("127.0.0.1", port);
    let got: Inbox<Bytes> = Inbox::inbox();
    link(&client.outbox, &got).unwrap();
    let say: Outbox<Bytes> = Outbox::new("say", "to the server");
    let ctl: Outbox<Signal> = Outbox::new("ctl", "to the client");
    link(&say, &client.inbox).unwrap();
    link(&ctl, &client.control).unwrap();
    say.send(Bytes::from_static(msg)).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap(); // send, half-close, read to the end
    (client, got)
}

fn drain(got: &Inbox<Bytes>) -> Vec<u8> {
    let mut v = Vec::new();
    while let Some(b) = got.recv() {
        v.extend_from_slice(&b);
    }
    v
}

#[test]
fn echo_round_trip_over_loopback_ends_cleanly() {
    let server = ServerCore::bind(local(), |_| echo()).unwrap();
    let port = server.local_addr().unwrap().port();
    let (w, seen) = watcher(1);
    link(&w.outbox, &server.control).unwrap();
    let guard = deadline(Duration::from_secs(20));
    link(&server.signal, &guard.inbox).unwrap();
    let server_sig: Inbox<Signal> = Inbox::inbox();
    link(&guard.outbox, &server_sig).unwrap();
    let (client, got) = client_for(port, b"hello world");
    link(&client.signal, &w.inbox).unwrap();

    let mut s = Scheduler::new();
    s.spawn(server);
    s.spawn(client);
    s.spawn(w);
    s.spawn(guard);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(drain(&got), b"hello world");
    assert_eq!(*seen.borrow(), vec![Signal::ProducerFinished]);
    assert_eq!(server_sig.recv(), Some(Signal::Shutdown));
    assert_eq!(s.stats().undelivered, 0);
}

#[test]
fn many_clients_each_get_their_own_echo() {
    let server = ServerCore::bind(local(), |_| echo()).unwrap();
    let port = server.local_addr().unwrap().port();
    let n = 50;
    let (w, seen) = watcher(n);
    link(&w.outbox, &server.control).unwrap();
    let guard = deadline(Duration::from_secs(20));
    link(&server.signal, &guard.inbox).unwrap();
    let mut s = Scheduler::new();
    let mut gots = Vec::new();
    let msgs: Vec<&'static [u8]> = (0..n)
        .map(|i| {
            &*Box::leak(
                format!("client {i} says hello")
                    .into_bytes()
                    .into_boxed_slice(),
            )
        })
        .collect();
    // One watcher inbox, many sources: each client's signal goes there.
    for m in &msgs {
        let (client, got) = client_for(port, m);
        link(&client.signal, &w.inbox).unwrap();
        s.spawn(client);
        gots.push(got);
    }
    s.spawn(server);
    s.spawn(w);
    s.spawn(guard);
    assert_eq!(s.run(), Ended::Completed);
    for (m, got) in msgs.iter().zip(&gots) {
        assert_eq!(drain(got), *m);
    }
    assert_eq!(seen.borrow().len(), n);
    assert!(seen.borrow().iter().all(|s| *s == Signal::ProducerFinished));
}

#[test]
fn a_refused_connection_says_refused() {
    // A port nobody listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = TcpClient::new("127.0.0.1", port);
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    let e = net_error(&sig.recv().unwrap());
    assert_eq!(e.reason, EndReason::Refused);
    assert_eq!(e.peer, format!("127.0.0.1:{port}"));
    assert!(sig.recv().is_none(), "exactly one end signal");
}

#[test]
fn a_name_is_resolved_off_the_scheduler_thread() {
    let server = ServerCore::bind(local(), |_| echo()).unwrap();
    let port = server.local_addr().unwrap().port();
    let (w, seen) = watcher(1);
    link(&w.outbox, &server.control).unwrap();
    let client = TcpClient::new("localhost", port);
    let got: Inbox<Bytes> = Inbox::inbox();
    link(&client.outbox, &got).unwrap();
    link(&client.signal, &w.inbox).unwrap();
    let say: Outbox<Bytes> = Outbox::new("say", "to the server");
    let ctl: Outbox<Signal> = Outbox::new("ctl", "to the client");
    link(&say, &client.inbox).unwrap();
    link(&ctl, &client.control).unwrap();
    say.send(Bytes::from_static(b"by name")).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    s.spawn(client);
    s.spawn(w);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(drain(&got), b"by name");
    assert_eq!(*seen.borrow(), vec![Signal::ProducerFinished]);
}

#[test]
fn a_port_that_cannot_be_bound_is_an_error_when_built() {
    let first = ServerCore::bind(local(), |_| echo()).unwrap();
    let taken = first.local_addr().unwrap();
    let second = ServerCore::bind(taken, |_| echo());
    assert_eq!(
        second.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
    assert_eq!(
        SingleServer::bind(taken).err().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
}

#[test]
fn stopping_the_server_closes_its_clients_cleanly() {
    // The server is told to stop as its third connection is accepted (from
    // its protocol factory), so all three are attached when it stops.
    let stop = std::rc::Rc::new(Outbox::<Signal>::new("stop", "to the server"));
    let accepted = std::rc::Rc::new(std::cell::Cell::new(0));
    let (stop2, accepted2) = (stop.clone(), accepted.clone());
    let server = ServerCore::bind(local(), move |_| {
        accepted2.set(accepted2.get() + 1);
        if accepted2.get() == 3 {
            stop2.send(Signal::Shutdown).unwrap();
        }
        echo()
    })
    .unwrap();
    let port = server.local_addr().unwrap().port();
    link(&*stop, &server.control).unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    let mut sigs = Vec::new();
    for _ in 0..3 {
        let c = TcpClient::new("127.0.0.1", port); // sends nothing, waits
        let sig: Inbox<Signal> = Inbox::inbox();
        link(&c.signal, &sig).unwrap();
        s.spawn(c);
        sigs.push(sig);
    }
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(accepted.get(), 3);
    for sig in &sigs {
        assert_eq!(sig.recv(), Some(Signal::ProducerFinished), "a clean close");
    }
}

// ----- scripted: what real sockets cannot show deterministically -----

#[test]
fn connect_times_out_on_virtual_time() {
    let mut h = Harness::new();
    let conn = ScriptedConn::new().slow_connect(usize::MAX);
    let client = TcpClient::new("10.0.0.1", 80) // never contacted: scripted
        .with_connector(scripted_connector(vec![conn]))
        .connect_timeout(Duration::from_secs(5));
    let id = h.spawn(client);
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let start = h.now();
    h.run_for(Duration::from_secs(4));
    assert!(h.is_alive(id));
    assert!(sig.is_empty());
    h.run_for(Duration::from_secs(2));
    assert!(!h.is_alive(id));
    let e = net_error(&sig.recv().unwrap());
    assert_eq!(e.reason, EndReason::TimedOut);
    assert!(h.now() - start >= Duration::from_secs(5));
}

#[test]
fn an_idle_connection_times_out() {
    let mut h = Harness::new();
    let conn = ScriptedConn::new();
    let log = conn.log();
    let client = TcpClient::new("10.0.0.1", 80)
        .with_connector(scripted_connector(vec![conn]))
        .idle_timeout(Some(Duration::from_secs(30)));
    let id = h.spawn(client);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(20));
    input.send(Bytes::from_static(b"ping")).unwrap(); // activity: the clock restarts
    h.run_for(Duration::from_secs(20));
    assert!(h.is_alive(id));
    h.run_for(Duration::from_secs(11));
    assert!(!h.is_alive(id));
    assert_eq!(net_error(&sig.recv().unwrap()).reason, EndReason::TimedOut);
    assert_eq!(log.borrow().written, b"ping");
    assert!(log.borrow().dropped, "the connection was closed");
}

#[test]
fn memory_stays_bounded_when_the_client_does_not_read() {
    // A protocol that floods; the client never reads.
    struct Flood(Outbox<Bytes>, Inbox<Signal>, Outbox<Signal>, u64);
    impl Component for Flood {
        fn step(&mut self, _cx: &mut Cx) -> Step {
            if self.1.recv().is_some() {
                return Step::Done;
            }
            for _ in 0..64 {
                if self.0.send(Bytes::from(vec![7u8; 8192])).is_err() {
                    return Step::Pause; // held back
                }
                self.3 += 1;
            }
            Step::Yield
        }
        fn boxes(&self, set: &mut BoxSet) {
            set.add(&self.0).add(&self.1).add(&self.2);
        }
    }
    let acceptor = ScriptedAcceptor::new();
    let conn = ScriptedConn::new().stalled_writes();
    acceptor.connect(conn);
    let server = ServerCore::with_acceptor(Box::new(acceptor.clone()), |_| {
        Box::new(Flood(
            Outbox::outbox(),
            Inbox::control(),
            Outbox::signal(),
            0,
        )) as Box<dyn Component>
    });
    let mut h = Harness::new();
    let sid = h.spawn(server);
    let steps = h.run_until_idle();
    assert!(steps < 10_000, "the flood was held back, not spun: {steps}");
    let snap = h.scheduler().snapshot();
    let conn = snap
        .components
        .iter()
        .find(|c| c.parent == Some(sid) && c.name == "TcpClient")
        .unwrap();
    let inbox = conn.boxes.iter().find(|b| b.name == "inbox").unwrap();
    // Held back by the limit: the inbox is exactly full, the flood sleeps,
    // and nothing runs any more. Bounded: CONNECTION_INBOX messages of
    // 8 KiB plus at most the write buffer (+ one message) to be written.
    assert_eq!(inbox.limit, Some(CONNECTION_INBOX));
    assert_eq!(inbox.len, CONNECTION_INBOX);
    let flood = snap
        .components
        .iter()
        .find(|c| c.parent == Some(sid) && c.name == "Flood")
        .unwrap();
    assert_eq!(flood.state, RunState::Sleeping);
    assert_eq!(h.run_until_idle(), 0);
}

#[test]
fn a_scripted_server_conversation() {
    let acceptor = ScriptedAcceptor::new();
    let conn = ScriptedConn::new().reply(b"ping").eof();
    let log = conn.log();
    acceptor.connect(conn);
    let server = ServerCore::with_acceptor(Box::new(acceptor.clone()), |_| echo());
    let mut h = Harness::new();
    let sid = h.spawn(server);
    h.run_until_idle();
    assert_eq!(log.borrow().written, b"ping");
    assert!(log.borrow().write_closed);
    assert!(log.borrow().dropped);
    // A second client later.
    let conn2 = ScriptedConn::new().reply(b"pong").eof();
    let log2 = conn2.log();
    acceptor.connect(conn2);
    h.scheduler().wake(sid);
    h.run_until_idle();
    assert_eq!(log2.borrow().written, b"pong");
    assert!(h.is_alive(sid));
    let ctl = h.feeder::<Signal>(sid, "control").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(sid));
    assert!(acceptor.is_closed());
}

/// Stops the system when woken (by another thread, through `Remote`).
struct StopWhenWoken(bool);
impl Component for StopWhenWoken {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.0 {
            self.0 = true;
            return Step::Pause;
        }
        cx.stop_system();
        Step::Done
    }
    fn boxes(&self, _set: &mut BoxSet) {}
}

#[test]
fn an_accepted_connection_is_woken_by_data_that_comes_later() {
    use std::io::{Read, Write};
    /// Says "go" on its first step, then is the echo protocol. The server
    /// starts a connection before its protocol, so by this first step the
    /// connection has had its own first step and gone to sleep.
    struct GoThenEcho(Option<std::sync::mpsc::Sender<()>>, Box<dyn Component>);
    impl Component for GoThenEcho {
        fn step(&mut self, cx: &mut Cx) -> Step {
            if let Some(go) = self.0.take() {
                go.send(()).unwrap();
            }
            self.1.step(cx)
        }
        fn boxes(&self, set: &mut BoxSet) {
            self.1.boxes(set)
        }
    }
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let mut go_tx = Some(go_tx);
    let server = ServerCore::bind(local(), move |_| {
        Box::new(GoThenEcho(go_tx.take(), echo())) as Box<dyn Component>
    })
    .unwrap();
    let addr = server.local_addr().unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    let stopper = s.spawn(StopWhenWoken(false));
    let remote = s.remote();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let client = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        // A bound on the wait, so a regression fails instead of hanging.
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        go_rx.recv().unwrap(); // the server side is asleep by now
        c.write_all(b"late").unwrap();
        let mut got = [0u8; 4];
        let r = c.read_exact(&mut got).map(|_| got.to_vec());
        done_tx.send(r.unwrap_or_default()).unwrap();
        remote.wake(stopper);
    });
    // Once the data comes, only readiness can wake the connection.
    assert_eq!(s.run(), Ended::Stopped);
    client.join().unwrap();
    assert_eq!(done_rx.recv().unwrap(), b"late");
}

#[test]
fn a_protocol_whose_connection_is_gone_is_stopped() {
    /// A source that ignores producer-finished, as sources do.
    struct Forever(Outbox<Bytes>, Inbox<Signal>, Outbox<Signal>);
    impl Component for Forever {
        fn step(&mut self, _cx: &mut Cx) -> Step {
            if let Some(s) = self.1.recv() {
                if s.is_shutdown() {
                    let _ = self.2.send(s);
                    return Step::Done;
                }
            }
            if self.0.send(Bytes::from_static(b"more")).is_err() {
                return Step::Pause;
            }
            Step::Yield
        }
        fn boxes(&self, set: &mut BoxSet) {
            set.add(&self.0).add(&self.1).add(&self.2);
        }
    }
    let acceptor = ScriptedAcceptor::new();
    // The client takes a few writes, then resets.
    acceptor.connect(ScriptedConn::new().fault_at(6, kamaelia::testing::scripted::Fault::Reset));
    let server = ServerCore::with_acceptor(Box::new(acceptor), |_| {
        Box::new(Forever(
            Outbox::outbox(),
            Inbox::control(),
            Outbox::signal(),
        )) as Box<dyn Component>
    });
    let mut h = Harness::new();
    let sid = h.spawn(server);
    h.run_until_idle();
    assert!(h.is_alive(sid));
    assert_eq!(
        h.scheduler().live(),
        1,
        "connection and protocol both ended"
    );
    // What the protocol had queued for the reset connection is counted,
    // and bounded by the connection's inbox.
    assert!(h.scheduler().stats().undelivered <= CONNECTION_INBOX as u64);
}

#[test]
fn a_single_server_told_to_finish_early_still_serves_its_client() {
    let acceptor = ScriptedAcceptor::new();
    let server = SingleServer::with_acceptor(Box::new(acceptor.clone()));
    let mut h = Harness::new();
    let id = h.spawn(server);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(Bytes::from_static(b"queued")).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(h.is_alive(id), "waits for its client");
    let conn = ScriptedConn::new().eof(); // the client closes its side too
    let log = conn.log();
    acceptor.connect(conn);
    h.scheduler().wake(id);
    h.run_until_idle();
    assert_eq!(log.borrow().written, b"queued");
    assert!(log.borrow().write_closed);
    assert!(log.borrow().dropped);
    assert!(!h.is_alive(id));
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(acceptor.is_closed());
}

#[test]
fn a_name_that_cannot_be_resolved_says_so() {
    // A NUL byte fails inside the resolver call itself: no lookup leaves
    // the machine.
    let client = TcpClient::new("bad\0host", 80);
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    let e = net_error(&sig.recv().unwrap());
    assert_eq!(e.reason, EndReason::NotResolved);
    assert_eq!(e.peer, "bad\0host:80");
    assert!(sig.recv().is_none());
}

#[test]
fn io_errors_map_to_end_reasons() {
    use std::io::{Error, ErrorKind as K};
    let cases = [
        (Error::from(K::ConnectionRefused), EndReason::Refused),
        (Error::from(K::ConnectionReset), EndReason::Reset),
        (Error::from(K::ConnectionAborted), EndReason::Reset),
        (Error::from(K::BrokenPipe), EndReason::Reset),
        (Error::from(K::TimedOut), EndReason::TimedOut),
        (Error::from(K::HostUnreachable), EndReason::Unreachable),
        (Error::from(K::NetworkUnreachable), EndReason::Unreachable),
        (Error::from_raw_os_error(113), EndReason::Unreachable), // EHOSTUNREACH
        (Error::from_raw_os_error(101), EndReason::Unreachable), // ENETUNREACH
        (
            Error::from(K::PermissionDenied),
            EndReason::Other(K::PermissionDenied),
        ),
    ];
    for (e, want) in cases {
        assert_eq!(EndReason::from_io(&e), want, "{e}");
    }
}

#[test]
fn a_peer_failing_mid_stream_ends_the_client_after_what_came_before() {
    let mut h = Harness::new();
    let conn = ScriptedConn::new()
        .reply(b"first ")
        .reply(b"second")
        .read_error(std::io::ErrorKind::ConnectionReset);
    let log = conn.log();
    let client = TcpClient::new("10.0.0.1", 80).with_connector(scripted_connector(vec![conn]));
    let id = h.spawn(client);
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert_eq!(drain_collected(&out), b"first second");
    let got = sig.drain();
    assert_eq!(got.len(), 1);
    assert_eq!(net_error(&got[0]).reason, EndReason::Reset);
    assert!(log.borrow().dropped);
}

fn drain_collected(c: &kamaelia::testing::Collector<Bytes>) -> Vec<u8> {
    c.drain().iter().flat_map(|b| b.to_vec()).collect()
}
