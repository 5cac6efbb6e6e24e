//! Simulcast layer selection for one subscriber (RFC 8853 streams of one source, lowest first):
//! which layer its bandwidth estimate carries, with hysteresis.
//!
//! - A layer *fits* when its measured bitrate × [`HEADROOM`] is at most the estimate (audio,
//!   RTCP and retransmissions need the rest); the layer in use is *kept* while its bitrate is at
//!   most the estimate × [`KEEP_TOLERANCE`] (an estimate follows what arrives: on an open path it
//!   sits near the layer's own rate).
//! - **Down at once**: when the layer in use is no longer kept, the best one that fits is chosen
//!   (the switch itself happens at that layer's next keyframe, which the caller requests).
//! - **Up after [`UP_HOLD_MS`]**: a better layer must have fitted that long without a break, so a
//!   subscriber does not oscillate on a noisy estimate — or at once when a probe for it reached
//!   its aim (the probe is the evidence, and its padding stops).
//! - A layer with no bitrate (the publisher paused it, or it has not started) is never chosen;
//!   a subscriber on one moves at once.
//! - Without an estimate (no transport-wide CC feedback yet, or none negotiated) the top layer.
//! - A [`LayerPolicy`] (one per port, `webrtc.simulcast`): a highest layer, audio first (the
//!   estimate covers the audio's measured bitrate before a layer is fitted), and a floor under
//!   which video pauses (audio only) until the estimate is [`RESUME_FACTOR`] × the floor and the
//!   lowest layer fits again (probing for it while paused).
//! - **Probing**: an estimate the receive rate caps (a relay does not probe on its own: the
//!   estimator stays within 1.5× of what arrives, see `crate::bwe`) can only learn that a path
//!   carries the next layer up if more is sent: [`LayerSelector::probe_bps`] says how much
//!   padding to add for how long (the sender tops what it sends up to the aim ×
//!   [`PROBE_OVERSHOOT`]), with a back-off that doubles after each probe that did not lift the
//!   estimate enough ([`PROBE_BACKOFF_MS`] to [`PROBE_BACKOFF_MAX_MS`]).

/// A layer fits when `bitrate × HEADROOM ≤ estimate`.
pub const HEADROOM: f64 = 1.2;
/// Paused video resumes once the estimate is this many times the pause floor.
pub const RESUME_FACTOR: f64 = 1.25;

/// How layers are chosen for the subscribers of a port (`webrtc.simulcast`) or of one stream (an
/// SFU room's, `Fanout::set_stream_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerPolicy {
    /// The highest layer a subscriber gets (0 the lowest); `None`: the top.
    pub max_layer: Option<usize>,
    /// Under this estimate (bit/s; after the audio with `audio_first`) video pauses: audio
    /// only. 0: never.
    pub pause_below_bps: f64,
    /// The estimate covers the audio first: layers are fitted in what it leaves.
    pub audio_first: bool,
}

/// The layer in use is kept while `bitrate ≤ estimate × KEEP_TOLERANCE`.
pub const KEEP_TOLERANCE: f64 = 1.1;
/// A better layer must fit this long before the subscriber moves up, ms.
pub const UP_HOLD_MS: f64 = 2000.0;
/// A probe lasts this long at most, ms.
pub const PROBE_MS: f64 = 1500.0;
/// The first wait between probes, ms (doubled after each that failed, reset by a move up).
pub const PROBE_BACKOFF_MS: f64 = 2000.0;
/// The longest wait between probes, ms (a path that recovers is found within about this).
pub const PROBE_BACKOFF_MAX_MS: f64 = 8_000.0;
/// A probe sends this much more than its aim: the estimate follows what arrives, a little late.
pub const PROBE_OVERSHOOT: f64 = 1.2;

/// The selection state of one subscriber; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct LayerSelector {
    /// A better layer has fitted since then (ms).
    better_since: Option<f64>,
    /// A probe runs until then (ms), aiming at this many bit/s in total.
    probe: Option<(f64, f64)>,
    /// No probe before then (ms).
    next_probe_at: f64,
    backoff_ms: f64,
    /// A layer a probe showed the path carries (moved to at once).
    proven: Option<usize>,
    /// A layer chosen by hand (an index into the layers): always that one while it has a bitrate.
    pub pinned: Option<usize>,
    /// Video paused by the policy's floor.
    paused: bool,
    /// When video last resumed (ms): it does not pause again within [`UP_HOLD_MS`] (the
    /// estimate needs the resumed video's arrivals to follow).
    resumed_at: Option<f64>,
}

/// What [`LayerSelector::choose`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The layer to be on (switch at its next keyframe when it differs from the current one).
    pub layer: usize,
    /// Video paused by the policy's floor: audio only.
    pub paused: bool,
}

impl From<usize> for Choice {
    fn from(layer: usize) -> Choice {
        Choice { layer, paused: false }
    }
}

impl LayerSelector {
    /// Whether the policy paused this subscriber's video.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The layer for a subscriber on `current`, given each layer's bitrate (bit/s, lowest layer
    /// first; 0: not flowing), the estimate (`None`: none), the audio's bitrate and the policy,
    /// at `now_ms`.
    pub fn choose_with(&mut self, current: usize, rates_bps: &[f64], estimate_bps: Option<f64>, audio_bps: f64, policy: &LayerPolicy, now_ms: f64) -> Choice {
        let capped: Vec<f64> = rates_bps.iter().enumerate().map(|(i, &r)| if policy.max_layer.is_some_and(|m| i > m) { 0.0 } else { r }).collect();
        let estimate = estimate_bps.map(|e| if policy.audio_first { (e - audio_bps).max(0.0) } else { e });
        let lowest = capped.iter().position(|&r| r > 0.0);
        if policy.pause_below_bps > 0.0 && self.pinned.is_none() {
            if let (Some(e), Some(low)) = (estimate, lowest) {
                if !self.paused && e < policy.pause_below_bps && self.resumed_at.is_none_or(|t| now_ms - t >= UP_HOLD_MS) {
                    self.paused = true;
                    self.better_since = None;
                    return Choice { layer: current, paused: true };
                }
                if self.paused {
                    let proven = self.proven.take().is_some();
                    if proven || (e >= policy.pause_below_bps * RESUME_FACTOR && capped[low] * HEADROOM <= e) {
                        self.paused = false;
                        self.backoff_ms = 0.0;
                        self.resumed_at = Some(now_ms);
                        return low.into();
                    }
                    return Choice { layer: current, paused: true };
                }
            }
        }
        self.paused = false;
        let mut choice = self.choose(current, &capped, estimate, now_ms);
        if policy.max_layer.is_some_and(|m| choice.layer > m) {
            choice.layer = lowest.unwrap_or(0).max(policy.max_layer.unwrap_or(0).min(choice.layer));
        }
        choice
    }

    /// [`choose_with`](Self::choose_with) without a policy or audio.
    pub fn choose(&mut self, current: usize, rates_bps: &[f64], estimate_bps: Option<f64>, now_ms: f64) -> Choice {
        let available = |i: usize| rates_bps.get(i).is_some_and(|&r| r > 0.0);
        let top = (0..rates_bps.len()).rev().find(|&i| available(i));
        let Some(top) = top else { return current.into() };
        if let Some(p) = self.pinned.filter(|&p| available(p)) {
            return p.into();
        }
        let Some(estimate) = estimate_bps else {
            self.better_since = None;
            return top.into();
        };
        let fits = |i: usize| available(i) && rates_bps[i] * HEADROOM <= estimate;
        let lowest = (0..rates_bps.len()).find(|&i| available(i)).unwrap_or(top);
        let best = (0..rates_bps.len()).rev().find(|&i| fits(i)).unwrap_or(lowest);
        if !available(current) {
            self.better_since = None;
            return best.into();
        }
        if rates_bps[current] > estimate * KEEP_TOLERANCE {
            self.better_since = None;
            self.proven = None;
            return (0..current).rev().find(|&i| fits(i)).unwrap_or(lowest).into();
        }
        if let Some(p) = self.proven.take().filter(|&p| p > current && available(p)) {
            self.better_since = None;
            self.backoff_ms = 0.0;
            return p.into();
        }
        if best <= current {
            self.better_since = None;
            return current.into();
        }
        let since = *self.better_since.get_or_insert(now_ms);
        if now_ms - since >= UP_HOLD_MS {
            self.better_since = None;
            self.backoff_ms = 0.0;
            self.probe = None;
            return best.into();
        }
        current.into()
    }

    /// Padding to send now, bit/s in total (media included), when a probe for the layer above
    /// `current` should run: the next layer up does not fit, nothing is pinned, and the back-off
    /// allows. `None` otherwise. A probe ends after [`PROBE_MS`] or once the estimate reached
    /// its aim; ending short of it doubles the back-off.
    pub fn probe_bps(&mut self, current: usize, rates_bps: &[f64], estimate_bps: Option<f64>, now_ms: f64) -> Option<f64> {
        let next = ((current + 1)..rates_bps.len()).find(|&i| rates_bps[i] > 0.0);
        match next {
            Some(next) => self.probe_for(next, rates_bps[next] * HEADROOM, estimate_bps, now_ms),
            None => self.probe_for(usize::MAX, f64::INFINITY, estimate_bps, now_ms),
        }
    }

    /// As [`probe_bps`](Self::probe_bps) for layer `target` with an estimate of `aim_bps` to
    /// reach (its bitrate × [`HEADROOM`], plus what must come first: audio, the pause floor).
    /// `target` `usize::MAX` (nothing to probe for) ends a running probe.
    pub fn probe_for(&mut self, target: usize, aim_bps: f64, estimate_bps: Option<f64>, now_ms: f64) -> Option<f64> {
        let estimate = estimate_bps?;
        if self.pinned.is_some() {
            return None;
        }
        if let Some((until, aim)) = self.probe {
            if estimate >= aim {
                self.probe = None;
                self.proven = (target != usize::MAX).then_some(target);
                return None;
            }
            if now_ms < until {
                return Some(aim);
            }
            self.probe = None;
            self.backoff_ms = if self.backoff_ms == 0.0 { PROBE_BACKOFF_MS } else { (self.backoff_ms * 2.0).min(PROBE_BACKOFF_MAX_MS) };
            self.next_probe_at = now_ms + self.backoff_ms;
            return None;
        }
        if target == usize::MAX || !aim_bps.is_finite() || estimate >= aim_bps || now_ms < self.next_probe_at {
            return None;
        }
        self.probe = Some((now_ms + PROBE_MS, aim_bps));
        Some(aim_bps)
    }

    /// Whether a probe is running.
    pub fn probing(&self) -> bool {
        self.probe.is_some()
    }

    /// Ends a probe at once (the path showed congestion), with the back-off of a failed one.
    pub fn abort_probe(&mut self, now_ms: f64) {
        if self.probe.take().is_some() {
            self.backoff_ms = if self.backoff_ms == 0.0 { PROBE_BACKOFF_MS } else { (self.backoff_ms * 2.0).min(PROBE_BACKOFF_MAX_MS) };
            self.next_probe_at = now_ms + self.backoff_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_cap_reserve_audio_and_pause() {
        let mut s = LayerSelector::default();
        let capped = LayerPolicy { max_layer: Some(1), ..LayerPolicy::default() };
        assert_eq!(s.choose_with(2, &RATES, Some(10_000_000.0), 0.0, &capped, 0.0).layer, 1, "never above the cap");
        assert_eq!(s.choose_with(1, &RATES, None, 0.0, &capped, 0.0).layer, 1, "no estimate: the cap");
        let audio_first = LayerPolicy { audio_first: true, ..LayerPolicy::default() };
        // h needs 600 k: 650 k fits it, not with 100 k of audio first
        let mut s = LayerSelector::default();
        assert_eq!(s.choose_with(1, &RATES, Some(650_000.0), 0.0, &LayerPolicy::default(), 0.0).layer, 1);
        assert_eq!(s.choose_with(1, &RATES, Some(650_000.0), 100_000.0, &audio_first, 0.0).layer, 1, "kept (tolerance)");
        assert_eq!(s.choose_with(1, &RATES, Some(500_000.0), 100_000.0, &audio_first, 0.0).layer, 0, "400 k left: down");
        let pause = LayerPolicy { pause_below_bps: 100_000.0, ..LayerPolicy::default() };
        let mut s = LayerSelector::default();
        assert_eq!(s.choose_with(0, &RATES, Some(80_000.0), 0.0, &pause, 0.0), Choice { layer: 0, paused: true });
        assert!(s.paused());
        assert!(s.choose_with(0, &RATES, Some(120_000.0), 0.0, &pause, 100.0).paused, "not yet 1.25 × the floor");
        assert_eq!(s.choose_with(0, &RATES, Some(200_000.0), 0.0, &pause, 200.0), Choice { layer: 0, paused: false }, "resumed on the lowest");
        assert!(!s.choose_with(0, &RATES, Some(50_000.0), 0.0, &pause, 300.0).paused, "not again within 2 s of resuming");
        assert!(s.choose_with(0, &RATES, Some(50_000.0), 0.0, &pause, 2300.0).paused);
        // paused, a probe for the lowest layer that reaches its aim resumes it
        assert_eq!(s.probe_for(0, 200_000.0, Some(60_000.0), 2400.0), Some(200_000.0));
        assert_eq!(s.probe_for(0, 200_000.0, Some(210_000.0), 2500.0), None);
        assert_eq!(s.choose_with(0, &RATES, Some(90_000.0), 0.0, &pause, 2600.0), Choice { layer: 0, paused: false }, "proven");
    }

    const RATES: [f64; 3] = [150_000.0, 500_000.0, 1_500_000.0];

    #[test]
    fn down_at_once_up_after_the_hold() {
        let mut s = LayerSelector::default();
        assert_eq!(s.choose(2, &RATES, None, 0.0).layer, 2, "no estimate: the top");
        assert_eq!(s.choose(2, &RATES, Some(1_400_000.0), 0.0).layer, 2, "kept: within the tolerance");
        assert_eq!(s.choose(2, &RATES, Some(400_000.0), 0.0).layer, 0, "only the lowest fits");
        assert_eq!(s.choose(0, &RATES, Some(100_000.0), 10.0).layer, 0, "nothing fits: the lowest");
        assert_eq!(s.choose(0, &RATES, Some(700_000.0), 100.0).layer, 0, "better fits: wait");
        assert_eq!(s.choose(0, &RATES, Some(700_000.0), 1000.0).layer, 0);
        assert_eq!(s.choose(0, &RATES, Some(300_000.0), 1500.0).layer, 0, "a break restarts the hold");
        assert_eq!(s.choose(0, &RATES, Some(700_000.0), 1600.0).layer, 0);
        assert_eq!(s.choose(0, &RATES, Some(700_000.0), 3600.0).layer, 1, "held 2 s");
        assert_eq!(s.choose(1, &RATES, Some(5_000_000.0), 3700.0).layer, 1);
        assert_eq!(s.choose(1, &RATES, Some(5_000_000.0), 5700.0).layer, 2);
    }

    #[test]
    fn paused_layers_are_skipped_and_pins_hold() {
        let mut s = LayerSelector::default();
        let paused_top = [150_000.0, 500_000.0, 0.0];
        assert_eq!(s.choose(2, &paused_top, Some(5_000_000.0), 0.0).layer, 1, "off a paused layer at once");
        assert_eq!(s.choose(2, &paused_top, None, 0.0).layer, 1, "no estimate: the top that flows");
        s.pinned = Some(0);
        assert_eq!(s.choose(1, &RATES, Some(5_000_000.0), 0.0).layer, 0);
        assert_eq!(s.probe_bps(0, &RATES, Some(200_000.0), 0.0), None, "no probing while pinned");
        s.pinned = Some(2);
        assert_eq!(s.choose(1, &paused_top, Some(5_000_000.0), 0.0).layer, 1, "a pinned layer that does not flow: as if unpinned");
        assert_eq!(s.choose(0, &[0.0; 3], Some(1.0), 0.0).layer, 0, "nothing flows: stay");
    }

    #[test]
    fn probes_for_the_next_layer_with_a_back_off() {
        let mut s = LayerSelector::default();
        let aim = RATES[1] * HEADROOM;
        assert_eq!(s.probe_bps(0, &RATES, Some(250_000.0), 0.0), Some(aim));
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 500.0), Some(aim), "still running");
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 1600.0), None, "ended short: back off 2 s");
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 3000.0), None);
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 3700.0), Some(aim));
        s.abort_probe(3800.0);
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 7000.0), None, "4 s now");
        assert_eq!(s.probe_bps(0, &RATES, Some(300_000.0), 7900.0), Some(aim));
        assert_eq!(s.probe_bps(0, &RATES, Some(aim), 8000.0), None, "the estimate reached the aim");
        assert_eq!(s.choose(0, &RATES, Some(300_000.0), 8100.0).layer, 1, "proven: up at once");
        assert_eq!(s.probe_bps(2, &RATES, Some(300_000.0), 9000.0), None, "nothing above the top");
        assert!(s.pinned.is_none());
        assert_eq!(s.probe_bps(1, &RATES, None, 9000.0), None, "no estimate, no probe");
    }
}
