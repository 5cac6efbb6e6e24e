//! [`OpusToAac`]: Opus packets with their 48 kHz RTP timestamps in, AAC-LC access units at
//! 48 kHz with ms timestamps out.

use opus::{Channels, Decoder};

use crate::aac_encoder::AacEncoder;
use crate::{AudioError, AAC_FRAME_SAMPLES, OUTPUT_SAMPLE_RATE};

/// The AAC output sampling rate in Hz: Opus' own 48 kHz (RFC 7587 §4: the RTP clock rate of
/// Opus is always 48 000), so nothing is resampled. FLV's SoundRate field cannot say 48 kHz;
/// players take the rate from the AudioSpecificConfig.
pub const AAC_SAMPLE_RATE: u32 = OUTPUT_SAMPLE_RATE;
/// Default AAC-LC bitrate in bits/s, for mono and stereo alike.
pub const DEFAULT_AAC_BITRATE: u32 = 128_000;
/// Lowest accepted AAC bitrate in bits/s.
pub const MIN_AAC_BITRATE: u32 = 8_000;
/// Highest accepted AAC bitrate in bits/s. FDK AAC lowers a request above what the
/// configuration can carry to its own ceiling (288 kb/s for mono AAC-LC at 48 kHz).
pub const MAX_AAC_BITRATE: u32 = 320_000;
/// Largest accepted Opus packet in bytes: an RTP payload fits a UDP datagram. RFC 6716 §3.2.5
/// allows 48 frames of up to 1 275 bytes plus padding; real senders stay under an MTU.
pub const MAX_OPUS_PACKET_BYTES: usize = 65_535;
/// Longest timestamp gap, in 48 kHz samples (1 s), concealed by libopus (packet loss
/// concealment, in-band FEC, comfort noise after DTX). A longer jump, forward or backward, is a
/// discontinuity: see [`OpusToAac::push`].
pub const MAX_CONCEAL_SAMPLES: u32 = 48_000;
/// Longest Opus packet in 48 kHz samples: 120 ms (RFC 6716 §3.2.5).
const MAX_OPUS_PACKET_SAMPLES: usize = 5_760;
/// libopus decodes (and conceals) in multiples of 2.5 ms.
const OPUS_GRANULE: i64 = 120;

/// One AAC-LC access unit: a raw_data_block (ISO/IEC 14496-3 §4.4.2.1) without ADTS header,
/// the body of an FLV AAC raw audio tag after its 2-byte header (AACPacketType 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacFrame {
    /// The access unit's bytes.
    pub data: Vec<u8>,
    /// Presentation time of the unit's first sample in 48 kHz ticks on the input's RTP time
    /// line, extended to 64 bits across 2^32 wraps (see [`OpusToAac::push`]): consecutive units
    /// are 1 024 ticks apart.
    pub timestamp: u64,
}

impl AacFrame {
    /// [`timestamp`](Self::timestamp) in ms (`timestamp / 48`, fractional: units are
    /// 21.333… ms apart). FLV timestamps are whole ms: round, after subtracting the base the
    /// caller maps RTP time to.
    pub fn pts_ms(&self) -> f64 {
        self.timestamp as f64 * 1000.0 / AAC_SAMPLE_RATE as f64
    }
}

/// What an [`OpusToAac`] did with its input so far (not reset by [`OpusToAac::flush`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpusToAacStats {
    /// Opus packets decoded.
    pub packets: u64,
    /// 48 kHz samples (per channel) synthesised for timestamp gaps: lost packets, packets not
    /// sent during DTX.
    pub concealed_samples: u64,
    /// Packets dropped because their timestamp was not after the last decoded packet's
    /// (duplicates, or reordered ones whose slot was already concealed).
    pub late_packets: u64,
    /// Timestamp jumps beyond [`MAX_CONCEAL_SAMPLES`] that restarted the time line.
    pub discontinuities: u64,
}

/// Where the stream stands, in 48 kHz ticks on the extended RTP time line.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// The last decoded packet's RTP timestamp as received.
    last_rtp: u32,
    /// The same, extended.
    last_ext: i64,
    /// The time line's first sample: the first packet's timestamp.
    anchor: i64,
    /// Where the next decoded sample goes.
    position: i64,
    /// Timestamp of the next access unit.
    next_au: i64,
}

/// Transcodes one Opus stream (a WebRTC publisher's audio, RFC 7587) to AAC-LC for RTMP/FLV
/// players, sans-IO.
///
/// Pipeline: libopus decoder at 48 kHz with the configured channel count (libopus mixes a
/// stereo packet down to mono, or plays a mono one on both channels) → 16-bit PCM → FDK AAC
/// encoder, AAC-LC, 48 kHz, constant bitrate, raw access units (no ADTS), 1 024 samples each.
///
/// Drain rule: every [`push`](Self::push) appends all access units that became complete to the
/// caller's vector; [`flush`](Self::flush) ends the stream and outputs the rest.
///
/// Timing: unit `k` of a time line has timestamp `anchor + k × 1024`, where `anchor` is the
/// extended RTP timestamp of the time line's first packet; it decodes to the publisher's audio
/// from exactly that instant. FDK AAC delays its output by
/// [`delay_samples`](Self::delay_samples) (2 048 samples, 42.7 ms); that much is trimmed from
/// the start of each time line rather than shifted into the timestamps (as in
/// [`AacToOpus`](crate::AacToOpus)), so audio stays in sync with video and no timestamp falls
/// before the anchor. The wall-clock latency added is that delay plus framing (< 1 024 samples
/// waiting to fill a unit).
pub struct OpusToAac {
    channels: usize,
    bitrate: u32,
    decoder: Decoder,
    encoder: AacEncoder,
    /// AudioSpecificConfig written by the encoder.
    asc: Vec<u8>,
    /// Encoder delay in samples per channel (`nDelay`).
    delay: usize,
    /// Decoder output scratch, interleaved.
    decoded: Vec<i16>,
    /// PCM waiting to be encoded, interleaved.
    pcm: Vec<i16>,
    /// Samples per channel still to drop at the start of the time line.
    trim: usize,
    /// Access unit scratch.
    au: Vec<u8>,
    timeline: Option<Timeline>,
    stats: OpusToAacStats,
}

impl std::fmt::Debug for OpusToAac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusToAac")
            .field("channels", &self.channels)
            .field("bitrate", &self.bitrate)
            .field("asc", &self.asc)
            .field("delay", &self.delay)
            .field("timeline", &self.timeline)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OpusToAac {
    /// A transcoder to AAC-LC at 48 kHz with `channels` (1 or 2) at `bitrate` bits/s
    /// ([`MIN_AAC_BITRATE`] ..= [`MAX_AAC_BITRATE`]; [`DEFAULT_AAC_BITRATE`] is a good
    /// default). The Opus stream may be mono or stereo, and change between packets.
    ///
    /// Errors: [`AudioError::InvalidChannels`], [`AudioError::InvalidAacBitrate`],
    /// [`AudioError::Encoder`] / [`AudioError::AacEncoder`] when a codec cannot be set up,
    /// [`AudioError::AacEncoderUnavailable`] in a build without the `fdk-aac` feature.
    pub fn new(channels: u32, bitrate: u32) -> Result<Self, AudioError> {
        if !(1..=2).contains(&channels) {
            return Err(AudioError::InvalidChannels { channels });
        }
        if !(MIN_AAC_BITRATE..=MAX_AAC_BITRATE).contains(&bitrate) {
            return Err(AudioError::InvalidAacBitrate { bitrate });
        }
        let channels = channels as usize;
        let opus_channels = if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        };
        let decoder = Decoder::new(OUTPUT_SAMPLE_RATE, opus_channels)
            .map_err(|e| AudioError::Encoder(format!("decoder setup: {e}")))?;
        let encoder = AacEncoder::new(channels, bitrate)?;
        let info = encoder.info()?;
        let (asc, delay) = (info.asc, info.delay);
        // The encoder's own bound for one unit, at least 6 144 bits per channel (ISO/IEC
        // 14496-3 §4.5.3.2).
        let au_len = info.max_unit_bytes.max(768 * channels);
        Ok(OpusToAac {
            channels,
            bitrate,
            decoder,
            encoder,
            asc,
            delay,
            decoded: vec![0; MAX_OPUS_PACKET_SAMPLES * channels],
            pcm: Vec::with_capacity(2 * AAC_FRAME_SAMPLES * channels),
            trim: delay,
            au: vec![0; au_len],
            timeline: None,
            stats: OpusToAacStats::default(),
        })
    }

    /// Transcodes one Opus packet (an RTP payload, RFC 7587 §4.2) whose RTP timestamp is
    /// `rtp_timestamp` (48 kHz clock, wrapping at 2^32). Appends the access units that became
    /// complete to `out`: about one per 21.3 ms of audio, none while the first
    /// [`delay_samples`](Self::delay_samples) are trimmed.
    ///
    /// Timestamps are extended to 64 bits: the first packet's is taken as is, each later one
    /// as the nearest value to the last decoded packet's (a signed 32-bit difference), so
    /// output timestamps keep growing across 2^32 wraps. Against the samples decoded so far:
    ///
    /// - a packet starting later than they reach (lost packets, or packets a DTX sender did not
    ///   send, RFC 7587 §3.1.3) first has the gap concealed by libopus, to the nearest 2.5 ms:
    ///   packet loss concealment, then in-band FEC (RFC 6716 §2.1.7) from this packet for its
    ///   last frame's worth; a gap of up to [`MAX_CONCEAL_SAMPLES`] (1 s);
    /// - a packet whose timestamp is not after the last decoded one's, by up to that much, is
    ///   late or a duplicate: dropped, `Ok` with nothing appended
    ///   ([`OpusToAacStats::late_packets`]);
    /// - a jump beyond that, either way, is a discontinuity (so is a stream whose packets last
    ///   longer than its timestamps advance, once the samples run 1 s ahead): the stream is
    ///   flushed as by [`flush`](Self::flush) (its last units appended to `out`), the codecs
    ///   reset, and a new time line starts at this packet's timestamp (again trimming the
    ///   encoder delay). After a backward jump, timestamps go backwards.
    ///
    /// Smaller offsets (jitter in the sender's timestamps) are absorbed: output stays
    /// continuous. DTX and comfort-noise packets (1–2 bytes) are decoded like any other.
    ///
    /// Errors concern this packet only: [`AudioError::OpusPacketSize`],
    /// [`AudioError::MalformedOpusPacket`] (the framing is checked before anything changes, so
    /// the packet is as if lost: its slot is concealed when the next packet comes),
    /// [`AudioError::AacEncoder`] (not expected). The caller drops the packet and pushes the
    /// next one.
    pub fn push(
        &mut self,
        opus_packet: &[u8],
        rtp_timestamp: u32,
        out: &mut Vec<AacFrame>,
    ) -> Result<(), AudioError> {
        if opus_packet.is_empty() || opus_packet.len() > MAX_OPUS_PACKET_BYTES {
            return Err(AudioError::OpusPacketSize {
                length: opus_packet.len(),
            });
        }
        let malformed = |e: opus::Error| AudioError::MalformedOpusPacket(e.to_string());
        // RFC 6716 §3.4 framing checks (libopus' opus_packet_parse), then the duration.
        opus::packet::parse(opus_packet).map_err(malformed)?;
        let packet_samples =
            opus::packet::get_nb_samples(opus_packet, OUTPUT_SAMPLE_RATE).map_err(malformed)?;
        let frame_samples = opus::packet::get_samples_per_frame(opus_packet, OUTPUT_SAMPLE_RATE)
            .map_err(malformed)?;
        if packet_samples == 0 || packet_samples > MAX_OPUS_PACKET_SAMPLES {
            return Err(AudioError::MalformedOpusPacket(format!(
                "{packet_samples} samples (1..={MAX_OPUS_PACKET_SAMPLES})"
            )));
        }

        let max_gap = MAX_CONCEAL_SAMPLES as i64;
        let mut result = Ok(());
        let ext = match self.timeline {
            None => self.start(rtp_timestamp as i64, rtp_timestamp),
            Some(t) => {
                let delta = rtp_timestamp.wrapping_sub(t.last_rtp) as i32 as i64;
                let ext = t.last_ext + delta;
                let gap = ext - t.position;
                if (-max_gap..=0).contains(&delta) {
                    self.stats.late_packets += 1;
                    return Ok(());
                }
                if delta < -max_gap || !(-max_gap..=max_gap).contains(&gap) || ext < 0 {
                    result = self.flush(out);
                    self.stats.discontinuities += 1;
                    // Below zero only after a backward jump near the start: begin afresh.
                    let ext = if ext < 0 { rtp_timestamp as i64 } else { ext };
                    self.start(ext, rtp_timestamp)
                } else {
                    let conceal = (gap + OPUS_GRANULE / 2) / OPUS_GRANULE * OPUS_GRANULE;
                    if conceal > 0 {
                        self.conceal(conceal as usize, opus_packet, frame_samples)?;
                    }
                    ext
                }
            }
        };

        let ch = self.channels;
        let n = self
            .decoder
            .decode(opus_packet, &mut self.decoded[..packet_samples * ch], false)
            .map_err(malformed)?;
        self.stats.packets += 1;
        self.append(n);
        if let Some(t) = self.timeline.as_mut() {
            t.last_rtp = rtp_timestamp;
            t.last_ext = ext;
        }
        self.encode_ready(out)?;
        result
    }

    /// Ends the stream: encodes the audio still queued and inside the encoder, the last unit
    /// padded with silence, so the output covers the whole input time line (rounded up to
    /// 1 024 samples), and appends it to `out`. Then resets: the next [`push`](Self::push)
    /// starts a new time line at its own timestamp (again trimming the encoder delay). Does
    /// nothing when no packet was pushed since the last flush.
    ///
    /// Errors: [`AudioError::AacEncoder`] (not expected); the transcoder is reset anyway.
    pub fn flush(&mut self, out: &mut Vec<AacFrame>) -> Result<(), AudioError> {
        let result = self.drain(out);
        let reset = self.reset();
        result.and(reset)
    }

    /// Forgets the stream: clears queued audio and codec state; the next push starts a new time
    /// line anchored at its own timestamp.
    ///
    /// Errors: [`AudioError::AacEncoder`] when a fresh encoder cannot be made (not expected);
    /// the old one is then kept.
    pub fn reset(&mut self) -> Result<(), AudioError> {
        // Resetting a valid decoder cannot fail (OPUS_RESET_STATE only clears memory).
        let _ = self.decoder.reset_state();
        self.pcm.clear();
        self.trim = self.delay;
        self.timeline = None;
        // The safe FDK AAC wrapper has no reset: a fresh encoder (a few hundred kB, rare).
        self.encoder = AacEncoder::new(self.channels, self.bitrate)?;
        Ok(())
    }

    /// The AudioSpecificConfig of the output (ISO/IEC 14496-3 §1.6.2.1), as the encoder wrote
    /// it: the body of the FLV AAC sequence header after its 2-byte header (AACPacketType 0).
    /// Two bytes: object type 2 (AAC LC), frequency index 3 (48 kHz), the channel
    /// configuration, GASpecificConfig flags 0 (`11 90` stereo, `11 88` mono).
    pub fn audio_specific_config(&self) -> &[u8] {
        &self.asc
    }

    /// Channels of the AAC output: 1 or 2.
    pub fn channels(&self) -> u8 {
        self.channels as u8
    }

    /// The AAC bitrate in bits/s, as asked.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    /// The AAC output sampling rate in Hz: [`AAC_SAMPLE_RATE`].
    pub fn sample_rate(&self) -> u32 {
        AAC_SAMPLE_RATE
    }

    /// Algorithmic delay in 48 kHz samples: FDK AAC's encoder delay (2 048 for AAC-LC, 42.7 ms;
    /// libopus' decoder adds none). It is trimmed from the start of each time line, so
    /// timestamps are exact; it still adds this much wall-clock latency.
    pub fn delay_samples(&self) -> u32 {
        self.delay as u32
    }

    /// Counters since construction.
    pub fn stats(&self) -> OpusToAacStats {
        self.stats
    }

    /// Starts a time line at extended timestamp `ext`; returns `ext`.
    fn start(&mut self, ext: i64, rtp: u32) -> i64 {
        self.timeline = Some(Timeline {
            last_rtp: rtp,
            last_ext: ext,
            anchor: ext,
            position: ext,
            next_au: ext,
        });
        ext
    }

    /// Synthesises `samples` (a multiple of 2.5 ms) for a gap before `packet`: libopus packet
    /// loss concealment (comfort noise after DTX), then the packet's in-band FEC for the last
    /// frame's worth (libopus falls back to concealment when the packet carries none).
    fn conceal(
        &mut self,
        samples: usize,
        packet: &[u8],
        frame_samples: usize,
    ) -> Result<(), AudioError> {
        let ch = self.channels;
        let fec = if samples >= frame_samples {
            frame_samples
        } else {
            0
        };
        let mut plc = samples - fec;
        let err = |e: opus::Error| AudioError::MalformedOpusPacket(format!("concealment: {e}"));
        while plc > 0 {
            let n = plc.min(MAX_OPUS_PACKET_SAMPLES);
            let got = self
                .decoder
                .decode(&[], &mut self.decoded[..n * ch], false)
                .map_err(err)?;
            self.stats.concealed_samples += got as u64;
            self.append(got);
            plc -= n;
        }
        if fec > 0 {
            let got = self
                .decoder
                .decode(packet, &mut self.decoded[..fec * ch], true)
                .map_err(err)?;
            self.stats.concealed_samples += got as u64;
            self.append(got);
        }
        Ok(())
    }

    /// Queues the first `frames` decoded samples per channel, dropping what is left to trim.
    fn append(&mut self, frames: usize) {
        let ch = self.channels;
        let frames = frames.min(self.decoded.len() / ch);
        if let Some(t) = self.timeline.as_mut() {
            t.position += frames as i64;
        }
        let skip = self.trim.min(frames);
        self.trim -= skip;
        self.pcm
            .extend_from_slice(&self.decoded[skip * ch..frames * ch]);
    }

    /// Encodes every complete 1 024-sample frame waiting in `pcm`.
    fn encode_ready(&mut self, out: &mut Vec<AacFrame>) -> Result<(), AudioError> {
        let step = AAC_FRAME_SAMPLES * self.channels;
        let Some(t) = self.timeline.as_mut() else {
            return Ok(());
        };
        let mut used = 0;
        let mut result = Ok(());
        while self.pcm.len() - used >= step {
            match self
                .encoder
                .encode(&self.pcm[used..used + step], &mut self.au)
            {
                Ok(info) if info.input_consumed == 0 && info.output_size == 0 => {
                    result = Err(AudioError::AacEncoder("encoder took no input".into()));
                    used += step;
                }
                Ok(info) => {
                    used += info.input_consumed.min(step);
                    if info.output_size > 0 {
                        out.push(AacFrame {
                            data: self.au[..info.output_size.min(self.au.len())].to_vec(),
                            timestamp: t.next_au as u64,
                        });
                        t.next_au += AAC_FRAME_SAMPLES as i64;
                    }
                }
                // A frame the encoder refuses leaves a 1 024-sample hole; the time line
                // still advances.
                Err(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                    used += step;
                    t.next_au += AAC_FRAME_SAMPLES as i64;
                }
            }
        }
        self.pcm.drain(..used);
        result
    }

    /// Encodes the rest of the time line: silence after the queued audio until the units
    /// cover every decoded sample (the encoder holds [`delay_samples`](Self::delay_samples)).
    fn drain(&mut self, out: &mut Vec<AacFrame>) -> Result<(), AudioError> {
        let Some(t) = self.timeline else {
            return Ok(());
        };
        if self.trim > 0 {
            // Shorter than the encoder delay: nothing of it would come out on its time line.
            return Ok(());
        }
        let frame = AAC_FRAME_SAMPLES as i64;
        let needed = (t.position - t.anchor + frame - 1) / frame;
        let step = AAC_FRAME_SAMPLES * self.channels;
        // Bounded: the queue plus the encoder delay, in frames, and some slack.
        let max_rounds = (self.pcm.len() / step + self.delay / AAC_FRAME_SAMPLES + 4) as i64;
        let mut result = Ok(());
        for _ in 0..max_rounds {
            let emitted = self
                .timeline
                .map_or(needed, |t| (t.next_au - t.anchor) / frame);
            if emitted >= needed {
                break;
            }
            let pad = step - self.pcm.len() % step;
            self.pcm.resize(self.pcm.len() + pad, 0);
            if let Err(e) = self.encode_ready(out) {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}
