"""libtorrent's side of the `torrent_libtorrent_pair` row
(benches/torrent_bench/client.rs): one process per end, run with
/usr/bin/python3 (Debian's python3-libtorrent).

  lt_pair.py seed TORRENT DATA_DIR PORT SECS
      Seeds TORRENT from DATA_DIR (the folder holding its file), listening
      on 127.0.0.1:PORT. Says `seeding` once its data is checked, then
      serves until its standard input closes or SECS pass.
  lt_pair.py get TORRENT SAVE_DIR PORT SEED_ADDR SECS
      Downloads TORRENT into SAVE_DIR from SEED_ADDR (connect_peer),
      listening on 127.0.0.1:PORT. Says `first_peer NS` and `done NS`: ns
      from its add_torrent to its first connected peer and to
      `is_seeding` (every piece verified); `error ...` if SECS pass first.

Settings: only 127.0.0.1, no DHT, LSD, UPnP or NAT-PMP, several
connections per IP allowed (both ends are on 127.0.0.1), TCP only (uTP off:
our client speaks TCP only, and a uTP attempt first would measure uTP on
loopback). Everything else is libtorrent's default.
"""

import os
import sys
import threading
import time

import libtorrent as lt


def say(line):
    print(line, flush=True)


def session(port):
    return lt.session(
        {
            "listen_interfaces": "127.0.0.1:%d" % port,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "allow_multiple_connections_per_ip": True,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "alert_mask": lt.alert.category_t.error_notification
            | lt.alert.category_t.status_notification,
        }
    )


def add(ses, torrent, save_path):
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_path
    return ses.add_torrent(params)


def stop_after(secs, why):
    def end():
        say("error %s after %d s" % (why, secs))
        os._exit(2)

    t = threading.Timer(secs, end)
    t.daemon = True
    t.start()


def seed(torrent, data_dir, port, secs):
    stop_after(secs, "seeding still running")
    ses = session(port)
    h = add(ses, torrent, data_dir)
    while not h.status().is_seeding:
        ses.wait_for_alert(10)
        ses.pop_alerts()
        if h.status().errc.value() != 0:
            say("error %s" % h.status().errc.message())
            return 1
    say("seeding on port %d" % ses.listen_port())
    sys.stdin.read()
    return 0


def get(torrent, save_dir, port, seed_addr, secs):
    stop_after(secs, "not complete")
    host, seed_port = seed_addr.rsplit(":", 1)
    ses = session(port)
    t0 = time.monotonic_ns()
    h = add(ses, torrent, save_dir)
    h.connect_peer((host, int(seed_port)))
    first_peer = None
    while True:
        st = h.status()
        if first_peer is None and st.num_peers > 0:
            first_peer = time.monotonic_ns() - t0
        if st.is_seeding:
            break
        ses.wait_for_alert(5)
        ses.pop_alerts()
    done = time.monotonic_ns() - t0
    say("first_peer %d" % (first_peer if first_peer is not None else done))
    say("done %d" % done)
    return 0


def main(argv):
    if argv[1] == "seed":
        return seed(argv[2], argv[3], int(argv[4]), int(argv[5]))
    if argv[1] == "get":
        return get(argv[2], argv[3], int(argv[4]), argv[5], int(argv[6]))
    say("error unknown role %s" % argv[1])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
