//! The UDP tracker's load client (`tracker_udp_load ADDR N`), a process of
//! its own: 2 threads, each with one UDP socket and one connection id
//! (BEP 15 connect, renewed every 30 s), keeping 32 announces
//! outstanding: 32 datagrams sent, then the 32 replies read and checked
//! (an announce reply with the transaction id sent, at most 50 peers). A
//! datagram lost (no reply within 500 ms) is sent again and counted; the
//! `done` line says `done NS RESENT`. Announces cycle over the same 64
//! torrents and 16,384 peers as the HTTP load.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use kamaelia::protocol::torrent::tracker::udp_wire::{
    encode_announce_request, encode_connect_request, parse_response, Response,
};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest};

use crate::tracker::{say, torrent, OUTSTANDING, PEERS, THREADS, TORRENTS};

/// The `k`-th announce of the load (its info-hash, peer id and port).
fn request(k: usize) -> AnnounceRequest {
    let p = (k / TORRENTS) % PEERS;
    let mut peer_id = *b"-LD0001-000000000000";
    peer_id[12..20].copy_from_slice(format!("{:08}", k % 100_000_000).as_bytes());
    AnnounceRequest {
        info_hash: torrent(k % TORRENTS),
        peer_id,
        port: 1024 + p as u16,
        uploaded: 0,
        downloaded: 0,
        left: if p % 3 == 0 { 0 } else { 1000 },
        event: AnnounceEvent::None,
        numwant: Some(50),
        key: Some(k as u32),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

/// A socket "connected" to the tracker, with a fresh connection id.
fn connect(addr: SocketAddr) -> Result<(UdpSocket, u64), String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    s.connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    let id = connection_id(&s)?;
    Ok((s, id))
}

fn connection_id(s: &UdpSocket) -> Result<u64, String> {
    let mut buf = [0u8; 2048];
    // Patient: a server under callgrind runs some fifty times slower.
    for tid in 1..=40u32 {
        let mut out = Vec::with_capacity(16);
        encode_connect_request(&mut out, tid);
        s.send(&out).map_err(|e| format!("send: {e}"))?;
        if let Ok(n) = s.recv(&mut buf) {
            if let Ok(Response::Connect {
                tid: t,
                connection_id,
            }) = parse_response(&buf[..n], false)
            {
                if t == tid {
                    return Ok(connection_id);
                }
            }
        }
    }
    Err("no connect reply in 40 tries".into())
}

/// Reads replies until every transaction of `pending` is answered,
/// sending again those not answered within the time-out. Returns how
/// many were sent again.
fn collect(s: &UdpSocket, pending: &mut Vec<(u32, Vec<u8>)>) -> Result<u64, String> {
    let mut buf = [0u8; 2048];
    let mut resent = 0;
    let mut tries = 0;
    while !pending.is_empty() {
        match s.recv(&mut buf) {
            Ok(n) => match parse_response(&buf[..n], false) {
                Ok(Response::Announce { tid, peers, .. }) if peers.len() <= 50 => {
                    pending.retain(|(t, _)| *t != tid);
                }
                Ok(Response::Error { message, .. }) => {
                    return Err(format!(
                        "error reply {:?}",
                        String::from_utf8_lossy(message)
                    ))
                }
                other => return Err(format!("unexpected reply {other:?}")),
            },
            Err(_) => {
                tries += 1;
                if tries > 20 {
                    return Err(format!("{} announces never answered", pending.len()));
                }
                for (_, d) in pending.iter() {
                    s.send(d).map_err(|e| format!("send: {e}"))?;
                    resent += 1;
                }
            }
        }
    }
    Ok(resent)
}

fn load_thread(
    addr: SocketAddr,
    t: usize,
    mine: usize,
    start: Arc<Barrier>,
) -> Result<u64, String> {
    let conn = connect(addr);
    // Every thread meets the barrier, even one that failed to connect.
    start.wait();
    let (s, mut id) = conn?;
    let requests: Vec<AnnounceRequest> = (0..TORRENTS * PEERS / 64)
        .filter(|k| k % THREADS == t)
        .map(request)
        .collect();
    let mut renewed = Instant::now();
    let (mut done, mut k, mut resent) = (0, 0usize, 0);
    let mut pending = Vec::with_capacity(OUTSTANDING);
    let mut tid = 0u32;
    while done < mine {
        // Connection ids live about a minute (BEP 15).
        if renewed.elapsed() > Duration::from_secs(30) {
            id = connection_id(&s)?;
            renewed = Instant::now();
        }
        let batch = OUTSTANDING.min(mine - done);
        for _ in 0..batch {
            tid = tid.wrapping_add(1);
            let mut d = Vec::with_capacity(98);
            encode_announce_request(&mut d, id, tid, &requests[k % requests.len()]);
            s.send(&d).map_err(|e| format!("send: {e}"))?;
            pending.push((tid, d));
            k += 1;
        }
        resent += collect(&s, &mut pending)?;
        done += batch;
    }
    Ok(resent)
}

/// The load client's role: checks one announce, says `ready`, waits for
/// `go`, runs `n` announces and says `done NS RESENT`.
pub fn udp_load(addr: SocketAddr, n: usize) {
    let first = connect(addr).and_then(|(s, id)| {
        let mut d = Vec::new();
        encode_announce_request(&mut d, id, 7, &request(0));
        s.send(&d).map_err(|e| e.to_string())?;
        collect(&s, &mut vec![(7, d)]).map(|_| ())
    });
    if let Err(e) = first {
        return say(&format!("error {e}"));
    }
    say("ready");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let start = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let start = start.clone();
            let mine = n / THREADS + usize::from(t < n % THREADS);
            thread::spawn(move || load_thread(addr, t, mine, start))
        })
        .collect();
    // The connect exchanges happen before the barrier: not timed.
    start.wait();
    let t0 = Instant::now();
    let mut resent = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => resent += r,
            Ok(Err(e)) => return say(&format!("error {e}")),
            Err(_) => return say("error a load thread panicked"),
        }
    }
    say(&format!("done {} {resent}", t0.elapsed().as_nanos()));
}
