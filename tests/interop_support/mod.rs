//! What the tests against third-party programs share: the check that the
//! programs are installed (a skip with a note, or a failure when
//! `KAMAELIA_REQUIRE_INTEROP=1`, as CI sets), processes killed and reaped
//! when dropped, temporary folders, free ports and bounded waits.

#![allow(dead_code)]

pub mod icecast;

use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether every program in `need` is on the PATH. If not: a note on
/// stderr naming what is missing and `debian` (the packages to install),
/// and false; or a panic when interop is required.
pub fn tools(test: &str, need: &[&str], debian: &str) -> bool {
    let missing: Vec<&str> = need
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: skipped: {} not installed (Debian: apt-get install -y {debian})",
        missing.join(", ")
    );
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

/// A process killed (by its pid) and reaped when dropped, so a failing
/// test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("kamaelia-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free for both TCP and UDP on 127.0.0.1 (a tracker binds both).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP");
}

/// Waits (at most 10 s) until something listens on TCP `port`.
pub fn wait_listening(port: u16) {
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` every 100 ms for at most 10 s.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
