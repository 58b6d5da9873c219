//! Sockets: a component registers a mio source through its context and is
//! woken on readiness; the scheduler blocks in poll meanwhile.

use std::net::UdpSocket as StdUdp;

use kamaelia::axon::*;
use mio::net::UdpSocket;
use mio::{Interest, Token};

/// Receives `want` datagrams on a UDP socket, then ends.
///
/// | box    | carries   | meaning              |
/// |--------|-----------|----------------------|
/// | outbox | `Vec<u8>` | each datagram, whole |
struct UdpRecv {
    sock: UdpSocket,
    token: Option<Token>,
    want: usize,
    outbox: Outbox<Vec<u8>>,
}

impl Component for UdpRecv {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.token.is_none() {
            self.token = Some(cx.register(&mut self.sock, Interest::READABLE).unwrap());
        }
        let mut buf = [0u8; 2048];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    self.outbox.send(buf[..n].to_vec()).unwrap();
                    self.want -= 1;
                    if self.want == 0 {
                        let t = self.token.unwrap();
                        cx.deregister(&mut self.sock, t).unwrap();
                        return Step::Done;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Step::Pause,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox);
    }
}

#[test]
fn readiness_wakes_a_sleeping_component() {
    let sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = sock.local_addr().unwrap();
    let got: Inbox<Vec<u8>> = Inbox::inbox();
    let recv = UdpRecv {
        sock,
        token: None,
        want: 3,
        outbox: Outbox::outbox(),
    };
    link(&recv.outbox, &got).unwrap();

    let mut s = Scheduler::new();
    s.enable_trace();
    let id = s.spawn(recv);
    // First step registers and finds nothing: the component sleeps.
    assert_eq!(s.step(), Some((id, StepResult::Sleep)));
    assert_eq!(s.step(), None);

    // A sender on another thread while the scheduler blocks in poll.
    let sender = std::thread::spawn(move || {
        let tx = StdUdp::bind("127.0.0.1:0").unwrap();
        for msg in [&b"one"[..], b"two", b"three"] {
            tx.send_to(msg, addr).unwrap();
        }
    });
    assert_eq!(s.run(), Ended::Completed);
    sender.join().unwrap();

    let msgs: Vec<Vec<u8>> = std::iter::from_fn(|| got.recv()).collect();
    assert_eq!(
        msgs,
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    // It slept between datagrams instead of spinning: few steps, and the
    // scheduler waited in poll.
    assert!(s.stats().steps <= 8, "steps: {}", s.stats().steps);
    assert!(s.stats().waits >= 1);
}

#[test]
fn deregistered_sources_do_not_keep_the_scheduler_alive() {
    // A component that registers a socket and finishes: the run must end
    // (registration is dropped with the component), not block forever.
    struct RegisterAndQuit(UdpSocket);
    impl Component for RegisterAndQuit {
        fn step(&mut self, cx: &mut Cx) -> Step {
            cx.register(&mut self.0, Interest::READABLE).unwrap();
            Step::Done
        }
        fn boxes(&self, _set: &mut BoxSet) {}
    }
    let mut s = Scheduler::new();
    s.spawn(RegisterAndQuit(
        UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap(),
    ));
    assert_eq!(s.run(), Ended::Completed);
}
