//! FakeClient: a stand-in for the BitTorrent client that moves no data, for
//! testing what sits on top of the client (the service, patrons, tools)
//! step by step. It speaks the client's protocol on the client's four
//! standard boxes, records every request, and says what it is told to on
//! a fifth inbox, `script`.
//!
//! | box     | carries         | meaning                                            |
//! |---------|-----------------|----------------------------------------------------|
//! | inbox   | `ClientRequest` | requests, recorded in its [`FakeLog`] (and answered, in auto mode) |
//! | control | `Signal`        | any signal: it ends, sending the signal on `signal` (as the real client does once its torrents are closed) |
//! | script  | `FakeAction`    | events to send on `outbox`, or an end of its own (a crash, as far as its users can tell) |
//! | outbox  | `ClientEvent`   | the answers and events                             |
//! | signal  | `Signal`        | sent once, when it ends                            |
//!
//! In *manual* mode ([`FakeClient::manual`]) it answers nothing by itself:
//! the test sends each answer through `script`, in any order. In *auto*
//! mode ([`FakeClient::auto`]) it answers like a client that never
//! downloads: a `Create` of metainfo that parses, or of a magnet link, is
//! `Created` with ids 1, 2, 3, ... (`AlreadyDownloading` for an info-hash it
//! already runs), one that does not parse is `StartFailed`, and `Close` is
//! `Closed`. Nothing more: no status, no data.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler};
//! use kamaelia::protocol::torrent::client::{
//!     ClientEvent, ClientRequest, FakeClient, StartError, TorrentSource,
//! };
//! let fake = FakeClient::auto();
//! let log = fake.log();
//! let (req, ev) = (Outbox::new("req", "requests"), Inbox::inbox());
//! link(&req, &fake.inbox).unwrap();
//! link(&fake.outbox, &ev).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(fake);
//! req.send(ClientRequest::Create {
//!     token: 9,
//!     source: TorrentSource::Metainfo("not bencode".into()),
//!     save_dir: None,
//!     peers: vec![],
//! }).unwrap();
//! s.run_until_idle();
//! assert!(matches!(ev.recv(), Some(ClientEvent::StartFailed { token: 9, reason: StartError::BadMetainfo(_) })));
//! assert_eq!(log.borrow().requests.len(), 1);
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::axon::{BoxSet, Component, Cx, Id, Inbox, Outbox, Signal, Step};
use crate::protocol::torrent::magnet::Magnet;
use crate::protocol::torrent::maker::hex;
use crate::protocol::torrent::metainfo::Metainfo;
use crate::protocol::torrent::tracker::InfoHash;

use super::messages::{ClientEvent, ClientRequest, StartError, TorrentId, TorrentSource};
use super::service_parts::{ClientComponent, ClientPorts};

/// What a [`FakeClient`] is told to do on its `script` inbox.
#[derive(Clone, Debug, PartialEq)]
pub enum FakeAction {
    /// Send this event on `outbox`.
    Emit(ClientEvent),
    /// End now, sending this on `signal`, as if it had failed.
    End(Signal),
}

/// What a [`FakeClient`] saw, shared with the test.
#[derive(Debug, Default)]
pub struct FakeLog {
    /// Its id, once it has run.
    pub id: Option<Id>,
    /// Every request, in the order received.
    pub requests: Vec<ClientRequest>,
    /// The signal it ended with, once ended.
    pub ended: Option<Signal>,
}

/// The stand-in client; see the module documentation.
pub struct FakeClient {
    /// Requests.
    pub inbox: Inbox<ClientRequest>,
    /// Any signal ends it.
    pub control: Inbox<Signal>,
    /// What to say or do.
    pub script: Inbox<FakeAction>,
    /// Answers and events.
    pub outbox: Outbox<ClientEvent>,
    /// Sent once, when it ends.
    pub signal: Outbox<Signal>,
    log: Rc<RefCell<FakeLog>>,
    auto: bool,
    running: BTreeMap<InfoHash, TorrentId>,
    last_id: TorrentId,
}

impl FakeClient {
    /// A fake that answers only what `script` tells it to.
    pub fn manual() -> Self {
        Self::new(false)
    }

    /// A fake that answers `Create` and `Close` by itself (see the module
    /// documentation).
    pub fn auto() -> Self {
        Self::new(true)
    }

    fn new(auto: bool) -> Self {
        FakeClient {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            script: Inbox::new("script", "FakeAction: events to send, or an end"),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            log: Rc::default(),
            auto,
            running: BTreeMap::new(),
            last_id: 0,
        }
    }

    /// What it saw (shared: keep it to look after it has run).
    pub fn log(&self) -> Rc<RefCell<FakeLog>> {
        self.log.clone()
    }

    fn answer(&mut self, req: &ClientRequest) -> Option<ClientEvent> {
        match req {
            ClientRequest::SetLimits { .. } => None,
            ClientRequest::Create {
                token,
                source,
                save_dir,
                ..
            } => {
                let token = *token;
                let (info_hash, name) = match source {
                    TorrentSource::Metainfo(b) => match Metainfo::from_bytes(b) {
                        Ok(m) => (m.info_hash(), m.name().to_string()),
                        Err(e) => {
                            let reason = StartError::BadMetainfo(e.to_string());
                            return Some(ClientEvent::StartFailed { token, reason });
                        }
                    },
                    TorrentSource::Magnet(link) => match link.parse::<Magnet>() {
                        Ok(m) => {
                            let name = m.display_name.clone();
                            (m.info_hash, name.unwrap_or_else(|| hex(&m.info_hash)))
                        }
                        Err(e) => {
                            let reason = StartError::BadMagnet(e.to_string());
                            return Some(ClientEvent::StartFailed { token, reason });
                        }
                    },
                };
                if let Some(&id) = self.running.get(&info_hash) {
                    return Some(ClientEvent::AlreadyDownloading { token, id });
                }
                self.last_id += 1;
                let id = self.last_id;
                self.running.insert(info_hash, id);
                // The folder the files go in, as the real client says.
                let save_dir = save_dir.clone().unwrap_or_else(|| PathBuf::from("."));
                Some(ClientEvent::Created {
                    token,
                    id,
                    info_hash,
                    save_dir,
                    name,
                })
            }
            ClientRequest::AddPeer(..) => None,
            ClientRequest::Close(id) => {
                let before = self.running.len();
                self.running.retain(|_, v| v != id);
                Some(ClientEvent::Closed {
                    id: *id,
                    existed: self.running.len() != before,
                })
            }
        }
    }

    fn end(&mut self, sig: Signal) -> Step {
        self.log.borrow_mut().ended = Some(sig.clone());
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for FakeClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.log.borrow_mut().id = Some(cx.id());
        while let Some(req) = self.inbox.recv() {
            if self.auto {
                if let Some(ev) = self.answer(&req) {
                    let _ = self.outbox.send(ev);
                }
            }
            self.log.borrow_mut().requests.push(req);
        }
        while let Some(act) = self.script.recv() {
            match act {
                FakeAction::Emit(ev) => {
                    let _ = self.outbox.send(ev);
                }
                FakeAction::End(sig) => return self.end(sig),
            }
        }
        if let Some(sig) = self.control.recv() {
            return self.end(sig);
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.script, self.outbox, self.signal);
    }
}

impl ClientComponent for FakeClient {
    fn client_ports(&self) -> ClientPorts<'_> {
        ClientPorts {
            inbox: &self.inbox,
            control: &self.control,
            outbox: &self.outbox,
            signal: &self.signal,
        }
    }
}

/// A factory of auto-mode [`FakeClient`]s (for examples and tests of what
/// sits above the client).
pub fn fake_client_factory() -> super::service_parts::ClientFactory {
    Rc::new(|| super::service_parts::ClientParts::new(FakeClient::auto()))
}
