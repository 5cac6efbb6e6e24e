//! [`SharedPaths`]: the viewers of one receiver share its network path — an SFU participant's
//! downlinks are one receive-only PeerConnection per stream, each with its own bandwidth
//! estimate, all through the same access link (the caller names the receiver: a path group). Their layer choices must not fight
//! over it: congestion one of them sees (loss in its transport-wide CC feedback; a growing
//! delay alone may be its own keyframe burst) stops every probe on the path and lets none start there for [`CONGESTION_HOLD`] —
//! a probe that fills the link is stopped by whoever suffers, not only by the prober — and for
//! [`CALM`] after it the path is probed by one viewer at a time (two probes together would fill
//! what each alone fits; a path that has not been full for that long is probed by all at once,
//! so an open path climbs fast).
//! Shared by the port's send threads (a viewer lives in one of them).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long congestion seen by one viewer holds for the others on its path.
pub const CONGESTION_HOLD: Duration = Duration::from_secs(1);

/// A path congested within this long is probed by one viewer at a time.
pub const CALM: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct PathState {
    /// The viewers probing this path.
    probers: Vec<u32>,
    /// When congestion was last seen on the path.
    congested_at: Option<Instant>,
}

impl PathState {
    fn congested(&self, now: Instant) -> bool {
        self.congested_at.is_some_and(|at| now < at + CONGESTION_HOLD)
    }

    fn calm(&self, now: Instant) -> bool {
        self.congested_at.is_none_or(|at| now >= at + CALM)
    }
}

/// The paths of the port's receivers, keyed by path group (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct SharedPaths {
    paths: Mutex<HashMap<Arc<str>, PathState>>,
}

impl SharedPaths {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Arc<str>, PathState>) -> R) -> R {
        f(&mut self.paths.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A viewer on `group`'s path saw congestion at `now`: every probe there stops (paths with
    /// nothing left to remember are forgotten meanwhile).
    pub fn mark_congested(&self, group: &Arc<str>, now: Instant) {
        self.with(|paths| {
            paths.retain(|_, p| !p.probers.is_empty() || !p.calm(now));
            let p = paths.entry(group.clone()).or_default();
            p.congested_at = Some(now);
            p.probers.clear();
        });
    }

    /// Viewer `id` may probe `group`'s path at `now`: it is not congested, and it has been calm
    /// or no one else probes it (true also when `id` probes it already).
    pub fn try_probe(&self, group: &Arc<str>, id: u32, now: Instant) -> bool {
        self.with(|paths| {
            let p = paths.entry(group.clone()).or_default();
            if p.probers.contains(&id) {
                return true;
            }
            if p.congested(now) || (!p.calm(now) && !p.probers.is_empty()) {
                return false;
            }
            if !p.probers.contains(&id) {
                p.probers.push(id);
            }
            true
        })
    }

    /// Whether viewer `id` is (still) the one probing `group`'s path.
    pub fn probing(&self, group: &Arc<str>, id: u32) -> bool {
        self.with(|paths| paths.get(group).is_some_and(|p| p.probers.contains(&id)))
    }

    /// Viewer `id` does not probe `group`'s path (any more); a path with nothing to remember is forgotten.
    pub fn end_probe(&self, group: &Arc<str>, id: u32, now: Instant) {
        self.with(|paths| {
            let Some(p) = paths.get_mut(group) else { return };
            p.probers.retain(|&x| x != id);
            if p.probers.is_empty() && p.calm(now) {
                paths.remove(group);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn congestion_on_a_path_stops_every_probe_there() {
        let paths = SharedPaths::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("room/a"), Arc::from("room/b"));
        let now = Instant::now();
        assert!(paths.try_probe(&a, 1, now));
        assert!(paths.try_probe(&a, 1, now), "the prober may go on");
        assert!(paths.try_probe(&a, 4, now), "a calm path: probes at once");
        assert!(paths.try_probe(&b, 3, now), "another path");
        paths.mark_congested(&a, now);
        assert!(!paths.probing(&a, 1) && !paths.probing(&a, 4), "congestion stopped both probes");
        assert!(paths.probing(&b, 3), "not the other path's");
        assert!(!paths.try_probe(&a, 2, now + CONGESTION_HOLD / 2), "and holds new ones");
        assert!(paths.try_probe(&a, 2, now + CONGESTION_HOLD));
        assert!(!paths.try_probe(&a, 1, now + CONGESTION_HOLD), "one at a time on a path full lately");
        paths.end_probe(&a, 2, now + CONGESTION_HOLD);
        assert!(paths.try_probe(&a, 1, now + CONGESTION_HOLD));
        assert!(paths.try_probe(&a, 2, now + CALM), "calm again: together");
        paths.end_probe(&a, 1, now + CALM);
        paths.end_probe(&a, 2, now + CALM);
        paths.mark_congested(&b, now + CALM);
        assert!(paths.with(|p| p.len() == 1 && p.contains_key(&b)), "the expired path is forgotten");
    }
}
