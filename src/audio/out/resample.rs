//! Linear resampling of interleaved 16-bit audio, across chunk boundaries,
//! for a device that cannot take a stream's rate.
//!
//! Output frame `k` is the input at position `k * from / to` frames,
//! interpolated linearly between the two input frames around it, in exact
//! integer arithmetic (no drift however long the stream). Linear
//! interpolation is cheap and good enough for speech and for a device one
//! standard rate away (44.1 kHz on a 48 kHz-only device); it does not
//! filter, so downsampling aliases what lies above the new Nyquist rate.

/// A streaming linear resampler; see the module documentation.
#[derive(Debug)]
pub struct LinearResampler {
    from: u64,
    to: u64,
    channels: usize,
    /// The last input frame of the previous chunk.
    prev: Vec<i16>,
    /// Input frames received before the current chunk.
    consumed: u64,
    /// The next output frame's input position, in units of 1/`to` frame.
    next_pos: u64,
}

impl LinearResampler {
    /// A resampler from `from` to `to` frames per second (both > 0).
    pub fn new(from: u32, to: u32, channels: u16) -> Self {
        let channels = usize::from(channels.max(1));
        LinearResampler {
            from: u64::from(from.max(1)),
            to: u64::from(to.max(1)),
            channels,
            prev: vec![0; channels],
            consumed: 0,
            next_pos: 0,
        }
    }

    /// Appends to `out` the output for `input` (interleaved whole frames;
    /// a partial last frame is ignored).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let ch = self.channels;
        let n = (input.len() / ch) as u64;
        if n == 0 {
            return;
        }
        let last = self.consumed + n - 1;
        let first_avail = self.consumed.saturating_sub(1);
        loop {
            let i = self.next_pos / self.to;
            if i + 1 > last {
                break;
            }
            debug_assert!(i >= first_avail);
            let frac = (self.next_pos % self.to) as i64;
            for c in 0..ch {
                let a = self.frame(input, i, c);
                let b = self.frame(input, i + 1, c);
                out.push(lerp(a, b, frac, self.to as i64));
            }
            self.next_pos += self.from;
        }
        let tail = &input[(n as usize - 1) * ch..n as usize * ch];
        self.prev.copy_from_slice(tail);
        self.consumed += n;
    }

    /// At the end of the stream: the output frames that fall on or before
    /// the last input frame and were waiting for a next one.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if self.consumed == 0 {
            return;
        }
        let last = self.consumed - 1;
        while self.next_pos / self.to <= last {
            out.extend_from_slice(&self.prev);
            self.next_pos += self.from;
        }
    }

    fn frame(&self, input: &[i16], abs: u64, c: usize) -> i16 {
        if abs + 1 == self.consumed {
            self.prev[c]
        } else {
            input[(abs - self.consumed) as usize * self.channels + c]
        }
    }
}

fn lerp(a: i16, b: i16, frac: i64, den: i64) -> i16 {
    let (a, b) = (i64::from(a), i64::from(b));
    let v = a * den + (b - a) * frac;
    // Round to nearest, halves away from zero.
    let r = if v >= 0 {
        (v + den / 2) / den
    } else {
        (v - den / 2) / den
    };
    r.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(from: u32, to: u32, ch: u16, input: &[i16], chunk: usize) -> Vec<i16> {
        let mut r = LinearResampler::new(from, to, ch);
        let mut out = Vec::new();
        for c in input.chunks(chunk * usize::from(ch)) {
            r.process(c, &mut out);
        }
        r.flush(&mut out);
        out
    }

    #[test]
    fn same_rate_is_identity_at_any_chunking() {
        let input: Vec<i16> = (0..200).map(|i| (i * 37 % 1000) as i16).collect();
        for chunk in [1, 3, 7, 100] {
            assert_eq!(run(8000, 8000, 2, &input, chunk), input);
        }
    }

    #[test]
    fn doubling_interpolates_midpoints() {
        let out = run(1000, 2000, 1, &[0, 100, 200, -100], 1);
        assert_eq!(out, vec![0, 50, 100, 150, 200, 50, -100, -100]);
    }

    #[test]
    fn frame_count_follows_the_ratio_without_drift() {
        let input = vec![0i16; 44100 * 2 * 3];
        let out = run(44100, 48000, 2, &input, 1024);
        assert_eq!(out.len(), 48000 * 2 * 3);
    }

    #[test]
    fn halving_takes_every_other_frame() {
        let input: Vec<i16> = (0..10).collect();
        assert_eq!(run(2000, 1000, 1, &input, 3), vec![0, 2, 4, 6, 8]);
    }
}
