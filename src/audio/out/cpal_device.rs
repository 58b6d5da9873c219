//! [`CpalDevice`]: the system's sound device through `cpal` (ALSA on
//! Linux), for `AudioOut`. Compiled with the `audio-out` feature only.
//!
//! cpal runs the device's callback on its own thread; the callback pulls
//! from the ring (no allocation, no lock) and measures the output latency
//! from cpal's timestamps, which `AudioOut` waits out at the end of a
//! stream. Errors map to [`AudioOutError`]: no default device, or one that
//! cannot even be queried or opened, is [`AudioOutError::NoDevice`].

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, BuildStreamError, OutputCallbackInfo, SampleFormat, SampleRate, StreamConfig,
    SupportedStreamConfigsError,
};

use super::device::{AudioDevice, AudioOutError, StreamFormat};
use super::ring::SampleRing;

/// Extra time kept on top of the measured latency before closing, for
/// the device's own period of slack.
const TAIL_MARGIN: Duration = Duration::from_millis(50);

/// The default output device of cpal's default host; see the module docs.
pub struct CpalDevice {
    device: Option<cpal::Device>,
    sample_format: SampleFormat,
}

impl CpalDevice {
    /// The default output device (looked up when the first stream opens).
    pub fn default_output() -> Self {
        CpalDevice {
            device: None,
            sample_format: SampleFormat::I16,
        }
    }
}

fn no_device_cfg(e: SupportedStreamConfigsError) -> AudioOutError {
    AudioOutError::NoDevice(format!("the default output device cannot be opened: {e}"))
}

fn build_error(e: BuildStreamError) -> AudioOutError {
    match e {
        BuildStreamError::DeviceNotAvailable => AudioOutError::NoDevice(e.to_string()),
        other => AudioOutError::Device(other.to_string()),
    }
}

impl AudioDevice for CpalDevice {
    fn negotiate(&mut self, want: StreamFormat) -> Result<StreamFormat, AudioOutError> {
        let host = cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| AudioOutError::NoDevice("no default output device".into()))?;
        let configs: Vec<_> = device
            .supported_output_configs()
            .map_err(no_device_cfg)?
            .collect();
        if configs.is_empty() {
            return Err(AudioOutError::NoDevice(
                "the device offers no output".into(),
            ));
        }
        let with_channels: Vec<_> = configs
            .iter()
            .filter(|c| c.channels() == want.channels)
            .collect();
        if with_channels.is_empty() {
            return Err(AudioOutError::UnsupportedChannels {
                channels: want.channels,
            });
        }
        let pick = |f: SampleFormat| {
            let usable: Vec<_> = with_channels
                .iter()
                .filter(|c| c.sample_format() == f)
                .collect();
            // The rate each range comes closest to `want` at.
            usable
                .iter()
                .map(|c| {
                    want.rate
                        .clamp(c.min_sample_rate().0, c.max_sample_rate().0)
                })
                .min_by_key(|r| r.abs_diff(want.rate))
        };
        let (format, rate) = match (pick(SampleFormat::I16), pick(SampleFormat::F32)) {
            (Some(r), _) if r == want.rate => (SampleFormat::I16, r),
            (_, Some(r)) if r == want.rate => (SampleFormat::F32, r),
            (Some(r), _) => (SampleFormat::I16, r),
            (None, Some(r)) => (SampleFormat::F32, r),
            (None, None) => {
                let offered: Vec<String> = with_channels
                    .iter()
                    .map(|c| c.sample_format().to_string())
                    .collect();
                return Err(AudioOutError::UnsupportedSampleFormat(offered.join(", ")));
            }
        };
        self.device = Some(device);
        self.sample_format = format;
        Ok(StreamFormat {
            rate,
            channels: want.channels,
        })
    }

    fn start(
        &mut self,
        format: StreamFormat,
        ring: Arc<SampleRing>,
    ) -> Result<Box<dyn Any>, AudioOutError> {
        let device = self
            .device
            .as_ref()
            .ok_or_else(|| AudioOutError::Device("start before negotiate".into()))?;
        let config = StreamConfig {
            channels: format.channels,
            sample_rate: SampleRate(format.rate),
            buffer_size: BufferSize::Default,
        };
        let rate = f64::from(format.rate);
        let channels = usize::from(format.channels);
        let errors = ring.stats().clone();
        let on_error = move |e: cpal::StreamError| {
            log::warn!("audio device: {e}");
            errors.device_error();
        };
        // The latency of a callback's data: until its first frame plays,
        // plus the buffer's own length.
        let measure = move |info: &OutputCallbackInfo, samples: usize| {
            let t = info.timestamp();
            let ahead = t.playback.duration_since(&t.callback).unwrap_or_default();
            let span = Duration::from_secs_f64((samples / channels) as f64 / rate);
            ahead + span + TAIL_MARGIN
        };
        let stream = match self.sample_format {
            SampleFormat::F32 => {
                let r = ring.clone();
                device.build_output_stream(
                    &config,
                    move |data: &mut [f32], info: &OutputCallbackInfo| {
                        r.pull_f32(data);
                        r.stats().max_latency(measure(info, data.len()));
                    },
                    on_error,
                    None,
                )
            }
            _ => {
                let r = ring.clone();
                device.build_output_stream(
                    &config,
                    move |data: &mut [i16], info: &OutputCallbackInfo| {
                        r.pull(data);
                        r.stats().max_latency(measure(info, data.len()));
                    },
                    on_error,
                    None,
                )
            }
        }
        .map_err(build_error)?;
        // Until the first callback measures it: a guess of two periods.
        ring.stats().max_latency(Duration::from_millis(100));
        stream
            .play()
            .map_err(|e| AudioOutError::Device(e.to_string()))?;
        Ok(Box::new(stream))
    }
}
