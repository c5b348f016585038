//! The calendar of a scheduled operation: pure functions, no I/O, no clock.
//!
//! A schedule is a start instant, an IANA time zone (UTC by default), a frequency
//! and a duration. Occurrence `n` (0-based) is computed **from the start date
//! every time**, never from the previous occurrence, so nothing drifts:
//!
//! 1. **Time of day.** Every occurrence runs at the start's *local* time of day in
//!    the schedule's zone (09:30 Europe/Madrid stays 09:30 across DST changes, so
//!    the UTC instant moves by an hour twice a year). Occurrence 0 is the start
//!    instant itself.
//! 2. **Local date of occurrence n.** ONCE: only n = 0. DAILY: start date + n days.
//!    WEEKLY: + 7n days. MONTHLY: the start's day-of-month in month start + n, or
//!    that month's last day when it is shorter (started Jan 31: Jan 31, Feb 28/29,
//!    Mar 31, Apr 30, ...). YEARLY: the same month and day in year start + n, Feb 29
//!    becoming Feb 28 in common years.
//! 3. **Duration.** ENDLESS: no end. NUMBER_OF_REPETITIONS k: occurrences 0..k.
//!    END_DATE d: every occurrence whose local date (in the schedule's zone) is on
//!    or before d — the end date is inclusive and carries no time. ONCE ignores the
//!    duration (exactly one occurrence).
//! 4. **DST.** A local time that does not exist (spring-forward gap) moves forward
//!    by the length of the gap (02:30 on the last Sunday of March in Europe/Madrid
//!    runs at 03:30 CEST, i.e. 01:30 UTC). A local time that exists twice (fall-back
//!    overlap) runs once, at the earlier instant (02:30 CEST, i.e. 00:30 UTC).
//!
//! The sequence of instants is strictly increasing for every frequency.

use chrono::{DateTime, Datelike, Duration as Span, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
pub use chrono_tz::Tz;

/// How often a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Once,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    pub const ALL: [Frequency; 5] = [Frequency::Once, Frequency::Daily, Frequency::Weekly, Frequency::Monthly, Frequency::Yearly];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "ONCE",
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        }
    }
}

/// How long a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    Endless,
    Repetitions(u32),
    /// Inclusive local date in the schedule's zone.
    EndDate(NaiveDate),
}

impl Duration {
    pub fn type_str(self) -> &'static str {
        match self {
            Duration::Endless => "ENDLESS",
            Duration::Repetitions(_) => "NUMBER_OF_REPETITIONS",
            Duration::EndDate(_) => "END_DATE",
        }
    }
}

/// Most occurrences counted when a finite schedule's size is computed.
pub const MAX_COUNT: u32 = 1_000_000;

/// A schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub start: DateTime<Utc>,
    pub tz: Tz,
    pub frequency: Frequency,
    pub duration: Duration,
}

impl Schedule {
    /// `tz` is an IANA name (`Europe/Madrid`, `UTC`); `None` when unknown.
    pub fn new(start: DateTime<Utc>, tz: &str, frequency: Frequency, duration: Duration) -> Option<Self> {
        let tz: Tz = tz.parse().ok()?;
        Some(Schedule { start, tz, frequency, duration })
    }

    /// The start as local date and time in the schedule's zone.
    pub fn local_start(&self) -> NaiveDateTime {
        self.start.with_timezone(&self.tz).naive_local()
    }

    /// The local date occurrence `n` falls on (rule 2), ignoring the duration.
    pub fn nominal_date(&self, n: u32) -> Option<NaiveDate> {
        let s = self.local_start().date();
        match self.frequency {
            Frequency::Once => (n == 0).then_some(s),
            Frequency::Daily => s.checked_add_signed(Span::days(n as i64)),
            Frequency::Weekly => s.checked_add_signed(Span::days(7 * n as i64)),
            Frequency::Monthly => month_plus(s, n as i64),
            Frequency::Yearly => month_plus(s, 12 * n as i64),
        }
    }

    /// The instant of occurrence `n`, or `None` past the end of the schedule.
    pub fn occurrence(&self, n: u32) -> Option<DateTime<Utc>> {
        let date = self.nominal_date(n)?;
        if self.frequency != Frequency::Once {
            match self.duration {
                Duration::Repetitions(k) if n >= k => return None,
                Duration::EndDate(end) if date > end => return None,
                _ => {}
            }
        }
        if n == 0 {
            return Some(self.start);
        }
        Some(resolve(self.tz, date.and_time(self.local_start().time())))
    }

    /// Occurrences from index `from` on, as (index, instant).
    pub fn iter_from(&self, from: u32) -> impl Iterator<Item = (u32, DateTime<Utc>)> + '_ {
        (from..=u32::MAX).map_while(move |n| self.occurrence(n).map(|t| (n, t)))
    }

    /// How many occurrences a finite schedule has (`None` when ENDLESS).
    pub fn count(&self) -> Option<u32> {
        match (self.frequency, self.duration) {
            (Frequency::Once, _) => Some(1),
            (_, Duration::Endless) => None,
            (_, Duration::Repetitions(k)) => Some(k),
            (_, Duration::EndDate(_)) => Some(self.iter_from(0).take(MAX_COUNT as usize).count() as u32),
        }
    }

    /// The local date of the last occurrence of a finite schedule.
    pub fn last_date(&self) -> Option<NaiveDate> {
        match self.count()? {
            0 => None,
            k => self.occurrence(k - 1).map(|t| t.with_timezone(&self.tz).date_naive()),
        }
    }
}

/// `date` moved by `months`, on the same day or the target month's last day.
fn month_plus(date: NaiveDate, months: i64) -> Option<NaiveDate> {
    let m0 = date.year() as i64 * 12 + date.month0() as i64 + months;
    let (y, m) = (m0.div_euclid(12) as i32, m0.rem_euclid(12) as u32 + 1);
    NaiveDate::from_ymd_opt(y, m, date.day().min(days_in_month(y, m)?))
}

/// Days in month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i32, m: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, m + 1, 1)? };
    Some((next - first).num_days() as u32)
}

/// The instant of a local date-time in `tz` (rule 4): a gap moves forward by its
/// length, an overlap takes the earlier instant.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // the offset in effect just before the gap: reading the local time with
            // it lands the same distance past the gap's end
            let before = (1..=96)
                .find_map(|k| tz.from_local_datetime(&(local - Span::minutes(15 * k))).earliest())
                .map(|t| t.offset().fix().local_minus_utc())
                .unwrap_or(0);
            Utc.from_utc_datetime(&(local - Span::seconds(before as i64)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn month_end_and_dst() {
        let s = Schedule::new(utc("2024-01-31T10:00:00Z"), "UTC", Frequency::Monthly, Duration::Endless).unwrap();
        let got: Vec<_> = s.iter_from(0).take(3).map(|(_, t)| t.to_rfc3339()).collect();
        assert_eq!(got, ["2024-01-31T10:00:00+00:00", "2024-02-29T10:00:00+00:00", "2024-03-31T10:00:00+00:00"]);
        let gap = resolve("Europe/Madrid".parse().unwrap(), NaiveDate::from_ymd_opt(2024, 3, 31).unwrap().and_hms_opt(2, 30, 0).unwrap());
        assert_eq!(gap, utc("2024-03-31T01:30:00Z"));
        let overlap = resolve("Europe/Madrid".parse().unwrap(), NaiveDate::from_ymd_opt(2024, 10, 27).unwrap().and_hms_opt(2, 30, 0).unwrap());
        assert_eq!(overlap, utc("2024-10-27T00:30:00Z"));
    }
}
