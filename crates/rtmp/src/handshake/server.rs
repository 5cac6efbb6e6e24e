//! Server side of the RTMP handshake (RTMP 1.0 spec §5.2).

use super::digest::{self, DigestScheme};
use super::{
    fill, put_u32_be, to_packet, HandshakeError, HandshakeKind, HANDSHAKE_SIZE, RANDOM_SIZE,
    RTMP_VERSION, SERVER_VERSION,
};

/// C0 + C1: 1 + 1536 bytes.
const C0C1_SIZE: usize = 1 + HANDSHAKE_SIZE;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Collecting C0 + C1 into `buf`.
    ReadC0C1,
    /// S0+S1+S2 sent; skipping this many bytes of C2.
    ReadC2(usize),
    Done,
    Failed(HandshakeError),
}

/// Server side of the RTMP handshake (§5.2), sans-IO.
///
/// Reads C0 (1 byte, must be 3) + C1 (1536 bytes), then appends to `out`, in
/// one go, S0 + S1 + S2 (1 + 1536 + 1536 = 3073 bytes):
///
/// * If C1 carries a valid Flash Player digest
///   ([`find_c1_digest`](super::find_c1_digest), either scheme), the handshake is
///   [`HandshakeKind::Complex`]:
///   - S1 = `time: epoch_ms u32 BE | version: 04 05 00 01 | random (1528)`
///     with an FMS digest (36-byte key prefix) written at the same scheme as
///     C1's;
///   - S2 = `C1[0..1504]` (echo as filler) `| HMAC-SHA256(HMAC-SHA256(68-byte
///     FMS key, C1 digest), S2[0..1504])`.
/// * Otherwise it is [`HandshakeKind::Simple`]:
///   - S1 = `time: epoch_ms u32 BE | 00 00 00 00 | random (1528)`;
///   - S2 = `C1 time (u32 BE) | time2 = epoch_ms (u32 BE) | C1[8..1536]`.
///
/// Then it consumes C2 (1536 bytes) without checking its contents (lenient,
/// like most servers) and is done. Only the C0 version byte is checked
/// strictly.
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    /// The caller's random block for S1; taken when S1 is built.
    random: Option<Box<[u8; RANDOM_SIZE]>>,
    epoch_ms: u32,
    state: State,
    /// C0 + C1 as received (freed once S0+S1+S2 are produced).
    buf: Vec<u8>,
    kind: Option<HandshakeKind>,
    scheme: Option<DigestScheme>,
}

impl ServerHandshake {
    /// New server handshake. `random` becomes S1 bytes 8..1536 (the 1528-byte
    /// random block, §5.2.3; the state machine has no RNG of its own, so pass
    /// bytes from a CSPRNG); `epoch_ms` is S1's time field (bytes 0..4, u32
    /// BE) and, in a simple handshake, S2's time2 field (bytes 4..8).
    pub fn new(random: [u8; RANDOM_SIZE], epoch_ms: u32) -> Self {
        ServerHandshake {
            random: Some(Box::new(random)),
            epoch_ms,
            state: State::ReadC0C1,
            buf: Vec::new(),
            kind: None,
            scheme: None,
        }
    }

    /// Feeds bytes received from the client, in pieces of any size (one byte
    /// at a time works). Appends bytes to send to `out`: S0 + S1 + S2 (3073
    /// bytes) once C0 + C1 (1537 bytes) are complete, nothing otherwise.
    ///
    /// Returns how many bytes of `input` were consumed: everything until the
    /// 1536 bytes of C2 have been read, then nothing more. Once
    /// [`is_done`](Self::is_done), `input[consumed..]` is the start of the
    /// client's chunk stream, and further calls return `Ok(0)`.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedVersion`] as soon as C0 is not 3 (C0 = 6
    /// is RTMPE). After an error, every call returns the same error.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, HandshakeError> {
        let mut consumed = 0usize;
        loop {
            let rest = input.get(consumed..).unwrap_or(&[]);
            match self.state {
                State::Failed(ref err) => return Err(err.clone()),
                State::Done => return Ok(consumed),
                State::ReadC0C1 => {
                    consumed += fill(&mut self.buf, C0C1_SIZE, rest);
                    if let Some(&version) = self.buf.first() {
                        if version != RTMP_VERSION {
                            let err = HandshakeError::UnsupportedVersion(version);
                            self.state = State::Failed(err.clone());
                            self.buf = Vec::new();
                            return Err(err);
                        }
                    }
                    if self.buf.len() < C0C1_SIZE {
                        return Ok(consumed);
                    }
                    self.respond(out);
                    self.state = State::ReadC2(HANDSHAKE_SIZE);
                }
                State::ReadC2(remaining) => {
                    let take = remaining.min(rest.len());
                    consumed += take;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        self.state = State::Done;
                    } else {
                        self.state = State::ReadC2(remaining);
                        return Ok(consumed);
                    }
                }
            }
        }
    }

    /// Builds S0 + S1 + S2 from the complete C0 + C1 in `buf`.
    fn respond(&mut self, out: &mut Vec<u8>) {
        let c1 = to_packet(self.buf.get(1..).unwrap_or(&[]));
        self.buf = Vec::new();

        let mut s1 = Box::new([0u8; HANDSHAKE_SIZE]);
        put_u32_be(&mut s1[..], self.epoch_ms);
        if let Some(random) = self.random.take() {
            s1[8..].copy_from_slice(&random[..]);
        }

        let s2 = match super::find_c1_digest(&c1)
            .and_then(|(id, offset)| Some((DigestScheme::from_id(id)?, offset)))
        {
            Some((scheme, c1_offset)) => {
                self.kind = Some(HandshakeKind::Complex);
                self.scheme = Some(scheme);
                s1[4..8].copy_from_slice(&SERVER_VERSION);
                digest::write_digest(
                    &mut s1,
                    scheme,
                    &digest::FMS_KEY[..digest::FMS_KEY_PARTIAL_LEN],
                );
                let c1_digest =
                    digest::digest_at(&c1, c1_offset).unwrap_or([0; digest::DIGEST_LEN]);
                let mut s2 = c1;
                digest::sign_response(&mut s2, &c1_digest, &digest::FMS_KEY);
                s2
            }
            None => {
                self.kind = Some(HandshakeKind::Simple);
                let mut s2 = c1;
                put_u32_be(&mut s2[4..], self.epoch_ms);
                s2
            }
        };

        out.reserve(1 + 2 * HANDSHAKE_SIZE);
        out.push(RTMP_VERSION);
        out.extend_from_slice(&s1[..]);
        out.extend_from_slice(&s2[..]);
    }

    /// True once C2 has been consumed: the connection now carries chunks.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The kind of handshake the client used; `None` until C1 is complete.
    pub fn kind(&self) -> Option<HandshakeKind> {
        self.kind
    }

    /// The digest scheme of a complex C1 (and of our S1); `None` for a simple
    /// handshake or before C1 is complete.
    pub fn digest_scheme(&self) -> Option<DigestScheme> {
        self.scheme
    }
}
