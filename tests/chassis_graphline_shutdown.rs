//! A wide Graphline's shutdown, as the log sees it: one line for the
//! children's final signals that went nowhere, not one line a child.
//! (Its own test binary: the logger is process-wide.)

mod common;

use std::sync::Mutex;

use common::*;
use kamaelia::axon::{Signal, Step};
use kamaelia::chassis::Graphline;
use kamaelia::testing::Harness;

static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps every line at info level and above.
struct Keep;

impl log::Log for Keep {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            LOGGED
                .lock()
                .unwrap()
                .push(format!("{} {}", r.level(), r.args()));
        }
    }
    fn flush(&self) {}
}

/// Passes a control signal on to its (unlinked) signal box and ends.
fn ends_on_control(name: &str) -> Script {
    Script::new(name, |io, _| {
        if let Some(s) = io.control.recv() {
            io.signal.send(s).unwrap();
            return Step::Done;
        }
        Step::Pause
    })
}

#[test]
fn a_wide_graphlines_shutdown_logs_one_summary_line() {
    let _ = log::set_logger(&Keep);
    log::set_max_level(log::LevelFilter::Info);
    let mut b = Graphline::builder();
    for i in 0..20 {
        b = b.child(&format!("C{i}"), ends_on_control(&format!("C{i}")));
    }
    // One child's signal is linked in the table: it is left alone.
    let b = b
        .child("LAST", ends_on_control("LAST"))
        .link(("LAST", "signal"), ("self", "signal"));
    let mut h = Harness::new();
    let id = h.spawn(b.build().unwrap());
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert_eq!(
        *LOGGED.lock().unwrap(),
        vec![format!(
            "WARN Graphline{id} finished with 20 message(s) undelivered in '_child_signals'"
        )]
    );
    // Still counted: the children's signals went nowhere.
    assert_eq!(h.scheduler().stats().undelivered, 20);
}
