//! Runs the cookbook routing server (examples/http_server.rs) on
//! 127.0.0.1 (a free port) and talks to it with real curl: a route, a
//! file, the echo, and the event stream fed by the ticker.

mod http_support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http_support::{Site, HELLO};

#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod http_server;

/// Runs curl with `args` (`{}` replaced by the base URL) against the
/// example serving `site`, until curl exits; returns its exit code and
/// what it printed.
fn curl(site: &Site, args: &[&str]) -> (Option<i32>, String) {
    let (mut s, addr) = http_server::build(
        "127.0.0.1:0".parse().unwrap(),
        site.root(),
        Duration::from_millis(50),
    )
    .unwrap();
    let base = format!("http://{addr}");
    let out_path = site.base.join("curl-out");
    let out = fs::File::create(&out_path).unwrap();
    let mut child = Command::new("/usr/bin/curl")
        .args(["-s", "--max-time", "10"])
        .args(args.iter().map(|a| a.replace("{}", &base)))
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .spawn()
        .expect("curl runs");
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        let _ = s.run_for(Duration::from_millis(5));
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
    };
    (code, fs::read_to_string(&out_path).unwrap_or_default())
}

#[test]
fn the_example_routes_hello_files_and_echo() {
    let site = Site::new("example");
    assert_eq!(
        curl(&site, &["{}/hello"]),
        (Some(0), "Hello from kamaelia-rs\n".to_string())
    );
    let (code, out) = curl(&site, &["{}/hello.txt"]);
    assert_eq!((code, out.as_bytes()), (Some(0), HELLO));
    let (code, out) = curl(&site, &["{}/sub/"]);
    assert_eq!((code, out.as_str()), (Some(0), "<p>sub</p>\n"));
    assert_eq!(
        curl(&site, &["--data-binary", "ping", "{}/echo"]),
        (Some(0), "ping".to_string())
    );
    assert_eq!(
        curl(
            &site,
            &[
                "-w",
                "%{http_code}",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "{}/hello.txt"
            ]
        ),
        (Some(0), "405".to_string())
    );
}

#[test]
fn the_example_streams_ticks_as_server_sent_events() {
    let site = Site::new("example-sse");
    // curl ends the stream itself after --max-time (exit 28).
    let (code, out) = curl(&site, &["-N", "--max-time", "1", "{}/events"]);
    assert_eq!(code, Some(28));
    let events: Vec<&str> = out.split_terminator("\n\n").collect();
    assert!(events.len() >= 5, "about 20 ticks in a second: {out:?}");
    let first: u64 = events[0]
        .strip_prefix("event: tick\ndata: tick ")
        .expect("an event")
        .parse()
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(*e, format!("event: tick\ndata: tick {}", first + i as u64));
    }
}
