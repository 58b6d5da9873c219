//! What the tests of the `kamaelia` program share: running a program to
//! its end within a deadline (killed past it, and by its guard however the
//! test ends), with its exit code, stdout and stderr.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program under test, as cargo built it for the tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_kamaelia");

/// Kills its child when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How a run ended.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// Stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `program args` to its end, within `deadline` (a failure past it).
pub fn run_within<S: AsRef<OsStr>>(program: &str, args: &[S], deadline: Duration) -> Output {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut g = Guard(child);
    let mut out = g.0.stdout.take().unwrap();
    let mut err = g.0.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        assert!(
            start.elapsed() < deadline,
            "{program} {shown:?} still running after {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}
