//! Budget periods: calendar windows in UTC (hours, days, weeks starting Monday, months), a
//! budget that renews with each window, and rate limits per minute.

use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The start of the window holding `now` (Unix seconds).
    pub fn start(self, now: i64) -> i64 {
        match self {
            Self::Hour => now.div_euclid(HOUR) * HOUR,
            Self::Day => now.div_euclid(DAY) * DAY,
            Self::Week => {
                let day = now.div_euclid(DAY);
                // 1970-01-01 was a Thursday: Monday is three days later in the cycle.
                (day - (day + 3).rem_euclid(7)) * DAY
            }
            Self::Month => {
                let (y, m, _) = civil_from_days(now.div_euclid(DAY));
                days_from_civil(y, m, 1) * DAY
            }
        }
    }

    /// The start of the window after the one holding `now`: when the budget renews.
    pub fn next(self, now: i64) -> i64 {
        let start = self.start(now);
        match self {
            Self::Hour => start + HOUR,
            Self::Day => start + DAY,
            Self::Week => start + 7 * DAY,
            Self::Month => {
                let (y, m, _) = civil_from_days(start.div_euclid(DAY));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY
            }
        }
    }
}

/// A spend limit that renews each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeriodBudget {
    pub limit_nano_usd: i64,
    pub period: Period,
}

impl PeriodBudget {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.limit_nano_usd < 0 {
            return Err(DomainError::invalid(
                "period_limit_usd",
                "period_limit_usd must not be negative",
            ));
        }
        Ok(())
    }
}

/// Requests and tokens a key or project may use per minute (either may be absent).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct RateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

impl RateLimits {
    pub fn is_empty(&self) -> bool {
        self.requests_per_minute.is_none() && self.tokens_per_minute.is_none()
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        for (name, v) in [
            ("requests_per_minute", self.requests_per_minute),
            ("tokens_per_minute", self.tokens_per_minute),
        ] {
            if v.is_some_and(|v| v == 0 || v > 1_000_000_000_000) {
                return Err(DomainError::invalid(
                    "rate_limits",
                    format!("{name} must be between 1 and 1000000000000"),
                ));
            }
        }
        Ok(())
    }
}

/// The start of the minute holding `now` (rate limits count per calendar minute).
pub fn minute_start(now: i64) -> i64 {
    now.div_euclid(60) * 60
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04 10:30:15 UTC, a Friday.
    const NOW: i64 = 1_796_380_215;

    #[test]
    fn windows_are_calendar_windows_in_utc() {
        assert_eq!(Period::Hour.start(NOW), 1_796_378_400); // 10:00
        assert_eq!(Period::Hour.next(NOW), 1_796_382_000); // 11:00
        assert_eq!(Period::Day.start(NOW), 1_796_342_400); // 2026-12-04 00:00
        assert_eq!(Period::Week.start(NOW), 1_795_996_800); // Monday 2026-11-30
        assert_eq!(Period::Week.next(NOW), 1_796_601_600); // Monday 2026-12-07
        assert_eq!(Period::Month.start(NOW), 1_796_083_200); // 2026-12-01
        assert_eq!(Period::Month.next(NOW), 1_798_761_600); // 2027-01-01
    }

    #[test]
    fn months_have_their_own_lengths() {
        let feb_2028 = days_from_civil(2028, 2, 10) * DAY;
        assert_eq!(
            Period::Month.start(feb_2028),
            days_from_civil(2028, 2, 1) * DAY
        );
        assert_eq!(
            Period::Month.next(feb_2028) - Period::Month.start(feb_2028),
            29 * DAY
        );
        for day in [-800_000, -1, 0, 1, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn a_window_holds_its_start_and_ends_before_the_next() {
        for p in [Period::Hour, Period::Day, Period::Week, Period::Month] {
            let start = p.start(NOW);
            assert_eq!(p.start(start), start);
            assert_eq!(p.start(p.next(NOW) - 1), start);
            assert_eq!(p.start(p.next(NOW)), p.next(NOW));
        }
    }
}
