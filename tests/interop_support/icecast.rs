//! A real icecast2 on 127.0.0.1, and ezstream feeding it Ogg files, for
//! the Icecast client's interop tests and the tests that play a mount: a
//! config in a temporary folder, icecast2 switched to an unprivileged user
//! when run as root (it refuses to run as root), every process killed by
//! its pid when dropped, every wait bounded.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{tools, Proc};

pub const SOURCE_PW: &str = "kamaelia-src";
pub const ADMIN_PW: &str = "kamaelia-admin";

/// Whether icecast2 and ezstream are installed (else a skip note, or a
/// failure under `KAMAELIA_REQUIRE_INTEROP=1`).
pub fn have_icecast(test: &str) -> bool {
    tools(test, &["icecast2", "ezstream"], "icecast2 ezstream")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Who icecast2 runs as when started by root.
fn run_as() -> (&'static str, &'static str) {
    let has = |db: &str, name: &str| {
        Command::new("getent")
            .args([db, name])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has("passwd", "icecast2") && has("group", "icecast") {
        ("icecast2", "icecast")
    } else {
        ("nobody", "nogroup")
    }
}

/// Polls `f` every 50 ms until it is true; fails after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status code of a GET of `path` (blocking, bounded).
pub fn status_of(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts icecast2 on `port` with its config (and logs) in `dir`, which
/// is made writable for the user it switches to; returns once it accepts
/// connections (at most 10 s).
pub fn icecast(dir: &Path, port: u16) -> Proc {
    icecast_with_mounts(dir, port, "")
}

/// [`icecast`] with `mounts` (`<mount>` elements) in its config.
pub fn icecast_with_mounts(dir: &Path, port: u16, mounts: &str) -> Proc {
    let _ = Command::new("chmod").arg("0777").arg(dir).status();
    let owner = if is_root() {
        let (u, g) = run_as();
        format!("<changeowner><user>{u}</user><group>{g}</group></changeowner>")
    } else {
        String::new()
    };
    let d = dir.display();
    let config = format!(
        "<icecast>
  <limits><clients>20</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout><burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size></limits>
  <authentication><source-password>{SOURCE_PW}</source-password>
    <relay-password>{SOURCE_PW}</relay-password>
    <admin-user>admin</admin-user><admin-password>{ADMIN_PW}</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  {mounts}
  <fileserve>0</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{d}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"
    );
    let path = dir.join("icecast.xml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("icecast2")
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("icecast2 starts");
    let p = Proc(child);
    wait_until("icecast2 listening", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    p
}

/// ezstream looping the Ogg files `files` (a playlist, in order) to
/// `mount` on the icecast2 at `port`; returns once the mount answers 200
/// (at most 10 s).
pub fn ezstream(dir: &Path, port: u16, mount: &str, files: &[PathBuf]) -> Proc {
    let list = dir.join("playlist.m3u");
    let text: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(&list, text).unwrap();
    let conf = dir.join("ezstream.xml");
    std::fs::write(
        &conf,
        format!(
            "<ezstream>
  <servers><server><hostname>127.0.0.1</hostname><port>{port}</port>
    <password>{SOURCE_PW}</password></server></servers>
  <streams><stream><mountpoint>{mount}</mountpoint><format>Ogg</format></stream></streams>
  <intakes><intake><type>playlist</type><filename>{}</filename><stream_once>No</stream_once></intake></intakes>
</ezstream>
",
            list.display()
        ),
    )
    .unwrap();
    // ezstream refuses a config file others can read.
    let _ = Command::new("chmod").arg("0600").arg(&conf).status();
    let child = Command::new("ezstream")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ezstream starts");
    let p = Proc(child);
    wait_until("the Ogg mount", Duration::from_secs(10), || {
        status_of(port, mount) == Some(200)
    });
    p
}
