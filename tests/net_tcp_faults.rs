//! The fault walk: a client conversation (and a server one) run over a
//! scripted connection again and again, with operation N failing each time
//! (refused, reset, a short write, would block), for every N the
//! conversation has. Every run must end the right way: the injected
//! reason (or a clean end where the fault is harmless), exactly one end
//! signal, everything received before the fault passed on, the connection
//! closed, no component left behind, no panic. (The seeds' "force failures
//! at each yield".)

use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::*;
use kamaelia::internet::{EndReason, NetError, ServerCore, TcpClient};
use kamaelia::testing::scripted::{
    scripted_connector, ConnLog, Fault, ScriptedAcceptor, ScriptedConn,
};
use kamaelia::testing::Harness;

const REQUEST: [&[u8]; 2] = [b"hello ", b"world"];
const RESPONSE: &[u8] = b"response";

struct Run {
    log: ConnLog,
    received: Vec<u8>,
    signals: Vec<Signal>,
    live: usize,
}

/// The client conversation: connect (after one "still connecting"), send
/// two chunks, finish (half-close), read the response to the peer's end.
fn client_run(fault: Option<(usize, Fault)>) -> Run {
    let mut conn = ScriptedConn::new().slow_connect(1).reply(RESPONSE).eof();
    if let Some((n, f)) = fault {
        conn = conn.fault_at(n, f);
    }
    let log = conn.log();
    let client = TcpClient::new("10.0.0.1", 80).with_connector(scripted_connector(vec![conn]));
    let mut h = Harness::new();
    let id = h.spawn(client);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for chunk in REQUEST {
        input.send(Bytes::from_static(chunk)).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_for(Duration::from_secs(60));
    let received = out.drain().iter().flat_map(|b| b.to_vec()).collect();
    let log = log.borrow().clone();
    Run {
        log,
        received,
        signals: sig.drain(),
        live: h.scheduler().live(),
    }
}

fn reason(sig: &Signal) -> Option<EndReason> {
    match sig {
        Signal::ProducerFinished => Some(EndReason::Closed),
        Signal::Failed(f) => f.downcast_ref::<NetError>().map(|e| e.reason),
        _ => None,
    }
}

#[test]
fn the_clean_conversation() {
    let r = client_run(None);
    assert_eq!(r.log.written, b"hello world");
    assert!(r.log.write_closed);
    assert!(r.log.dropped);
    assert_eq!(r.received, RESPONSE);
    assert_eq!(r.signals, vec![Signal::ProducerFinished]);
    assert_eq!(r.live, 0);
}

#[test]
fn every_step_of_the_client_conversation_fails_cleanly() {
    let total = client_run(None).log.ops;
    assert!(total >= 6, "connect checks, writes, close, reads: {total}");
    let mut failures = 0;
    for n in 1..=total {
        for fault in [
            Fault::Refused,
            Fault::Reset,
            Fault::ShortWrite,
            Fault::WouldBlock,
        ] {
            let r = client_run(Some((n, fault)));
            let ctx = format!("fault {fault:?} at op {n} of {total}");
            assert_eq!(r.signals.len(), 1, "{ctx}: exactly one end signal");
            assert_eq!(r.live, 0, "{ctx}: nothing left running");
            assert!(r.log.dropped, "{ctx}: the connection was closed");
            assert!(
                RESPONSE.starts_with(&r.received),
                "{ctx}: received a prefix"
            );
            assert!(b"hello world".starts_with(&r.log.written[..]), "{ctx}");
            let got = reason(&r.signals[0]);
            match fault {
                Fault::Refused | Fault::Reset => {
                    let want = if fault == Fault::Refused {
                        EndReason::Refused
                    } else {
                        EndReason::Reset
                    };
                    assert_eq!(got, Some(want), "{ctx}");
                    failures += 1;
                }
                Fault::ShortWrite | Fault::WouldBlock => {
                    // Harmless: the conversation completes, bytes intact.
                    assert_eq!(got, Some(EndReason::Closed), "{ctx}");
                    assert_eq!(r.log.written, b"hello world", "{ctx}");
                    assert_eq!(r.received, RESPONSE, "{ctx}");
                }
            }
        }
    }
    assert_eq!(failures, 2 * total);
}

fn echo() -> Box<dyn Component> {
    /// Echoes; ends on any control signal.
    struct Echo(DefaultBoxes<Bytes, Bytes>, Option<Bytes>);
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
    Box::new(Echo(DefaultBoxes::new(), None))
}

/// The server conversation: a client sends a request and half-closes; the
/// echo protocol answers; the connection closes.
fn server_run(fault: Option<(usize, Fault)>) -> (ConnLog, bool, usize) {
    let mut conn = ScriptedConn::new().reply(b"ping").reply(b"pong").eof();
    if let Some((n, f)) = fault {
        conn = conn.fault_at(n, f);
    }
    let log = conn.log();
    let acceptor = ScriptedAcceptor::new();
    acceptor.connect(conn);
    let server = ServerCore::with_acceptor(Box::new(acceptor), |_| echo());
    let mut h = Harness::new();
    let sid = h.spawn(server);
    h.run_for(Duration::from_secs(60));
    let alive = h.is_alive(sid);
    let live = h.scheduler().live();
    let log = log.borrow().clone();
    (log, alive, live)
}

#[test]
fn every_step_of_a_server_conversation_ends_that_connection_only() {
    let (clean, alive, live) = server_run(None);
    assert_eq!(clean.written, b"pingpong");
    assert!(clean.write_closed && clean.dropped);
    assert!(alive);
    assert_eq!(live, 1, "only the server remains");
    for n in 1..=clean.ops {
        for fault in [
            Fault::Refused,
            Fault::Reset,
            Fault::ShortWrite,
            Fault::WouldBlock,
        ] {
            let ctx = format!("fault {fault:?} at op {n} of {}", clean.ops);
            let (log, alive, live) = server_run(Some((n, fault)));
            assert!(alive, "{ctx}: the server runs on");
            assert_eq!(live, 1, "{ctx}: the connection and its protocol ended");
            assert!(log.dropped, "{ctx}: the socket was closed");
            assert!(b"pingpong".starts_with(&log.written[..]), "{ctx}");
            if matches!(fault, Fault::ShortWrite | Fault::WouldBlock) {
                assert_eq!(log.written, b"pingpong", "{ctx}");
            }
        }
    }
}
