//! When a queue entry is tried again, and when the sender hears about it.
//!
//! As mox: the first attempt right away, then after 7.5 minutes, doubling up to 16 hours
//! (`[queue] retry_intervals_seconds`, the last interval repeating), with up to 5% jitter so
//! that entries queued together do not retry in lockstep; the sender gets a "delayed" DSN once,
//! after `delayed_dsn_after` failed attempts, and a failure DSN when the message bounces after
//! `max_attempts`.

use std::time::Duration;

use crate::config::transports::QueueConfig;

/// The wait after the `attempts`-th attempt (counting from 1) failed, before jitter.
pub fn interval(config: &QueueConfig, attempts: u32) -> Duration {
    let i = (attempts.max(1) - 1) as usize;
    config
        .retry_intervals
        .get(i)
        .or(config.retry_intervals.last())
        .copied()
        .unwrap_or(Duration::from_secs(450))
}

/// When the attempt after the `attempts`-th is due, from `now` (seconds since the epoch);
/// `random` is a uniform random number, scaled to the jitter.
pub fn next_attempt(config: &QueueConfig, attempts: u32, now: i64, random: u32) -> i64 {
    let base = interval(config, attempts);
    let jitter = base.as_secs() * u64::from(random % 1000) / 20_000;
    now + i64::try_from(base.as_secs() + jitter).unwrap_or(i64::MAX / 2)
}

/// A uniform random number for [`next_attempt`].
pub fn random() -> u32 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    // A failing system random source only costs the jitter.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    u32::from_le_bytes(bytes)
}

/// What follows a temporary failure of the `attempts`-th attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again; tell the sender it is delayed when `notify`.
    Retry { notify: bool },
    /// Give up: the message bounces.
    GiveUp,
}

pub fn after_temporary_failure(config: &QueueConfig, attempts: u32) -> AfterFailure {
    if attempts >= config.max_attempts {
        AfterFailure::GiveUp
    } else {
        AfterFailure::Retry {
            notify: attempts == config.delayed_dsn_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QueueConfig {
        QueueConfig {
            concurrency: 10,
            retry_intervals: [450, 900, 1800, 3600, 7200, 14400, 28800, 57600]
                .map(Duration::from_secs)
                .to_vec(),
            max_attempts: 8,
            delayed_dsn_after: 5,
        }
    }

    #[test]
    fn schedule_as_mox_with_bounded_jitter() {
        let c = config();
        let waits: Vec<i64> = (1..=9).map(|a| next_attempt(&c, a, 0, 0)).collect();
        assert_eq!(
            waits,
            [450, 900, 1800, 3600, 7200, 14400, 28800, 57600, 57600]
        );
        for r in [1, 499, 999, u32::MAX] {
            let t = next_attempt(&c, 1, 1000, r);
            assert!((1450..=1450 + 23).contains(&t), "{t}");
        }
        assert!(next_attempt(&c, 8, 0, 999) <= 57600 + 2880);
    }

    #[test]
    fn delayed_once_then_bounce() {
        let c = config();
        let verdicts: Vec<AfterFailure> = (1..=8).map(|a| after_temporary_failure(&c, a)).collect();
        let notify: Vec<bool> = verdicts
            .iter()
            .map(|v| matches!(v, AfterFailure::Retry { notify: true }))
            .collect();
        assert_eq!(
            notify,
            [false, false, false, false, true, false, false, false]
        );
        assert_eq!(verdicts[7], AfterFailure::GiveUp);
    }
}
