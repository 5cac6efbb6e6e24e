//! [`IceLite`]: the ICE-lite agent of one server-side peer (RFC 8445 §2.5, §7.3; RFC 7675).
//!
//! A lite agent gathers only host candidates, never sends checks and is always controlled: it
//! answers the browser's binding requests, takes the pair the browser nominates
//! (USE-CANDIDATE) as the one to send on, and treats the browser's periodic checks on that
//! pair as consent (RFC 7675 §5.1: consent is lost 30 s after the last one).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::builder::MessageBuilder;
use crate::message::{Class, Message, METHOD_BINDING};
use crate::StunError;

/// How long consent lasts after the last authenticated check on the selected pair
/// (RFC 7675 §5.1: 30 s).
pub const DEFAULT_CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new agent waits for its first authenticated check before giving up.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most distinct source addresses remembered per agent (candidate pairs the browser checks:
/// one per local candidate of the browser that reaches us).
pub const MAX_REMOTE_ADDRESSES: usize = 8;

/// Options of [`IceLite::new`].
#[derive(Debug, Clone)]
pub struct IceLiteConfig {
    /// Our ufrag (`a=ice-ufrag` of the answer): 4–256 ice-chars (RFC 8839 §5.4).
    pub local_ufrag: String,
    /// Our password (`a=ice-pwd`): 22–256 ice-chars (RFC 8839 §5.4). The MESSAGE-INTEGRITY key.
    pub local_password: String,
    /// The browser's ufrag from its offer, when known: then USERNAME must be exactly
    /// `local:remote`.
    pub remote_ufrag: Option<String>,
    /// See [`DEFAULT_CONSENT_TIMEOUT`].
    pub consent_timeout: Duration,
    /// See [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
}

impl IceLiteConfig {
    /// Default timeouts, no remote ufrag.
    pub fn new(local_ufrag: impl Into<String>, local_password: impl Into<String>) -> Self {
        IceLiteConfig {
            local_ufrag: local_ufrag.into(),
            local_password: local_password.into(),
            remote_ufrag: None,
            consent_timeout: DEFAULT_CONSENT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Where an agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// No pair nominated yet.
    Checking,
    /// A pair is selected and consent is fresh: media may be sent to [`IceLite::selected`].
    Connected,
    /// Connect timeout or consent expiry: nothing may be sent any more (RFC 7675 §5.1).
    Closed,
}

/// What an agent tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceEvent {
    /// The browser nominated this address (the first time, or a new one after a network
    /// change): send media there.
    Selected(SocketAddr),
    /// Consent expired or no check came in time: close the peer.
    Closed,
}

/// What [`IceLite::handle_stun`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunOutcome {
    /// A valid check: a success response was appended to `out`; send it to the source. The
    /// source is now a known remote address of this agent (route its DTLS/SRTP here).
    Answered,
    /// Refused with an error response appended to `out` (400, 401, 420 or 487); send it.
    Refused(u16),
    /// Nothing to send: an indication, a response, or a refusal whose answer would be larger
    /// than the request (never amplify traffic to an unauthenticated source).
    Ignored,
}

/// One peer's ICE-lite state machine, sans-IO: messages and time in, responses and events out.
#[derive(Debug)]
pub struct IceLite {
    config: IceLiteConfig,
    state: IceState,
    created: Instant,
    remotes: Vec<SocketAddr>,
    selected: Option<SocketAddr>,
    last_consent: Option<Instant>,
    events: std::collections::VecDeque<IceEvent>,
    checks: u64,
}

fn ice_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

impl IceLite {
    /// A new agent in [`IceState::Checking`], created at `now`.
    ///
    /// # Errors
    /// [`StunError::InvalidOption`] when the ufrag or password is out of RFC 8839 §5.4's
    /// lengths or holds characters other than `ALPHA / DIGIT / "+" / "/"`.
    pub fn new(config: IceLiteConfig, now: Instant) -> Result<Self, StunError> {
        if !(4..=256).contains(&config.local_ufrag.len()) || !ice_chars(&config.local_ufrag) {
            return Err(StunError::InvalidOption(
                "ufrag: 4-256 characters of [A-Za-z0-9+/]",
            ));
        }
        if !(22..=256).contains(&config.local_password.len()) || !ice_chars(&config.local_password)
        {
            return Err(StunError::InvalidOption(
                "password: 22-256 characters of [A-Za-z0-9+/]",
            ));
        }
        Ok(IceLite {
            config,
            state: IceState::Checking,
            created: now,
            remotes: Vec::new(),
            selected: None,
            last_consent: None,
            events: Default::default(),
            checks: 0,
        })
    }

    /// Our ufrag: the part of USERNAME before the colon routes a request to this agent.
    pub fn local_ufrag(&self) -> &str {
        &self.config.local_ufrag
    }

    /// The agent's state.
    pub fn state(&self) -> IceState {
        self.state
    }

    /// The address media goes to, once the browser nominated one.
    pub fn selected(&self) -> Option<SocketAddr> {
        if self.state == IceState::Connected {
            self.selected
        } else {
            None
        }
    }

    /// True when `source` answered a check: its DTLS and SRTCP belong to this agent.
    pub fn knows(&self, source: SocketAddr) -> bool {
        self.remotes.contains(&source)
    }

    /// Authenticated binding requests answered so far.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// Answers one STUN message that came from `source` at `now`, appending the response (if
    /// any) to `out`. A request that authenticates refreshes consent when it came on the
    /// selected pair, and selects its source when it carries USE-CANDIDATE.
    ///
    /// # Errors
    /// Never for a message that parsed; the refusals are [`StunOutcome::Refused`] (or
    /// [`StunOutcome::Ignored`] when answering would amplify). A closed agent ignores
    /// everything.
    pub fn handle_stun(
        &mut self,
        message: &Message<'_>,
        source: SocketAddr,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> StunOutcome {
        if self.state == IceState::Closed
            || message.method() != METHOD_BINDING
            || message.class() != Class::Request
        {
            return StunOutcome::Ignored;
        }
        let request_len = message.as_bytes().len();
        let unknown = message.unknown_comprehension_required();
        if !unknown.is_empty() {
            return self.refuse(
                message,
                out,
                420,
                "Unknown Attribute",
                &unknown,
                request_len,
            );
        }
        let username = match message.username() {
            Ok(Some(u)) => u,
            _ => return self.refuse(message, out, 400, "Bad Request", &[], request_len),
        };
        if !self.username_matches(username) {
            return self.refuse(message, out, 401, "Unauthenticated", &[], request_len);
        }
        if message
            .verify_integrity(self.config.local_password.as_bytes())
            .is_err()
        {
            return self.refuse(message, out, 401, "Unauthenticated", &[], request_len);
        }
        if message.ice_controlled().is_some() {
            // Both sides controlled: the full agent must take the controlling role (a lite
            // agent never does, RFC 8445 §6.1.1, §7.3.1.1).
            return self.refuse(message, out, 487, "Role Conflict", &[], request_len);
        }

        self.checks += 1;
        if !self.remotes.contains(&source) {
            if self.remotes.len() == MAX_REMOTE_ADDRESSES {
                self.remotes.remove(0);
            }
            self.remotes.push(source);
        }
        if message.use_candidate() && self.selected != Some(source) {
            self.selected = Some(source);
            self.state = IceState::Connected;
            self.events.push_back(IceEvent::Selected(source));
        }
        if self.selected == Some(source) {
            self.last_consent = Some(now);
        }

        MessageBuilder::new(
            out,
            Class::SuccessResponse,
            METHOD_BINDING,
            &message.transaction_id(),
        )
        .xor_mapped_address(source)
        .message_integrity(self.config.local_password.as_bytes())
        .fingerprint();
        StunOutcome::Answered
    }

    fn username_matches(&self, username: &str) -> bool {
        let Some((local, remote)) = username.split_once(':') else {
            return false;
        };
        local == self.config.local_ufrag
            && self
                .config
                .remote_ufrag
                .as_deref()
                .is_none_or(|r| r == remote)
    }

    fn refuse(
        &self,
        message: &Message<'_>,
        out: &mut Vec<u8>,
        code: u16,
        reason: &str,
        unknown: &[u16],
        request_len: usize,
    ) -> StunOutcome {
        let start = out.len();
        let mut b = MessageBuilder::new(
            out,
            Class::ErrorResponse,
            METHOD_BINDING,
            &message.transaction_id(),
        );
        b.error_code(code, reason);
        if !unknown.is_empty() {
            b.unknown_attributes(unknown);
        }
        b.fingerprint();
        if out.len() - start > request_len {
            out.truncate(start);
            return StunOutcome::Ignored;
        }
        StunOutcome::Refused(code)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            IceState::Closed => None,
            IceState::Checking => Some(self.created + self.config.connect_timeout),
            IceState::Connected => self.last_consent.map(|t| t + self.config.consent_timeout),
        }
    }

    /// Moves time to `now`: closes the agent when consent expired or no pair was nominated
    /// within the connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout() {
            if now >= deadline {
                self.close();
            }
        }
    }

    /// Closes the agent (idempotent): [`IceEvent::Closed`] once, nothing is answered after.
    pub fn close(&mut self) {
        if self.state != IceState::Closed {
            self.state = IceState::Closed;
            self.events.push_back(IceEvent::Closed);
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }
}
