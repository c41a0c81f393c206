//! The engine's time, injected: the wall clock for what is recorded and compared across nodes
//! (history, expiry, the GC grace, token lifetimes) and a monotonic one for windows that must not
//! jump (login throttling). Production runs on [`SystemClock`]; tests and simulations move a
//! [`ManualClock`] forward instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_model::Timestamp;

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time.
    fn now(&self) -> Timestamp;
    /// Monotonic time.
    fn instant(&self) -> Instant;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`advanced`](ManualClock::advance); it starts at the system
/// time of its creation, so what it stamps sorts with what real clocks stamped before.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Timestamp,
    start_instant: Instant,
    elapsed_ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at the present moment.
    pub fn new() -> Self {
        ManualClock {
            start: Timestamp::now(),
            start_instant: Instant::now(),
            elapsed_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock (and every clone of it) forward by `by`, to the millisecond.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms.fetch_add(ms, Ordering::SeqCst);
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms.load(Ordering::SeqCst))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.start.plus(self.elapsed())
    }

    fn instant(&self) -> Instant {
        self.start_instant + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new();
        let (t0, i0) = (clock.now(), clock.instant());
        let other = clock.clone();
        assert_eq!((clock.now(), clock.instant()), (t0, i0));
        other.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), t0.plus(Duration::from_secs(90)));
        assert_eq!(clock.instant(), i0 + Duration::from_secs(90));
    }
}
