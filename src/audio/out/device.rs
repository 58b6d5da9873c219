//! What `AudioOut` needs of a sound device: [`AudioDevice`], the format
//! it negotiates ([`StreamFormat`]) and the typed errors ([`AudioOutError`]).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::ring::SampleRing;

/// A stream's shape: frames per second and interleaved channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamFormat {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
}

/// Why `AudioOut` could not play; carried by `Signal::Failed` on its
/// `signal` outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioOutError {
    /// There is no output device (no sound card, or none configured).
    NoDevice(String),
    /// The device takes no stream with this many channels (rates are
    /// resampled, channel counts are not converted).
    UnsupportedChannels {
        /// The stream's channels.
        channels: u16,
    },
    /// The device takes neither 16-bit nor float samples.
    UnsupportedSampleFormat(String),
    /// A chunk's rate or channel count is 0, or its samples are not whole
    /// frames.
    BadChunk {
        /// The chunk's rate.
        rate: u32,
        /// The chunk's channels.
        channels: u16,
        /// The chunk's sample count.
        samples: usize,
    },
    /// The device failed to open or start the stream.
    Device(String),
}

impl fmt::Display for AudioOutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioOutError::NoDevice(why) => write!(f, "no audio output device: {why}"),
            AudioOutError::UnsupportedChannels { channels } => {
                write!(f, "the audio device cannot play {channels} channel(s)")
            }
            AudioOutError::UnsupportedSampleFormat(what) => {
                write!(
                    f,
                    "the audio device takes no 16-bit or float samples ({what})"
                )
            }
            AudioOutError::BadChunk {
                rate,
                channels,
                samples,
            } => write!(
                f,
                "bad audio chunk: rate {rate}, {channels} channel(s), {samples} sample(s)"
            ),
            AudioOutError::Device(why) => write!(f, "audio device error: {why}"),
        }
    }
}

impl std::error::Error for AudioOutError {}

/// A sound device, as `AudioOut` uses it.
///
/// `AudioOut` first asks [`AudioDevice::negotiate`] which format the device
/// will run a stream of `want` at (the same channels; the same rate, or
/// another that `AudioOut` then resamples to), then makes a ring of that
/// format and calls [`AudioDevice::start`]. From then on the device pulls
/// samples from the ring on its own thread ([`SampleRing::pull`]), and
/// plays silence until data comes. Dropping the returned handle stops the
/// stream.
pub trait AudioDevice: 'static {
    /// The format the device will play a stream of `want` at.
    fn negotiate(&mut self, want: StreamFormat) -> Result<StreamFormat, AudioOutError>;

    /// Starts a stream of `format` (as negotiated) pulling from `ring`.
    fn start(
        &mut self,
        format: StreamFormat,
        ring: Arc<SampleRing>,
    ) -> Result<Box<dyn Any>, AudioOutError>;
}
