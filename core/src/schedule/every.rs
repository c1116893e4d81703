//! Durations for `@every`: `90s`, `5m`, `1h30m`, `1d`.

use std::time::Duration;

/// Parses a duration made of `<number><unit>` parts, units `d`, `h`, `m` and
/// `s`, each at most once and in that order; the total is at least one second.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("@every needs a duration, for example @every 90s or @every 1h30m".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut last_unit_rank = 0;
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let (rank, seconds) = match ch {
            'd' => (1, 86_400),
            'h' => (2, 3_600),
            'm' => (3, 60),
            's' => (4, 1),
            _ => {
                return Err(format!(
                    "@every: '{text}' is not a duration; use units d, h, m, s as in 1h30m"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!("@every: '{text}' has a unit without a number"));
        }
        if rank <= last_unit_rank {
            return Err(format!(
                "@every: '{text}' repeats a unit or puts them out of order (d, h, m, s)"
            ));
        }
        last_unit_rank = rank;
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("@every: '{text}' is too large"))?;
        digits.clear();
        total = amount
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("@every: '{text}' is too large"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "@every: '{text}' ends in a number without a unit (d, h, m or s)"
        ));
    }
    // Past ten years an interval is a typo, and keeping it small keeps
    // millisecond arithmetic far from overflow.
    if total > 10 * 366 * 86_400 {
        return Err(format!("@every: '{text}' is longer than ten years"));
    }
    if total == 0 {
        return Err("@every: the interval must be at least 1s".to_owned());
    }
    Ok(Duration::from_secs(total))
}
