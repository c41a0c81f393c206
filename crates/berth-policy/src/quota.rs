//! Whether a repository may grow.

/// A push would take a repository past its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "adding {} would bring usage to {}, over the limit of {}",
    human_bytes(*.delta),
    human_bytes(.usage.saturating_add(*.delta)),
    human_bytes(*.limit)
)]
pub struct QuotaExceeded {
    /// Usage before.
    pub usage: u64,
    /// What would be added.
    pub delta: u64,
    /// The limit.
    pub limit: u64,
}

/// May a repository using `usage` bytes grow by `delta` under `limit` (none: unlimited)?
///
/// Adding nothing is always allowed, even to a repository already over a lowered limit, so that
/// re-tagging and re-pushing existing content keep working.
pub fn admit(usage: u64, delta: u64, limit: Option<u64>) -> Result<(), QuotaExceeded> {
    match limit {
        Some(limit) if delta > 0 && usage.checked_add(delta).is_none_or(|total| total > limit) => {
            Err(QuotaExceeded {
                usage,
                delta,
                limit,
            })
        }
        _ => Ok(()),
    }
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `510.7 MiB`, `10.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up while the value would print as 1024.0 or more in this unit.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn the_message_a_user_reads() {
        let err = admit(9_934 * MIB, 5107 * MIB / 10, Some(10 * GIB)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "adding 510.7 MiB would bring usage to 10.2 GiB, over the limit of 10.0 GiB"
        );
        let err = admit(10 * GIB, 5107 * MIB / 10, Some(10 * GIB)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "adding 510.7 MiB would bring usage to 10.5 GiB, over the limit of 10.0 GiB"
        );
    }

    #[test]
    fn units() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (MIB - 1, "1.0 MiB"),
            (GIB, "1.0 GiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn edges() {
        assert!(admit(0, 10, Some(10)).is_ok(), "exactly at the limit fits");
        assert!(admit(0, 11, Some(10)).is_err());
        assert!(admit(50, 0, Some(10)).is_ok(), "adding nothing always fits");
        assert!(admit(u64::MAX, u64::MAX, None).is_ok(), "no limit");
        assert!(
            admit(u64::MAX, 1, Some(u64::MAX)).is_err(),
            "an overflowing sum is over any limit"
        );
    }

    proptest! {
        #[test]
        fn admits_exactly_what_fits(usage in 0u64..1 << 50, delta in 0u64..1 << 50, limit in proptest::option::of(0u64..1 << 51)) {
            let fits = delta == 0 || limit.is_none_or(|l| usage + delta <= l);
            prop_assert_eq!(admit(usage, delta, limit).is_ok(), fits);
            if let Err(e) = admit(usage, delta, limit) {
                prop_assert_eq!((e.usage, e.delta, Some(e.limit)), (usage, delta, limit));
                prop_assert!(e.to_string().starts_with("adding "));
            }
        }

        #[test]
        fn human_bytes_is_within_a_tenth_of_a_unit(bytes in any::<u64>()) {
            let text = human_bytes(bytes);
            let (number, unit) = text.split_once(' ').unwrap();
            let scale = match unit { "B" => 1.0, "KiB" => 1024.0, "MiB" => 1024f64.powi(2), "GiB" => 1024f64.powi(3), "TiB" => 1024f64.powi(4), "PiB" => 1024f64.powi(5), _ => 1024f64.powi(6) };
            let value: f64 = number.parse().unwrap();
            prop_assert!((value * scale - bytes as f64).abs() <= 0.05 * scale + 1.0, "{bytes} -> {text}");
            prop_assert!(value < 1024.0);
        }
    }
}
