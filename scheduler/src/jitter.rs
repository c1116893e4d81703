//! Jitter: a deterministic delay in `[0, jitter_s)` for each tick, from a
//! hash of the job id and the tick, so every replica and every restart
//! delays a tick by the same amount. Only the emission moves: the event's
//! `scheduled_at` stays the tick, so run ids and cursors are unaffected.

use uuid::Uuid;

/// The delay of `tick_ms` of `job_id` (ms), in `[0, jitter_s * 1000)`.
pub(crate) fn delay_ms(job_id: Uuid, tick_ms: i64, jitter_s: u64) -> i64 {
    let span = jitter_s.saturating_mul(1000);
    if span == 0 {
        return 0;
    }
    let (high, low) = job_id.as_u64_pair();
    let mixed = mix(mix(high ^ mix(low)) ^ tick_ms as u64);
    (mixed % span) as i64
}

/// SplitMix64's finalizer: a fixed, well-spread 64-bit mix that does not
/// change between Rust versions (unlike `DefaultHasher`).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_jitter_is_no_delay() {
        assert_eq!(delay_ms(Uuid::from_u128(1), 1_000, 0), 0);
    }

    #[test]
    fn delays_are_stable_in_range_and_spread() {
        let job = Uuid::from_u128(0x0190_a3c2_7f00_7000_8000_0000_0000_0001);
        let delays: Vec<i64> = (0..2000)
            .map(|i| delay_ms(job, 1_800_000_000_000 + i * 60_000, 10))
            .collect();
        assert!(delays.iter().all(|d| (0..10_000).contains(d)));
        assert_eq!(delays[7], delay_ms(job, 1_800_000_000_000 + 7 * 60_000, 10));
        // Spread: each of the ten seconds of the range gets a fair share.
        for second in 0..10 {
            let n = delays.iter().filter(|d| **d / 1000 == second).count();
            assert!((120..=280).contains(&n), "second {second}: {n} of 2000");
        }
        // Different jobs get different delays for the same tick.
        let other = delay_ms(Uuid::from_u128(2), 1_800_000_000_000, 10);
        let mine = delay_ms(Uuid::from_u128(3), 1_800_000_000_000, 10);
        assert_ne!(other, mine);
    }
}
