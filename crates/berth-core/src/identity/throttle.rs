//! Holding back repeated failed logins.
//!
//! Failures are counted in windows of [`Throttle::WINDOW`], three ways:
//! - per source and user name: past [`Throttle::PAIR_FAILURES`], that source may not try that
//!   name until its window ends;
//! - per user name, across sources: past [`Throttle::NAME_FAILURES`], the name is held back for
//!   every source that has not logged in as it during the window (a guesser spread over many
//!   addresses gains nothing; the user's own machines keep working);
//! - per source, across names: past [`Throttle::SOURCE_FAILURES`], the source may not log in at
//!   all (one address spraying one password over many names).
//!
//! A success forgets the failures of exactly its own source and name; it never clears another
//! name's, nor the counts across sources or names. A held-back attempt is refused before any
//! credential is checked, whether it is right or not, so guessing gains nothing by speed.
//!
//! Memory is bounded: each map holds at most [`Throttle::MAX_ENTRIES`] windows; when full after
//! sweeping expired ones, the oldest window goes.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which count held a login back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// This source, for this name.
    Pair,
    /// This name, from any source.
    Name,
    /// This source, for any name.
    Source,
}

impl Held {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Held::Pair => "source_and_name",
            Held::Name => "name",
            Held::Source => "source",
        }
    }
}

/// A refusal: which count, and how long until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) held: Held,
    pub(crate) retry_after: Duration,
    /// Whether this is the first refusal of its window (worth a log line; the rest are not).
    pub(crate) first: bool,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
    /// A success within the window (pairs only): the name's count across sources does not hold
    /// this source back.
    trusted: bool,
    /// Whether a refusal was reported in this window.
    reported: bool,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            failures: 0,
            trusted: false,
            reported: false,
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.started + Throttle::WINDOW > now
    }
}

#[derive(Debug)]
struct Counts<K> {
    windows: HashMap<K, Window>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            windows: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Counts<K> {
    /// The live window of `key`, if any.
    fn live(&mut self, key: &K, now: Instant) -> Option<&mut Window> {
        self.windows.get_mut(key).filter(|w| w.live(now))
    }

    /// The live window of `key`, started now when there is none.
    fn entry(&mut self, key: &K, now: Instant) -> &mut Window {
        if !self.windows.contains_key(key) && self.windows.len() >= Throttle::MAX_ENTRIES {
            self.windows.retain(|_, w| w.live(now));
            if self.windows.len() >= Throttle::MAX_ENTRIES {
                let oldest = self
                    .windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.windows.remove(&oldest);
                }
            }
        }
        let window = self
            .windows
            .entry(key.clone())
            .or_insert_with(|| Window::new(now));
        if !window.live(now) {
            *window = Window::new(now);
        }
        window
    }
}

/// Failed-login counts.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    pairs: Counts<(IpAddr, String)>,
    names: Counts<String>,
    sources: Counts<IpAddr>,
}

/// The name as counted: long names are cut, so an attacker's names cannot grow the maps' keys.
fn key(name: &str) -> String {
    name.chars().take(128).collect()
}

impl Throttle {
    /// Failures per source and name in a window.
    pub(crate) const PAIR_FAILURES: u32 = 10;
    /// Failures per name, across sources, in a window.
    pub(crate) const NAME_FAILURES: u32 = 100;
    /// Failures per source, across names, in a window.
    pub(crate) const SOURCE_FAILURES: u32 = 50;
    /// The window.
    pub(crate) const WINDOW: Duration = Duration::from_secs(60);
    /// Windows kept per map.
    pub(crate) const MAX_ENTRIES: usize = 65_536;

    /// `Err` when `source` may not try `name` now.
    pub(crate) fn check(&self, source: IpAddr, name: &str, now: Instant) -> Result<(), Refusal> {
        let mut inner = self.inner.lock().expect("throttle lock");
        let name = key(name);
        let refuse = |w: &mut Window, held: Held| {
            let first = !w.reported;
            w.reported = true;
            Refusal {
                held,
                retry_after: (w.started + Self::WINDOW).saturating_duration_since(now),
                first,
            }
        };
        if let Some(w) = inner.sources.live(&source, now)
            && w.failures >= Self::SOURCE_FAILURES
        {
            return Err(refuse(w, Held::Source));
        }
        let pair = (source, name.clone());
        let trusted = match inner.pairs.live(&pair, now) {
            Some(w) if w.failures >= Self::PAIR_FAILURES => return Err(refuse(w, Held::Pair)),
            Some(w) => w.trusted,
            None => false,
        };
        if !trusted
            && let Some(w) = inner.names.live(&name, now)
            && w.failures >= Self::NAME_FAILURES
        {
            return Err(refuse(w, Held::Name));
        }
        Ok(())
    }

    /// Counts a failed attempt of `source` at `name`.
    pub(crate) fn failed(&self, source: IpAddr, name: &str, now: Instant) {
        let mut inner = self.inner.lock().expect("throttle lock");
        let name = key(name);
        inner.pairs.entry(&(source, name.clone()), now).failures += 1;
        inner.names.entry(&name, now).failures += 1;
        inner.sources.entry(&source, now).failures += 1;
    }

    /// Forgets the failures of `source` at `name` after a successful login, and trusts that
    /// source for that name for the rest of the window.
    pub(crate) fn succeeded(&self, source: IpAddr, name: &str, now: Instant) {
        let mut inner = self.inner.lock().expect("throttle lock");
        let window = inner.pairs.entry(&(source, key(name)), now);
        window.failures = 0;
        window.trusted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_is_held_back_for_a_name_until_the_window_ends() {
        let throttle = Throttle::default();
        let (attacker, bystander) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let t0 = Instant::now();
        for _ in 0..Throttle::PAIR_FAILURES {
            assert_eq!(throttle.check(attacker, "admin", t0), Ok(()));
            throttle.failed(attacker, "admin", t0);
        }
        let refusal = throttle
            .check(attacker, "admin", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(
            (refusal.held, refusal.retry_after, refusal.first),
            (Held::Pair, Duration::from_secs(50), true)
        );
        assert!(!throttle.check(attacker, "admin", t0).unwrap_err().first);
        assert_eq!(throttle.check(bystander, "admin", t0), Ok(()));
        assert_eq!(throttle.check(attacker, "alice", t0), Ok(()));
        assert_eq!(
            throttle.check(attacker, "admin", t0 + Throttle::WINDOW),
            Ok(())
        );
        // A new window starts from scratch.
        throttle.failed(attacker, "admin", t0 + Throttle::WINDOW);
        assert_eq!(
            throttle.check(attacker, "admin", t0 + Throttle::WINDOW),
            Ok(())
        );
    }

    #[test]
    fn another_identitys_success_clears_nothing() {
        let throttle = Throttle::default();
        let source = ip("::1");
        let t0 = Instant::now();
        // The attack of the issue: wrong guesses at `admin` interleaved with good logins of an
        // unrelated repository user from the same source.
        let mut refused_at = None;
        for attempt in 0..45 {
            if attempt % 9 == 8 {
                throttle.succeeded(source, "10000-ci", t0);
                continue;
            }
            if throttle.check(source, "admin", t0).is_err() {
                refused_at = Some(attempt);
                break;
            }
            throttle.failed(source, "admin", t0);
        }
        assert_eq!(
            refused_at,
            Some(11),
            "10 failures, one success elsewhere, refused"
        );
        // Its own success clears its own pair only.
        throttle.succeeded(source, "admin", t0);
        assert_eq!(throttle.check(source, "admin", t0), Ok(()));
    }

    #[test]
    fn a_name_is_held_back_across_sources_except_where_it_logged_in() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let home = ip("198.51.100.7");
        throttle.succeeded(home, "admin", t0);
        for i in 0..Throttle::NAME_FAILURES {
            let source = IpAddr::from([203, 0, (i / 256) as u8, (i % 256) as u8]);
            assert_eq!(throttle.check(source, "admin", t0), Ok(()));
            throttle.failed(source, "admin", t0);
        }
        let refusal = throttle
            .check(ip("203.0.113.200"), "admin", t0)
            .unwrap_err();
        assert_eq!(refusal.held, Held::Name);
        assert_eq!(throttle.check(home, "admin", t0), Ok(()), "trusted");
        assert_eq!(throttle.check(ip("203.0.113.200"), "bob", t0), Ok(()));
    }

    #[test]
    fn a_source_spraying_names_is_held_back() {
        let throttle = Throttle::default();
        let source = ip("192.0.2.9");
        let t0 = Instant::now();
        for i in 0..Throttle::SOURCE_FAILURES {
            let name = format!("user{i}");
            assert_eq!(throttle.check(source, &name, t0), Ok(()));
            throttle.failed(source, &name, t0);
        }
        let refusal = throttle.check(source, "another", t0).unwrap_err();
        assert_eq!(refusal.held, Held::Source);
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for i in 0..(Throttle::MAX_ENTRIES + 10) {
            throttle.failed(ip("192.0.2.1"), &format!("n{i}"), t0);
        }
        let inner = throttle.inner.lock().unwrap();
        assert!(inner.pairs.windows.len() <= Throttle::MAX_ENTRIES);
        assert!(inner.names.windows.len() <= Throttle::MAX_ENTRIES);
    }
}
