//! Slowing down repeated failed logins from one source.
//!
//! Each source (an IP address) may fail [`Throttle::MAX_FAILURES`] times in a window of
//! [`Throttle::WINDOW`]; past that, every login attempt from it is refused until the window
//! ends, whether its credentials are right or not, so guessing gains nothing by speed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed-login counts per source.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    sources: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Sources remembered before expired windows are swept.
const SWEEP_AT: usize = 4096;

impl Throttle {
    /// Failures allowed per window.
    pub(crate) const MAX_FAILURES: u32 = 10;
    /// The window.
    pub(crate) const WINDOW: Duration = Duration::from_secs(60);

    /// `Err(retry after)` when `source` must wait before trying again.
    pub(crate) fn check(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let sources = self.sources.lock().expect("throttle lock");
        match sources.get(&source) {
            Some(w) if w.failures >= Self::MAX_FAILURES => {
                let ends = w.started + Self::WINDOW;
                if ends > now { Err(ends - now) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt from `source`.
    pub(crate) fn failed(&self, source: IpAddr, now: Instant) {
        let mut sources = self.sources.lock().expect("throttle lock");
        if sources.len() >= SWEEP_AT {
            sources.retain(|_, w| w.started + Self::WINDOW > now);
        }
        let window = sources.entry(source).or_insert(Window {
            started: now,
            failures: 0,
        });
        if window.started + Self::WINDOW <= now {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }

    /// Forgets `source`'s failures after a successful login.
    pub(crate) fn succeeded(&self, source: IpAddr) {
        self.sources.lock().expect("throttle lock").remove(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_held_back_after_its_failures_until_the_window_ends() {
        let throttle = Throttle::default();
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let bystander: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..Throttle::MAX_FAILURES {
            assert_eq!(throttle.check(attacker, t0), Ok(()));
            throttle.failed(attacker, t0);
        }
        let wait = throttle.check(attacker, t0 + Duration::from_secs(10));
        assert_eq!(wait, Err(Duration::from_secs(50)));
        assert_eq!(throttle.check(bystander, t0), Ok(()));
        assert_eq!(throttle.check(attacker, t0 + Throttle::WINDOW), Ok(()));
        // A new window starts from scratch.
        throttle.failed(attacker, t0 + Throttle::WINDOW);
        assert_eq!(throttle.check(attacker, t0 + Throttle::WINDOW), Ok(()));
    }

    #[test]
    fn success_forgets_failures() {
        let throttle = Throttle::default();
        let source: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..Throttle::MAX_FAILURES - 1 {
            throttle.failed(source, t0);
        }
        throttle.succeeded(source);
        throttle.failed(source, t0);
        assert_eq!(throttle.check(source, t0), Ok(()));
    }
}
