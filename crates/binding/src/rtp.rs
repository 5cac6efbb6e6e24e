//! RTP packetizers for the hub: one per outgoing stream (not per viewer), one call per media
//! frame, all packets of the frame in one Buffer. See `crates/rtp` for the payload rules.

use napi::bindgen_prelude::{Buffer, Error, Result, Status, Uint32Array};
use napi_derive::napi;
use sluice_rtmp::flv::AvcDecoderConfigurationRecord;
use sluice_rtp::packetizer::{self as pk, PacketBatch, Packetizer};
use sluice_rtp::RtpError;

/// The RTP packets of one frame, back to back in `data`. Packet `i` is
/// `data.subarray(i === 0 ? 0 : ends[i - 1], ends[i])`; each is a complete RTP packet (12-byte
/// header, no CSRCs, no extension), ready for `Track.sendMessageBinary` or an SRTP context.
#[napi(object)]
pub struct RtpPackets {
    /// All packets of the frame, back to back (bytes).
    pub data: Buffer,
    /// End offset in `data` of each packet (bytes), one entry per packet. Empty when the frame
    /// produced no packet (an H.264 access unit of only AUD/filler NAL units).
    pub ends: Uint32Array,
}

fn rtp_error(e: RtpError) -> Error {
    Error::new(Status::InvalidArg, format!("{}: {e}", e.code()))
}

fn invalid(message: String) -> Error {
    Error::new(
        Status::InvalidArg,
        format!("RTP_INVALID_ARGUMENT: {message}"),
    )
}

/// RFC 3550 §5.1: the initial sequence number SHOULD be random.
fn random_sequence_number() -> u16 {
    let mut b = [0u8; 2];
    // The OS RNG only fails on platforms Node does not run on; 0 is still a valid start.
    let _ = getrandom::getrandom(&mut b);
    u16::from_be_bytes(b)
}

fn configure(state: &mut pk::PacketizerState, mtu: Option<u32>) -> Result<()> {
    state.set_sequence_number(random_sequence_number());
    if let Some(mtu) = mtu {
        state.set_mtu(mtu as usize).map_err(rtp_error)?;
    }
    Ok(())
}

fn payload_type(payload_type: u32) -> Result<u8> {
    u8::try_from(payload_type)
        .ok()
        .filter(|pt| *pt <= 127)
        .ok_or_else(|| invalid(format!("payload type {payload_type} outside 0..=127")))
}

fn sequence_number(value: u32) -> Result<u16> {
    u16::try_from(value).map_err(|_| invalid(format!("sequence number {value} outside 0..=65535")))
}

/// Packetizes into caller-owned memory: packets back to back in `out`, packet i ending at
/// `ends[i]`; returns the packet count. Throws `RTP_BUFFER_TOO_SMALL` when either is too small
/// (nothing is written then). No allocation reaches JS: the hot-path form of `packetize`.
fn run_into(
    packetizer: &mut impl Packetizer,
    scratch: &mut PacketBatch,
    frame: &[u8],
    rtp_timestamp: u32,
    out: &mut [u8],
    ends: &mut [u32],
) -> Result<u32> {
    scratch.clear();
    packetizer
        .packetize(frame, rtp_timestamp, scratch)
        .map_err(rtp_error)?;
    if scratch.data.len() > out.len() || scratch.ends.len() > ends.len() {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "RTP_BUFFER_TOO_SMALL: {} bytes in {} packets do not fit {} bytes / {} ends",
                scratch.data.len(),
                scratch.ends.len(),
                out.len(),
                ends.len()
            ),
        ));
    }
    out[..scratch.data.len()].copy_from_slice(&scratch.data);
    ends[..scratch.ends.len()].copy_from_slice(&scratch.ends);
    Ok(scratch.ends.len() as u32)
}

fn run(packetizer: &mut impl Packetizer, frame: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
    let mut batch = PacketBatch::new();
    packetizer
        .packetize(frame, rtp_timestamp, &mut batch)
        .map_err(rtp_error)?;
    Ok(RtpPackets {
        data: batch.data.into(),
        ends: Uint32Array::new(batch.ends),
    })
}

/// H.264 packetizer (RFC 6184, packetization-mode=1) fed with FLV/RTMP access units in AVCC
/// form. Drops AUD and filler NAL units, sends the stored SPS+PPS as a STAP-A before IDR
/// access units that lack them, aggregates small NAL units into STAP-A, fragments large ones
/// as FU-A, and sets the marker bit on the last packet of each access unit.
#[napi]
pub struct H264Packetizer {
    inner: pk::H264Packetizer,
    scratch: PacketBatch,
}

#[napi]
impl H264Packetizer {
    /// `ssrc`: the stream's SSRC. `payloadType`: 0–127 (the SDP's H.264 payload type).
    /// `mtu`: largest RTP packet in bytes, header included, 15–65535, default 1200. The
    /// initial sequence number is random (RFC 3550 §5.1). Throws `RTP_INVALID_ARGUMENT`.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, mtu: Option<u32>) -> Result<Self> {
        let mut inner =
            pk::H264Packetizer::new(ssrc, self::payload_type(payload_type)?).map_err(rtp_error)?;
        configure(inner.state_mut(), mtu)?;
        Ok(H264Packetizer {
            inner,
            scratch: PacketBatch::new(),
        })
    }

    /// Takes the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1: the FLV AVC
    /// sequence header body after its 5-byte tag header) for its NAL unit length size and its
    /// SPS/PPS, sent before IDR access units. Throws `RTP_AVC_CONFIG_MALFORMED` when the record
    /// is truncated, not version 1, or has a length size of 3.
    #[napi]
    pub fn set_parameter_sets(&mut self, avc_decoder_configuration_record: &[u8]) -> Result<()> {
        let malformed = |why: &str| {
            Error::new(
                Status::InvalidArg,
                format!("RTP_AVC_CONFIG_MALFORMED: {why}"),
            )
        };
        let record = AvcDecoderConfigurationRecord::parse(avc_decoder_configuration_record)
            .ok_or_else(|| malformed("AVCDecoderConfigurationRecord truncated or not version 1"))?;
        self.inner
            .set_nalu_length_size(record.nalu_length_size)
            .map_err(|e| malformed(&e.to_string()))?;
        self.inner.set_parameter_sets(record.sps, record.pps);
        Ok(())
    }

    /// Packetizes one access unit in AVCC form (the FLV AVC NALU body after its 5-byte tag
    /// header). `rtpTimestamp`: 90 kHz ticks, shared by all its packets. Throws
    /// `RTP_AVCC_MALFORMED` (nothing emitted, sequence number unchanged) when a length runs
    /// past the end.
    #[napi]
    pub fn packetize(&mut self, avcc: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
        run(&mut self.inner, avcc, rtp_timestamp)
    }

    /// Like `packetize`, into caller-owned `out` (bytes) and `ends` (end offset of each packet);
    /// returns the packet count. Throws `RTP_BUFFER_TOO_SMALL` if they cannot hold the result.
    #[napi]
    pub fn packetize_into(
        &mut self,
        avcc: &[u8],
        rtp_timestamp: u32,
        mut out: Buffer,
        mut ends: Uint32Array,
    ) -> Result<u32> {
        // SAFETY: the call is synchronous on the JS thread, so nothing else touches the array's
        // memory while this slice lives.
        let ends = unsafe { ends.as_mut() };
        run_into(
            &mut self.inner,
            &mut self.scratch,
            avcc,
            rtp_timestamp,
            &mut out,
            ends,
        )
    }

    /// Sequence number of the next packet (0–65535, wraps).
    #[napi(getter)]
    pub fn sequence_number(&self) -> u32 {
        self.inner.state().sequence_number() as u32
    }

    /// Sets the sequence number of the next packet; throws `RTP_INVALID_ARGUMENT` above 65535.
    #[napi(setter)]
    pub fn set_sequence_number(&mut self, value: u32) -> Result<()> {
        self.inner
            .state_mut()
            .set_sequence_number(sequence_number(value)?);
        Ok(())
    }

    /// SSRC written into every packet.
    #[napi(getter)]
    pub fn ssrc(&self) -> u32 {
        self.inner.state().ssrc()
    }

    /// Changes the SSRC for the following packets.
    #[napi(setter)]
    pub fn set_ssrc(&mut self, value: u32) {
        self.inner.state_mut().set_ssrc(value);
    }

    /// Payload type (0–127).
    #[napi(getter)]
    pub fn payload_type(&self) -> u32 {
        self.inner.state().payload_type() as u32
    }

    /// Largest RTP packet in bytes, header included.
    #[napi(getter)]
    pub fn mtu(&self) -> u32 {
        self.inner.state().mtu() as u32
    }

    /// AVCC NAL unit length prefix size in bytes (1, 2 or 4; 4 until `setParameterSets`).
    #[napi(getter)]
    pub fn nalu_length_size(&self) -> u32 {
        self.inner.nalu_length_size() as u32
    }
}

/// H.265 packetizer (RFC 7798, no DONL): one access unit (NAL units with `hvcC` length
/// prefixes, the body of an FLV HEVC or Enhanced RTMP `hvc1` coded frame) into single NAL unit
/// packets, aggregation packets and fragmentation units; the VPS/SPS/PPS in front of IRAP
/// access units that lack them; the marker on the last packet. 90 kHz timestamps.
#[napi]
pub struct H265Packetizer {
    inner: pk::H265Packetizer,
}

#[napi]
impl H265Packetizer {
    /// `ssrc`: the stream's SSRC. `payloadType`: 0–127 (the SDP's H265 payload type). `mtu`:
    /// largest RTP packet in bytes, header included, 15–65535, default 1200. The initial
    /// sequence number is random (RFC 3550 §5.1). Throws `RTP_INVALID_ARGUMENT`.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, mtu: Option<u32>) -> Result<Self> {
        let mut inner =
            pk::H265Packetizer::new(ssrc, self::payload_type(payload_type)?).map_err(rtp_error)?;
        configure(inner.state_mut(), mtu)?;
        Ok(H265Packetizer { inner })
    }

    /// Takes an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1, the `hvcC`: the
    /// sequence header body): its NAL unit length size and VPS/SPS/PPS. Throws
    /// `RTP_INVALID_ARGUMENT` when it does not parse.
    #[napi]
    pub fn set_decoder_config(&mut self, record: &[u8]) -> Result<()> {
        let r = sluice_rtmp::hevc::HevcDecoderConfigurationRecord::parse(record).ok_or_else(|| {
            Error::new(Status::InvalidArg, "RTP_INVALID_ARGUMENT: HEVCDecoderConfigurationRecord truncated or not version 1".to_string())
        })?;
        self.inner.set_nalu_length_size(r.nalu_length_size).map_err(rtp_error)?;
        self.inner.set_parameter_sets(r.vps, r.sps, r.pps);
        Ok(())
    }

    /// Packetizes one access unit. `rtpTimestamp`: 90 kHz ticks. Throws
    /// `RTP_AVCC_MALFORMED` for a length prefix past the end; nothing is emitted then.
    #[napi]
    pub fn packetize(&mut self, access_unit: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
        run(&mut self.inner, access_unit, rtp_timestamp)
    }

    /// Sequence number of the next packet (0–65535, wraps).
    #[napi(getter)]
    pub fn sequence_number(&self) -> u32 {
        self.inner.state().sequence_number() as u32
    }
}

/// AV1 packetizer (AOM RTP payload format for AV1): one temporal unit (low overhead bitstream,
/// as Enhanced RTMP `av01` coded frames carry it) into packets with the aggregation header,
/// OBU size fields removed, temporal delimiters dropped, the sequence header put in front of
/// key frames that lack one, the marker on the last packet. 90 kHz timestamps.
#[napi]
pub struct Av1Packetizer {
    inner: pk::Av1Packetizer,
}

#[napi]
impl Av1Packetizer {
    /// `ssrc`: the stream's SSRC. `payloadType`: 0–127 (the SDP's AV1 payload type). `mtu`:
    /// largest RTP packet in bytes, header included, 15–65535, default 1200. The initial
    /// sequence number is random (RFC 3550 §5.1). Throws `RTP_INVALID_ARGUMENT`.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, mtu: Option<u32>) -> Result<Self> {
        let mut inner =
            pk::Av1Packetizer::new(ssrc, self::payload_type(payload_type)?).map_err(rtp_error)?;
        configure(inner.state_mut(), mtu)?;
        Ok(Av1Packetizer { inner })
    }

    /// Keeps the sequence header OBU of `configObus` (the `configOBUs` of an
    /// AV1CodecConfigurationRecord: the record after its 4 bytes) for key frames. Throws
    /// `RTP_PAYLOAD_MALFORMED` when the OBUs do not parse.
    #[napi]
    pub fn set_sequence_header(&mut self, config_obus: &[u8]) -> Result<()> {
        self.inner.set_sequence_header(config_obus).map_err(rtp_error)
    }

    /// Packetizes one temporal unit. `rtpTimestamp`: 90 kHz ticks. Throws
    /// `RTP_PAYLOAD_MALFORMED` when its OBUs do not parse; nothing is emitted then.
    #[napi]
    pub fn packetize(&mut self, temporal_unit: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
        run(&mut self.inner, temporal_unit, rtp_timestamp)
    }

    /// Sequence number of the next packet (0–65535, wraps).
    #[napi(getter)]
    pub fn sequence_number(&self) -> u32 {
        self.inner.state().sequence_number() as u32
    }
}

/// Opus packetizer (RFC 7587): one Opus packet per RTP packet, 48 kHz timestamps, marker 0
/// except after `markNextPacket()`.
#[napi]
pub struct OpusPacketizer {
    inner: pk::OpusPacketizer,
}

#[napi]
impl OpusPacketizer {
    /// `ssrc`: the stream's SSRC. `payloadType`: 0–127 (the SDP's opus/48000/2 payload type).
    /// `mtu`: largest RTP packet in bytes, header included, 15–65535, default 1200. The
    /// initial sequence number is random (RFC 3550 §5.1). Throws `RTP_INVALID_ARGUMENT`.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, mtu: Option<u32>) -> Result<Self> {
        let mut inner =
            pk::OpusPacketizer::new(ssrc, self::payload_type(payload_type)?).map_err(rtp_error)?;
        configure(inner.state_mut(), mtu)?;
        Ok(OpusPacketizer { inner })
    }

    /// Packetizes one Opus packet. `rtpTimestamp`: 48 kHz ticks (960 per 20 ms frame).
    /// Throws `RTP_FRAME_EMPTY` for zero bytes and `RTP_PAYLOAD_TOO_LARGE` above MTU − 12
    /// bytes; nothing is emitted then.
    #[napi]
    pub fn packetize(&mut self, frame: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
        run(&mut self.inner, frame, rtp_timestamp)
    }

    /// Sets the marker bit on the next packet only: call it when audio resumes after a
    /// DTX/silence gap (first packet of a talkspurt).
    #[napi]
    pub fn mark_next_packet(&mut self) {
        self.inner.mark_next_packet();
    }

    /// Sequence number of the next packet (0–65535, wraps).
    #[napi(getter)]
    pub fn sequence_number(&self) -> u32 {
        self.inner.state().sequence_number() as u32
    }

    /// Sets the sequence number of the next packet; throws `RTP_INVALID_ARGUMENT` above 65535.
    #[napi(setter)]
    pub fn set_sequence_number(&mut self, value: u32) -> Result<()> {
        self.inner
            .state_mut()
            .set_sequence_number(sequence_number(value)?);
        Ok(())
    }

    /// SSRC written into every packet.
    #[napi(getter)]
    pub fn ssrc(&self) -> u32 {
        self.inner.state().ssrc()
    }

    /// Changes the SSRC for the following packets.
    #[napi(setter)]
    pub fn set_ssrc(&mut self, value: u32) {
        self.inner.state_mut().set_ssrc(value);
    }

    /// Payload type (0–127).
    #[napi(getter)]
    pub fn payload_type(&self) -> u32 {
        self.inner.state().payload_type() as u32
    }

    /// Largest RTP packet in bytes, header included.
    #[napi(getter)]
    pub fn mtu(&self) -> u32 {
        self.inner.state().mtu() as u32
    }
}

/// AAC packetizer (RFC 3640 `mpeg4-generic`, mode AAC-hbr: 13-bit AU-size, 3-bit AU-index):
/// one raw AAC access unit per packet (fragmented above the MTU), timestamps in samples.
#[napi]
pub struct AacPacketizer {
    inner: pk::AacPacketizer,
}

#[napi]
impl AacPacketizer {
    /// `ssrc`: the stream's SSRC. `payloadType`: 0–127 (the SDP's mpeg4-generic payload type).
    /// `sampleRate`: the RTP clock rate in Hz (the AudioSpecificConfig's sampling rate).
    /// `mtu`: largest RTP packet in bytes, header included, default 1200. The initial
    /// sequence number is random. Throws `RTP_INVALID_ARGUMENT`.
    #[napi(constructor)]
    pub fn new(ssrc: u32, payload_type: u32, sample_rate: u32, mtu: Option<u32>) -> Result<Self> {
        let mut inner =
            pk::AacPacketizer::new(ssrc, self::payload_type(payload_type)?, sample_rate)
                .map_err(rtp_error)?;
        configure(inner.state_mut(), mtu)?;
        Ok(AacPacketizer { inner })
    }

    /// Packetizes one raw AAC access unit (the FLV AAC raw body after its 2-byte tag header).
    /// `rtpTimestamp`: samples at `sampleRate`. Throws `RTP_FRAME_EMPTY` or
    /// `RTP_PAYLOAD_TOO_LARGE` (above 8191 bytes); nothing is emitted then.
    #[napi]
    pub fn packetize(&mut self, frame: &[u8], rtp_timestamp: u32) -> Result<RtpPackets> {
        run(&mut self.inner, frame, rtp_timestamp)
    }

    /// Sequence number of the next packet (0–65535, wraps).
    #[napi(getter)]
    pub fn sequence_number(&self) -> u32 {
        self.inner.state().sequence_number() as u32
    }

    /// SSRC written into every packet.
    #[napi(getter)]
    pub fn ssrc(&self) -> u32 {
        self.inner.state().ssrc()
    }
}
