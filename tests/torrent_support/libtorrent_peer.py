# A libtorrent peer for the interop tests (tests/torrent_support/clients.rs
# embeds this file and runs it with /usr/bin/python3 -c).
#
#   libtorrent_peer.py seed|get SOURCE SAVE_PATH --port N [--peer HOST:PORT]...
#                      [--one-connection-per-ip] [--no-upload] [--lifetime SECS]
#
# SOURCE is a .torrent file or a magnet link; SAVE_PATH is the folder that
# holds (or will hold) the torrent's `name`. Only 127.0.0.1:PORT is listened
# on; no DHT, local discovery, UPnP/NAT-PMP, uTP or peer exchange (the
# session starts without the default plugins; ut_metadata, which magnet
# links need, and smart_ban are added back). While it has no peer it
# announces every 2 s.
#
# Stdout, one line each, flushed (the Rust side reads them from a log):
#   STATUS <state> <progress 0..1> <peers> <have bytes> <total bytes>
#                                           every 0.25 s
#   COMPLETE                                once: every piece checked and held
#   ERROR <text>                            the torrent stopped with an error
# Alerts (errors, peers, trackers, storage) go to stderr. It exits after
# --lifetime seconds (a bound should the Rust guard not kill it).
import argparse
import sys
import time

import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument('mode', choices=['seed', 'get'])
ap.add_argument('source')
ap.add_argument('save_path')
ap.add_argument('--port', type=int, required=True)
ap.add_argument('--peer', action='append', default=[])
ap.add_argument('--one-connection-per-ip', action='store_true')
ap.add_argument('--no-upload', action='store_true')
ap.add_argument('--lifetime', type=float, default=300.0)
a = ap.parse_args()

cat = lt.alert.category_t
s = lt.session({
    'listen_interfaces': '127.0.0.1:%d' % a.port,
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_incoming_utp': False,
    'enable_outgoing_utp': False,
    # Every peer of a test is on 127.0.0.1: without this libtorrent keeps
    # one connection per address and drops the others.
    'allow_multiple_connections_per_ip': not a.one_connection_per_ip,
    # --no-upload: no unchoke slots (for local peers too: below) and no
    # allowed-fast pieces (BEP 6: those may be requested while choked),
    # so no peer is sent a piece.
    'unchoke_slots_limit': 0 if a.no_upload else 8,
    'allowed_fast_set_size': 0 if a.no_upload else 5,
    'alert_mask': cat.error_notification | cat.peer_notification | cat.connect_notification
    | cat.tracker_notification | cat.storage_notification
    | cat.status_notification,
}, 0)
if a.no_upload:
    # Peers on the local network (127.0.0.1 here) are in the "local" peer
    # class, which by default ignores the unchoke slots: take that away.
    pc = s.get_peer_class(s.local_peer_class_id)
    pc['ignore_unchoke_slots'] = False
    s.set_peer_class(s.local_peer_class_id, pc)
s.add_extension('ut_metadata')
s.add_extension('smart_ban')

if a.source.startswith('magnet:'):
    p = lt.parse_magnet_uri(a.source)
else:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.source)
p.save_path = a.save_path
# Active at once: not queued behind the auto-manager, not paused.
p.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
h = s.add_torrent(p)


def peers():
    out = []
    for x in a.peer:
        host, port = x.rsplit(':', 1)
        out.append((host, int(port)))
    return out


def log_alerts():
    for al in s.pop_alerts():
        sys.stderr.write('libtorrent: %s: %s\n' % (type(al).__name__, al.message()))
    sys.stderr.flush()


end = time.time() + a.lifetime
complete = False
errored = False
next_dial = 0.0
next_announce = time.time() + 2.0
while time.time() < end:
    log_alerts()
    st = h.status()
    # Alone: dial the given peers (they may start after us) each second,
    # and announce every 2 s (libtorrent's own minimum is 5 minutes,
    # whatever interval the tracker says), to hear of peers that came
    # after us.
    if st.num_peers == 0 and time.time() >= next_dial:
        for addr in peers():
            h.connect_peer(addr)
        next_dial = time.time() + 1.0
    if st.num_peers == 0 and time.time() >= next_announce:
        h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        next_announce = time.time() + 2.0
    total = st.total_wanted
    print('STATUS %s %.4f %d %d %d' % (st.state, st.progress, st.num_peers,
                                       st.total_wanted_done, total), flush=True)
    if st.errc.value() != 0 and not errored:
        print('ERROR %s' % st.errc.message(), flush=True)
        errored = True
    done = st.state in (lt.torrent_status.seeding, lt.torrent_status.finished)
    if done and st.has_metadata and st.total_wanted_done == total and not complete:
        print('COMPLETE', flush=True)
        complete = True
    time.sleep(0.25)
