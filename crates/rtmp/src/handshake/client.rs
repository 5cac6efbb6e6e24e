//! Client side of the RTMP handshake (RTMP 1.0 spec §5.2).

use super::digest::{self, DigestScheme, DIGEST_LEN};
use super::{
    fill, put_u32_be, to_packet, HandshakeError, HandshakeKind, CLIENT_VERSION, HANDSHAKE_SIZE,
    RANDOM_SIZE, RTMP_VERSION,
};

/// S0 + S1 + S2: 1 + 1536 + 1536 bytes.
const S0S1S2_SIZE: usize = 1 + 2 * HANDSHAKE_SIZE;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// `start` not called yet.
    Idle,
    /// C0 + C1 sent; collecting S0 + S1 + S2 into `buf`.
    ReadS0S1S2,
    Done,
    Failed(HandshakeError),
}

/// Client side of the RTMP handshake (§5.2), sans-IO; used by load tools and
/// relay pulls.
///
/// [`start`](Self::start) produces C0 + C1 (1537 bytes):
///
/// * [`HandshakeKind::Simple`]: C1 = `time: epoch_ms u32 BE | 00 00 00 00 |
///   random (1528)`;
/// * [`HandshakeKind::Complex`]: C1 = `time: epoch_ms u32 BE | version:
///   09 00 7C 02 | random (1528)` with a Flash Player digest (30-byte key
///   prefix) written at the chosen [`DigestScheme`] (scheme 0 by default, as
///   FFmpeg and librtmp do).
///
/// [`feed`](Self::feed) then reads S0 (must be 3) + S1 + S2 (3073 bytes) and
/// appends C2 (1536 bytes):
///
/// * complex C1 and S1 carrying a valid FMS digest (36-byte key prefix, either
///   scheme): C2 = `S1[0..1504]` (echo as filler) `| HMAC-SHA256(HMAC-SHA256(
///   62-byte FP key, S1 digest), C2[0..1504])`;
/// * otherwise: C2 = `S1 time (u32 BE) | time2 = epoch_ms (u32 BE) |
///   S1[8..1536]` (the echo of §5.2.4).
///
/// S1/S2 contents are not required to be valid (lenient): only S0 is checked.
/// [`s2_digest_valid`](Self::s2_digest_valid) reports whether a complex S2
/// answered our C1 digest.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    /// C1 as built by `new` (freed once C2 is produced).
    c1: Option<Box<[u8; HANDSHAKE_SIZE]>>,
    /// Digest of our C1 (complex only).
    c1_digest: Option<[u8; DIGEST_LEN]>,
    epoch_ms: u32,
    state: State,
    /// S0 + S1 + S2 as received (freed once C2 is produced).
    buf: Vec<u8>,
    kind: Option<HandshakeKind>,
    s2_digest_valid: Option<bool>,
}

impl ClientHandshake {
    /// New client handshake. `random` becomes C1 bytes 8..1536 (§5.2.3; the
    /// state machine has no RNG of its own); `epoch_ms` is C1's time field
    /// (bytes 0..4, u32 BE) and, in a simple C2, its time2 field (bytes
    /// 4..8). A [`HandshakeKind::Complex`] C1 carries its digest at scheme 0
    /// ([`DigestScheme::DigestFirst`]); see [`with_scheme`](Self::with_scheme).
    pub fn new(random: [u8; RANDOM_SIZE], epoch_ms: u32, kind: HandshakeKind) -> Self {
        match kind {
            HandshakeKind::Simple => Self::build(random, epoch_ms, None),
            HandshakeKind::Complex => {
                Self::build(random, epoch_ms, Some(DigestScheme::DigestFirst))
            }
        }
    }

    /// New complex-handshake client whose C1 digest sits at `scheme` (layout
    /// as in [`new`](Self::new) with [`HandshakeKind::Complex`]).
    pub fn with_scheme(random: [u8; RANDOM_SIZE], epoch_ms: u32, scheme: DigestScheme) -> Self {
        Self::build(random, epoch_ms, Some(scheme))
    }

    fn build(random: [u8; RANDOM_SIZE], epoch_ms: u32, scheme: Option<DigestScheme>) -> Self {
        let mut c1 = Box::new([0u8; HANDSHAKE_SIZE]);
        put_u32_be(&mut c1[..], epoch_ms);
        c1[8..].copy_from_slice(&random);
        let c1_digest = scheme.and_then(|scheme| {
            c1[4..8].copy_from_slice(&CLIENT_VERSION);
            let offset = digest::write_digest(
                &mut c1,
                scheme,
                &digest::FP_KEY[..digest::FP_KEY_PARTIAL_LEN],
            );
            digest::digest_at(&c1, offset)
        });
        ClientHandshake {
            c1: Some(c1),
            c1_digest,
            epoch_ms,
            state: State::Idle,
            buf: Vec::new(),
            kind: None,
            s2_digest_valid: None,
        }
    }

    /// Appends C0 + C1 (1 + 1536 bytes, layout in the type docs) to `out`;
    /// send them first. Only the first call produces anything.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.state != State::Idle {
            return;
        }
        out.reserve(1 + HANDSHAKE_SIZE);
        out.push(RTMP_VERSION);
        if let Some(c1) = &self.c1 {
            out.extend_from_slice(&c1[..]);
        }
        self.state = State::ReadS0S1S2;
    }

    /// Feeds bytes received from the server, in pieces of any size (one byte
    /// at a time works). Once S0 + S1 + S2 (3073 bytes) are complete, appends
    /// C2 (1536 bytes) to `out` and the handshake is done.
    ///
    /// Returns how many bytes of `input` were consumed: never more than what
    /// completes S2. Once [`is_done`](Self::is_done), `input[consumed..]` is the
    /// start of the server's chunk stream, and further calls return `Ok(0)`.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnsupportedVersion`] as soon as S0 is not 3;
    /// [`HandshakeError::NotStarted`] before [`start`](Self::start). After an
    /// error every call returns the same error.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, HandshakeError> {
        match self.state {
            State::Idle => return Err(HandshakeError::NotStarted),
            State::Failed(ref err) => return Err(err.clone()),
            State::Done => return Ok(0),
            State::ReadS0S1S2 => {}
        }
        let consumed = fill(&mut self.buf, S0S1S2_SIZE, input);
        if let Some(&version) = self.buf.first() {
            if version != RTMP_VERSION {
                let err = HandshakeError::UnsupportedVersion(version);
                self.state = State::Failed(err.clone());
                self.buf = Vec::new();
                return Err(err);
            }
        }
        if self.buf.len() == S0S1S2_SIZE {
            self.respond(out);
            self.state = State::Done;
        }
        Ok(consumed)
    }

    /// Builds C2 from the complete S0 + S1 + S2 in `buf`.
    fn respond(&mut self, out: &mut Vec<u8>) {
        let s1 = to_packet(self.buf.get(1..1 + HANDSHAKE_SIZE).unwrap_or(&[]));
        let s2 = to_packet(self.buf.get(1 + HANDSHAKE_SIZE..).unwrap_or(&[]));
        self.buf = Vec::new();
        self.c1 = None;

        let s1_digest = self.c1_digest.and_then(|_| {
            let (id, offset) = super::find_s1_digest(&s1)?;
            DigestScheme::from_id(id)?;
            digest::digest_at(&s1, offset)
        });

        let c2 = match (self.c1_digest, s1_digest) {
            (Some(c1_digest), Some(s1_digest)) => {
                self.kind = Some(HandshakeKind::Complex);
                self.s2_digest_valid =
                    Some(digest::verify_response(&s2, &c1_digest, &digest::FMS_KEY));
                let mut c2 = s1;
                digest::sign_response(&mut c2, &s1_digest, &digest::FP_KEY);
                c2
            }
            _ => {
                self.kind = Some(HandshakeKind::Simple);
                let mut c2 = s1;
                put_u32_be(&mut c2[4..], self.epoch_ms);
                c2
            }
        };
        out.extend_from_slice(&c2[..]);
    }

    /// True once S0 + S1 + S2 have been consumed and C2 appended to `out`.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The handshake actually completed: [`HandshakeKind::Complex`] if we sent
    /// a complex C1 and S1 carried a valid FMS digest (so C2 is
    /// digest-signed), [`HandshakeKind::Simple`] otherwise; `None` until S1
    /// and S2 are complete.
    pub fn kind(&self) -> Option<HandshakeKind> {
        self.kind
    }

    /// For a complex handshake, whether S2's trailing digest is
    /// `HMAC-SHA256(HMAC-SHA256(68-byte FMS key, our C1 digest), S2[0..1504])`,
    /// i.e. the server really answered our C1. `None` for a simple handshake
    /// or before S2 is complete. Informational only: the handshake proceeds
    /// either way.
    pub fn s2_digest_valid(&self) -> Option<bool> {
        self.s2_digest_valid
    }
}
