//! Marshaller and DeMarshaller: turn values into bytes and back (Kamaelia's
//! `KA/Util/Marshalling.py`).
//!
//! [`Marshaller`] encodes each message on `inbox` into [`Bytes`];
//! [`DeMarshaller`] decodes each [`Bytes`] back into a value. Both are built
//! from functions (`encode: FnMut(&T) -> Bytes`, `decode: FnMut(&Bytes) ->
//! Result<T, E>`), or from the small [`Marshal`] trait, which the original's
//! `klass.marshall` / `klass.demarshall` pair becomes. `Marshal` is
//! implemented for `String` (UTF-8), `Bytes` and `Vec<u8>` (as they are),
//! and the fixed-width integers and floats (big-endian, exactly their
//! width: 4 bytes for a `u32`).
//!
//! | box     | carries  | meaning (Marshaller / DeMarshaller)               |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `T` / `Bytes` | values to encode / bytes to decode           |
//! | control | `Signal` | producer finished (or failed): handle what waits, then end; shutdown: end now |
//! | outbox  | `Bytes` / `T` | one message out per message in, in order     |
//! | signal  | `Signal` | the control signal that ended it, passed on (or, for a DeMarshaller set to [`fail_on_error`](DeMarshaller::fail_on_error), the failure) |
//!
//! Both honour back-pressure: a message refused by a full destination is
//! kept, and no more input is read until the consumer takes one (nothing is
//! lost or reordered). A finishing signal is passed on only after the input
//! already waiting has been sent.
//!
//! # Bad input
//!
//! A decode error is never a panic. By default the DeMarshaller **skips**
//! the bad message and goes on with the next: it counts it in a shared
//! [`Counter`] ([`DeMarshaller::errors`]) and logs it (`warn`, with the
//! error and the input's length). One corrupt message in a stream does not
//! stop the stream. With [`DeMarshaller::fail_on_error`] it instead **stops**
//! at the first bad message: it sends `Signal::Failed` carrying a
//! [`DemarshalError`] (the typed error and the input) on `signal`, and ends;
//! input after the bad message is left undelivered. (The original raised
//! the exception inside the scheduler.)
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::testing::Harness;
//! use kamaelia::util::{DeMarshaller, Marshaller};
//! let mut h = Harness::new();
//! let enc = h.spawn(Marshaller::<u16>::standard());
//! let to_enc = h.feeder::<u16>(enc, "inbox").unwrap();
//! let wire = h.collector::<Bytes>(enc, "outbox").unwrap();
//! let dec = DeMarshaller::<u16, _>::standard();
//! let errors = dec.errors();
//! let dec = h.spawn(dec);
//! let to_dec = h.feeder::<Bytes>(dec, "inbox").unwrap();
//! let back = h.collector::<u16>(dec, "outbox").unwrap();
//!
//! to_enc.send(258).unwrap();
//! h.run_until_idle();
//! let bytes = wire.recv().unwrap();
//! assert_eq!(bytes, [1, 2][..]); // big-endian
//! to_dec.send(bytes).unwrap();
//! to_dec.send(Bytes::from_static(&[1, 2, 3])).unwrap(); // not a u16
//! to_dec.send(Bytes::from_static(&[0, 7])).unwrap();
//! h.run_until_idle();
//! assert_eq!(back.drain(), [258, 7]); // the bad one skipped...
//! assert_eq!(errors.get(), 1); // ...and counted
//! ```

use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::lossy::Counter;
use super::relay::Relay;

// ---------------------------------------------------------------- Marshal

/// A value that can be turned into bytes and back.
///
/// `demarshal(&v.marshal())` gives `v` back.
pub trait Marshal: Sized + 'static {
    /// Why some bytes are not a value of this type.
    type Error: fmt::Debug + fmt::Display + Send + Sync + 'static;
    /// The value as bytes.
    fn marshal(&self) -> Bytes;
    /// The value as bytes, consuming it: what [`Marshaller::standard`]
    /// uses. The default calls [`marshal`](Marshal::marshal); `String`,
    /// `Vec<u8>` and `Bytes` hand over their buffer without copying it.
    fn into_marshalled(self) -> Bytes {
        self.marshal()
    }
    /// The value these bytes encode.
    fn demarshal(data: &Bytes) -> Result<Self, Self::Error>;
}

impl Marshal for Bytes {
    type Error = Infallible;
    fn marshal(&self) -> Bytes {
        self.clone()
    }
    fn into_marshalled(self) -> Bytes {
        self
    }
    fn demarshal(data: &Bytes) -> Result<Self, Infallible> {
        Ok(data.clone())
    }
}

impl Marshal for Vec<u8> {
    type Error = Infallible;
    fn marshal(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
    fn into_marshalled(self) -> Bytes {
        Bytes::from(self)
    }
    fn demarshal(data: &Bytes) -> Result<Self, Infallible> {
        Ok(data.to_vec())
    }
}

impl Marshal for String {
    type Error = std::str::Utf8Error;
    fn marshal(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
    fn into_marshalled(self) -> Bytes {
        Bytes::from(self)
    }
    fn demarshal(data: &Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(data).map(str::to_owned)
    }
}

/// Bytes of the wrong length for a fixed-width number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthError {
    /// The width of the type.
    pub expected: usize,
    /// The length received.
    pub got: usize,
}

impl fmt::Display for LengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.got)
    }
}

impl std::error::Error for LengthError {}

macro_rules! marshal_numbers {
    ($($t:ty),*) => {$(
        impl Marshal for $t {
            type Error = LengthError;
            fn marshal(&self) -> Bytes {
                Bytes::copy_from_slice(&self.to_be_bytes())
            }
            fn demarshal(data: &Bytes) -> Result<Self, LengthError> {
                let raw = <[u8; std::mem::size_of::<$t>()]>::try_from(&data[..]).map_err(|_| {
                    LengthError { expected: std::mem::size_of::<$t>(), got: data.len() }
                })?;
                Ok(<$t>::from_be_bytes(raw))
            }
        }
    )*};
}

marshal_numbers!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

// ---------------------------------------------------------------- errors

/// Why a [`DeMarshaller`] set to fail on errors stopped: the decoder's
/// error and the input it refused. Carried by `Signal::Failed`; get it back
/// with `failure.downcast_ref::<DemarshalError<E>>()`.
#[derive(Clone, Debug)]
pub struct DemarshalError<E> {
    error: E,
    input: Bytes,
}

impl<E> DemarshalError<E> {
    /// The decoder's error.
    pub fn error(&self) -> &E {
        &self.error
    }

    /// The bytes that could not be decoded.
    pub fn input(&self) -> &Bytes {
        &self.input
    }
}

impl<E: fmt::Display> fmt::Display for DemarshalError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode {} bytes: {}",
            self.input.len(),
            self.error
        )
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for DemarshalError<E> {}

// ---------------------------------------------------------------- codecs

/// How a [`Marshaller`] turns a value into bytes: [`Standard`] (the
/// value's own [`Marshal`] encoding) or [`Func`] (a function given to
/// [`Marshaller::new`]). The codec is a type parameter, not a boxed
/// function: no allocation, no indirect call, and the standard encodings
/// inline.
pub trait Encode<T> {
    /// The value as bytes.
    fn encode(&mut self, value: T) -> Bytes;
}

/// How a [`DeMarshaller`] turns bytes into a value: [`Standard`] or
/// [`Func`] (a function given to [`DeMarshaller::new`]).
pub trait Decode<T, E> {
    /// The value these bytes encode.
    fn decode(&mut self, data: &Bytes) -> Result<T, E>;
}

/// The [`Marshal`] encoding and decoding of the type: the codec of
/// [`Marshaller::standard`] and [`DeMarshaller::standard`], and the
/// default, so `Marshaller<T>` and `DeMarshaller<T, E>` name those.
#[derive(Clone, Copy, Debug, Default)]
pub struct Standard;

impl<T: Marshal> Encode<T> for Standard {
    fn encode(&mut self, value: T) -> Bytes {
        value.into_marshalled()
    }
}

impl<T: Marshal> Decode<T, T::Error> for Standard {
    fn decode(&mut self, data: &Bytes) -> Result<T, T::Error> {
        T::demarshal(data)
    }
}

/// A function as a codec: `FnMut(&T) -> Bytes` to encode,
/// `FnMut(&Bytes) -> Result<T, E>` to decode.
pub struct Func<F>(F);

impl<T, F: FnMut(&T) -> Bytes> Encode<T> for Func<F> {
    fn encode(&mut self, value: T) -> Bytes {
        (self.0)(&value)
    }
}

impl<T, E, F: FnMut(&Bytes) -> Result<T, E>> Decode<T, E> for Func<F> {
    fn decode(&mut self, data: &Bytes) -> Result<T, E> {
        (self.0)(data)
    }
}

// ---------------------------------------------------------------- Marshaller

/// Encodes each message into bytes; see the module documentation. `C` is
/// the codec, a type parameter rather than a boxed function (no
/// allocation, no indirect call per message): `Standard`, `T`'s own
/// [`Marshal`] encoding (from [`standard`](Marshaller::standard), and the
/// default, so `Marshaller<T>` names it), or `Func`, a function (from
/// [`new`](Marshaller::new)).
pub struct Marshaller<T: 'static, C = Standard> {
    /// Values to encode.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The encoded values.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    encode: C,
    relay: Relay<Bytes>,
}

impl<T: 'static, C: Encode<T>> Marshaller<T, C> {
    fn with_codec(encode: C) -> Self {
        Marshaller {
            inbox: Inbox::new("inbox", "values to encode"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the encoded values"),
            signal: Outbox::signal(),
            encode,
            relay: Relay::new(),
        }
    }
}

impl<T: 'static, F: FnMut(&T) -> Bytes> Marshaller<T, Func<F>> {
    /// A marshaller that encodes with `encode`.
    pub fn new(encode: F) -> Self {
        Self::with_codec(Func(encode))
    }
}

impl<T: Marshal> Marshaller<T> {
    /// A marshaller using `T`'s [`Marshal`] encoding (without copying the
    /// buffer of a `String`, `Vec<u8>` or `Bytes`).
    pub fn standard() -> Self {
        Self::with_codec(Standard)
    }
}

impl<T: Marshal> Default for Marshaller<T> {
    fn default() -> Self {
        Self::standard()
    }
}

impl<T: 'static, C: Encode<T> + 'static> Component for Marshaller<T, C> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let encode = &mut self.encode;
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |m| Some(encode.encode(m)),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

// ---------------------------------------------------------------- DeMarshaller

/// Decodes each message from bytes; see the module documentation. `D` is
/// the codec, as for [`Marshaller`]: `Standard`, `T`'s own [`Marshal`]
/// decoding (from [`standard`](DeMarshaller::standard), and the default),
/// or `Func`, a function (from [`new`](DeMarshaller::new)).
pub struct DeMarshaller<T: 'static, E: 'static, D = Standard> {
    /// Bytes to decode.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The decoded values.
    pub outbox: Outbox<T>,
    /// The signal that ended it, or the failure.
    pub signal: Outbox<Signal>,
    decode: D,
    errors: Counter,
    fail: bool,
    relay: Relay<T>,
    _error: PhantomData<fn() -> E>,
}

impl<T: 'static, E, F> DeMarshaller<T, E, Func<F>>
where
    E: fmt::Debug + fmt::Display + Send + Sync + 'static,
    F: FnMut(&Bytes) -> Result<T, E>,
{
    /// A demarshaller that decodes with `decode`, skipping (and counting)
    /// the messages it cannot decode.
    pub fn new(decode: F) -> Self {
        Self::with_codec(Func(decode))
    }
}

impl<T: 'static, E, D> DeMarshaller<T, E, D>
where
    E: fmt::Debug + fmt::Display + Send + Sync + 'static,
    D: Decode<T, E>,
{
    fn with_codec(decode: D) -> Self {
        DeMarshaller {
            inbox: Inbox::new("inbox", "bytes to decode"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the decoded values"),
            signal: Outbox::signal(),
            decode,
            errors: Counter::new(),
            fail: false,
            relay: Relay::new(),
            _error: PhantomData,
        }
    }

    /// On the first message that cannot be decoded: skip it and go on
    /// (false, the default), or stop, sending `Signal::Failed` with a
    /// [`DemarshalError`] (true).
    pub fn fail_on_error(mut self, on: bool) -> Self {
        self.fail = on;
        self
    }

    /// A handle on the number of messages that could not be decoded.
    pub fn errors(&self) -> Counter {
        self.errors.clone()
    }
}

impl<T: Marshal> DeMarshaller<T, T::Error> {
    /// A demarshaller using `T`'s [`Marshal`] decoding.
    pub fn standard() -> Self {
        Self::with_codec(Standard)
    }
}

impl<T: Marshal> Default for DeMarshaller<T, T::Error> {
    fn default() -> Self {
        Self::standard()
    }
}

impl<T: 'static, E, D> Component for DeMarshaller<T, E, D>
where
    E: fmt::Debug + fmt::Display + Send + Sync + 'static,
    D: Decode<T, E> + 'static,
{
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let (decode, errors, fail) = (&mut self.decode, &self.errors, self.fail);
        self.relay.step_or_end(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |data| match decode.decode(&data) {
                Ok(v) => Ok(Some(v)),
                Err(error) => {
                    let n = errors.bump();
                    if fail {
                        return Err(Signal::failed(DemarshalError { error, input: data }));
                    }
                    log::warn!(
                        "DeMarshaller: skipped {} bytes that cannot be decoded ({n} so far): {error}",
                        data.len()
                    );
                    Ok(None)
                }
            },
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
