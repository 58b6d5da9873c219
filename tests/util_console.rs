//! ConsoleEchoer, writing into a SharedBuffer.

use std::io::{self, Write};

use kamaelia::axon::{Signal, StepResult};
use kamaelia::testing::Harness;
use kamaelia::util::{ConsoleEchoer, SharedBuffer};

#[test]
fn writes_display_form_without_newline_by_default() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(ConsoleEchoer::<u32>::new().writer(screen.clone()));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    for i in [1, 22, 333] {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    assert_eq!(screen.text(), "122333");
    assert!(screen.flushes() >= 1, "flushed");
    assert!(h.is_sleeping(id));
}

#[test]
fn tag_and_newline() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(
        ConsoleEchoer::<String>::new()
            .tag("[log] ")
            .newline(true)
            .writer(screen.clone()),
    );
    let input = h.feeder::<String>(id, "inbox").unwrap();
    input.send("one".into()).unwrap();
    input.send("two".into()).unwrap();
    h.run_until_idle();
    assert_eq!(screen.text(), "[log] one\n[log] two\n");
}

#[test]
fn debug_form() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(
        ConsoleEchoer::<(u8, &str)>::debug()
            .newline(true)
            .writer(screen.clone()),
    );
    let input = h.feeder::<(u8, &str)>(id, "inbox").unwrap();
    input.send((1, "a\tb")).unwrap();
    h.run_until_idle();
    assert_eq!(screen.text(), "(1, \"a\\tb\")\n");
}

#[test]
fn flushes_after_each_batch() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(ConsoleEchoer::<u8>::new().writer(screen.clone()));
    let input = h.feeder::<u8>(id, "inbox").unwrap();
    input.send(1).unwrap();
    h.run_until_idle();
    let f = screen.flushes();
    assert!(f >= 1);
    input.send(2).unwrap();
    h.run_until_idle();
    assert!(screen.flushes() > f, "each step's output is flushed");
    assert_eq!(screen.text(), "12");
}

#[test]
fn not_a_forwarder_by_default() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(ConsoleEchoer::<u8>::new().writer(screen.clone()));
    let input = h.feeder::<u8>(id, "inbox").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    input.send(5).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
}

#[test]
fn forwarder_passes_messages_on_with_back_pressure() {
    let screen = SharedBuffer::new();
    let mut h = Harness::new();
    let id = h.spawn(
        ConsoleEchoer::<u32>::new()
            .forwarder(true)
            .newline(true)
            .writer(screen.clone()),
    );
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.bounded_collector::<u32>(id, "outbox", 2).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..6 {
        input.send(i).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.len(), 2);
    // Written up to the message that was refused (kept, already written).
    assert_eq!(screen.text(), "0\n1\n2\n");
    assert!(h.is_sleeping(id));
    assert!(sig.is_empty());
    let mut got = Vec::new();
    while let Some(v) = out.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert_eq!(screen.text(), "0\n1\n2\n3\n4\n5\n");
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn any_control_message_ends_it_after_writing_what_it_had() {
    for s in [Signal::ProducerFinished, Signal::Shutdown] {
        let screen = SharedBuffer::new();
        let mut h = Harness::new();
        let id = h.spawn(ConsoleEchoer::<char>::new().writer(screen.clone()));
        let input = h.feeder::<char>(id, "inbox").unwrap();
        let ctl = h.feeder::<Signal>(id, "control").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        input.send('a').unwrap();
        input.send('b').unwrap();
        ctl.send(s.clone()).unwrap();
        ctl.send(Signal::Shutdown).unwrap();
        assert_eq!(h.step(), Some((id, StepResult::Done)));
        assert_eq!(screen.text(), "ab");
        assert_eq!(sig.drain(), [s], "the first signal is passed on");
    }
}

struct Broken;
impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_ends_it_with_failed() {
    let mut h = Harness::new();
    let id = h.spawn(ConsoleEchoer::<u8>::new().writer(Broken));
    let input = h.feeder::<u8>(id, "inbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(1).unwrap();
    h.run_until_idle();
    let got = sig.drain();
    assert_eq!(got.len(), 1);
    match &got[0] {
        Signal::Failed(f) => {
            assert_eq!(
                f.downcast_ref::<io::Error>().unwrap().kind(),
                io::ErrorKind::BrokenPipe
            )
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(!h.is_alive(id));
}

#[test]
fn shared_buffer_take() {
    let mut b = SharedBuffer::new();
    let reader = b.clone();
    b.write_all(b"xy").unwrap();
    assert_eq!(reader.contents(), b"xy");
    assert_eq!(reader.take(), b"xy");
    assert!(reader.contents().is_empty());
}

/// Records each `write` call it gets.
#[derive(Clone, Default)]
struct Writes(std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>);
impl Write for Writes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn each_message_is_one_write() {
    // Tag, message and newline go out together (one lock of stdout per
    // message, and lines from other threads cannot land in between).
    let writes = Writes::default();
    let mut h = Harness::new();
    let id = h.spawn(
        ConsoleEchoer::<(u8, &str)>::debug()
            .tag("> ")
            .newline(true)
            .writer(writes.clone()),
    );
    let input = h.feeder::<(u8, &str)>(id, "inbox").unwrap();
    input.send((1, "a")).unwrap();
    input.send((2, "b")).unwrap();
    h.run_until_idle();
    assert_eq!(
        *writes.0.borrow(),
        [b"> (1, \"a\")\n".to_vec(), b"> (2, \"b\")\n".to_vec()]
    );
}
