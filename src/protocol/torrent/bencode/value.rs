//! Decoded bencode values, borrowing from the input they were read from.

use super::encode::{self, Owned};

/// One decoded value. Byte strings and the raw bytes of dictionaries are
/// slices of the decoded input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i42e`
    Int(i64),
    /// `4:spam` (any bytes; not necessarily UTF-8)
    Bytes(&'a [u8]),
    /// `l...e`
    List(Vec<Value<'a>>),
    /// `d...e`
    Dict(Dict<'a>),
}

/// A dictionary: its entries in the order found, and its raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dict<'a> {
    pub(super) entries: Vec<(&'a [u8], Value<'a>)>,
    pub(super) raw: &'a [u8],
    /// Keys strictly increasing in the input, so `get` may bisect.
    pub(super) sorted: bool,
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The integer as a `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_int().and_then(|i| u64::try_from(i).ok())
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string, if this is a byte string holding UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the kind of value, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// A copy that owns its bytes (dictionary keys sorted, as [`Owned`]
    /// always encodes them).
    pub fn to_owned_value(&self) -> Owned {
        match self {
            Value::Int(i) => Owned::Int(*i),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
            Value::List(l) => Owned::List(l.iter().map(Value::to_owned_value).collect()),
            Value::Dict(d) => Owned::Dict(
                d.entries
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned_value()))
                    .collect(),
            ),
        }
    }

    /// Encodes this value as it was read: dictionary entries in the order
    /// found. For input read in strict mode the output equals the input.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => encode::int(out, *i),
            Value::Bytes(b) => encode::bytes(out, b),
            Value::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in &d.entries {
                    encode::bytes(out, k);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

impl<'a> Dict<'a> {
    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        if self.sorted {
            self.entries
                .binary_search_by(|(k, _)| (*k).cmp(key))
                .ok()
                .map(|i| &self.entries[i].1)
        } else {
            self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        }
    }

    /// The dictionary's bytes exactly as found in the input, `d` to `e`.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The entries in the order found.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the keys were sorted and unique in the input (canonical).
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }
}
