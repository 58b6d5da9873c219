//! The BEP 10 extension handshake: a bencoded dictionary sent as extended
//! message 0 right after the BitTorrent handshake.
//!
//! `m` maps each extension's name to the id the sender wants it sent
//! under (0: disabled); `metadata_size` (BEP 9) is the info dictionary's
//! size; `reqq` how many requests the sender queues; `v` its name and
//! version; `p` its listening port; `yourip` the address it sees us at.
//! Keys not listed here are skipped; a listed key of the wrong kind is an
//! [`ExtError`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::message::MessageId;
use super::{ExtError, WireError, EXT_HANDSHAKE_ID};
use crate::protocol::torrent::bencode::{decode_with, Dict, Limits, Mode, Owned, Value};

/// The extension handshake's fields.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ExtHandshake {
    /// Extension name to message id (0: the sender disabled it).
    pub m: BTreeMap<String, u8>,
    /// The info dictionary's size in bytes (BEP 9).
    pub metadata_size: Option<u64>,
    /// How many outstanding requests the sender queues.
    pub reqq: Option<u32>,
    /// The sender's client name and version.
    pub v: Option<String>,
    /// The sender's listening port.
    pub p: Option<u16>,
    /// Our address as the sender sees it.
    pub yourip: Option<IpAddr>,
}

fn wrong(field: &'static str, expected: &'static str) -> ExtError {
    ExtError::WrongType { field, expected }
}

fn int<T: TryFrom<i64>>(d: &Dict<'_>, field: &'static str) -> Result<Option<T>, ExtError> {
    match d.get(field.as_bytes()) {
        None => Ok(None),
        Some(v) => {
            let i = v.as_int().ok_or_else(|| wrong(field, "an integer"))?;
            T::try_from(i)
                .map(Some)
                .map_err(|_| ExtError::OutOfRange(field))
        }
    }
}

impl ExtHandshake {
    /// The id the sender gave extension `name`, unless absent or disabled.
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// The bencoded dictionary (keys sorted, so it reads back the same).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut d = Owned::dict();
        let mut m = Owned::dict();
        for (name, id) in &self.m {
            m.insert(name, u32::from(*id));
        }
        d.insert("m", m);
        if let Some(n) = self.metadata_size {
            d.insert("metadata_size", i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(n) = self.reqq {
            d.insert("reqq", n);
        }
        if let Some(v) = &self.v {
            d.insert("v", v.as_str());
        }
        if let Some(p) = self.p {
            d.insert("p", u32::from(p));
        }
        match self.yourip {
            Some(IpAddr::V4(a)) => d.insert("yourip", &a.octets()[..]),
            Some(IpAddr::V6(a)) => d.insert("yourip", &a.octets()[..]),
            None => {}
        }
        d.encode()
    }

    /// Appends the whole message (length prefix, id 20, extension id 0).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        let payload = self.to_bytes();
        let len =
            u32::try_from(payload.len() + 2).map_err(|_| WireError::TooLong(payload.len()))?;
        out.reserve(4 + len as usize);
        out.put_u32(len);
        out.put_u8(MessageId::Extended as u8);
        out.put_u8(EXT_HANDSHAKE_ID);
        out.put_slice(&payload);
        Ok(())
    }

    /// Reads the payload of extended message 0.
    pub fn parse(payload: &[u8]) -> Result<ExtHandshake, ExtError> {
        // Small limits: a handshake is a flat dictionary with one inner one.
        let limits = Limits {
            max_depth: 8,
            max_items: 4096,
        };
        let top = decode_with(payload, Mode::Lenient, &limits)?;
        let d = top.as_dict().ok_or(ExtError::NotADictionary)?;
        let mut hs = ExtHandshake::default();
        if let Some(m) = d.get(b"m") {
            let m = m.as_dict().ok_or_else(|| wrong("m", "a dictionary"))?;
            for (name, id) in m.iter() {
                let id = id.as_int().ok_or_else(|| wrong("m", "integers"))?;
                let id = u8::try_from(id).map_err(|_| ExtError::OutOfRange("m"))?;
                // A name that is not UTF-8 names no extension we know.
                if let Ok(name) = std::str::from_utf8(name) {
                    hs.m.insert(name.to_string(), id);
                }
            }
        }
        hs.metadata_size = int(d, "metadata_size")?;
        hs.reqq = int(d, "reqq")?;
        hs.p = int(d, "p")?;
        hs.v = match d.get(b"v") {
            None => None,
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Some(_) => return Err(wrong("v", "a string")),
        };
        hs.yourip = match d.get(b"yourip") {
            None => None,
            Some(Value::Bytes(b)) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                    Some(IpAddr::V4(Ipv4Addr::from(v4)))
                } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                    Some(IpAddr::V6(Ipv6Addr::from(v6)))
                } else {
                    return Err(ExtError::OutOfRange("yourip"));
                }
            }
            Some(_) => return Err(wrong("yourip", "a string")),
        };
        Ok(hs)
    }
}
