//! When a job runs next: a 5-field crontab read in a time zone, or an interval in seconds.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde_json::Value;

/// The schedule of a job that names neither a crontab nor an interval.
pub const DEFAULT_CRON: &str = "*/5 * * * *";

#[derive(Debug, Clone)]
pub enum Schedule {
    Cron { cron: Box<Cron>, zone: Tz },
    Interval(Duration),
}

/// A schedule field that cannot be used, named for the error answer.
#[derive(Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub problem: String,
}

fn error(field: &'static str, problem: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        problem: problem.into(),
    }
}

impl Schedule {
    /// The crontab when one is given, else the interval when positive, else [`DEFAULT_CRON`].
    pub fn parse(
        cron: Option<&str>,
        zone: Option<&str>,
        interval: Option<i64>,
    ) -> Result<Self, ScheduleError> {
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            Some(name) => Tz::from_str(name).map_err(|_| {
                error(
                    "timeZone",
                    format!("{name:?} is not an IANA time zone (like Europe/Amsterdam)"),
                )
            })?,
            None => Tz::UTC,
        };
        let cron = cron.map(str::trim).filter(|c| !c.is_empty());
        match (cron, interval) {
            (Some(pattern), _) => Self::crontab(pattern, zone),
            (None, Some(seconds)) if seconds > 0 => Ok(Self::Interval(Duration::seconds(seconds))),
            (None, Some(seconds)) if seconds < 0 => {
                Err(error("interval", "must be a positive number of seconds"))
            }
            (None, _) => Self::crontab(DEFAULT_CRON, zone),
        }
    }

    fn crontab(pattern: &str, zone: Tz) -> Result<Self, ScheduleError> {
        // Minute precision: five fields or a nickname like @hourly, never seconds.
        if !pattern.starts_with('@') && pattern.split_whitespace().count() != 5 {
            return Err(error(
                "cron",
                format!(
                    "{pattern:?} needs five fields: minute hour day-of-month month day-of-week"
                ),
            ));
        }
        let cron =
            Cron::from_str(pattern).map_err(|e| error("cron", format!("{pattern:?}: {e}")))?;
        Ok(Self::Cron {
            cron: Box::new(cron),
            zone,
        })
    }

    /// The schedule stored on a job row (wire names).
    pub fn of_job(job: &Value) -> Result<Self, ScheduleError> {
        Self::parse(
            job.get("cron").and_then(Value::as_str),
            job.get("timeZone").and_then(Value::as_str),
            job.get("interval").and_then(Value::as_i64),
        )
    }

    /// The first run time after `now`. An interval counts from the previous due time, so runs
    /// keep their rhythm however long each takes; runs missed while nobody was up become one.
    pub fn next_after(&self, previous: Option<NaiveDateTime>, now: NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Interval(step) => {
                let Some(previous) = previous.filter(|p| *p <= now) else {
                    return truncate_to_second(now + *step);
                };
                let step_ms = step.num_milliseconds().max(1);
                let behind = (now - previous).num_milliseconds();
                let steps = behind / step_ms + 1;
                truncate_to_second(previous + Duration::milliseconds(steps * step_ms))
            }
            Self::Cron { cron, zone } => {
                let local: DateTime<Tz> =
                    DateTime::<Utc>::from_naive_utc_and_offset(now, Utc).with_timezone(zone);
                cron.find_next_occurrence(&local, false)
                    .map(|next| truncate_to_second(next.naive_utc()))
                    // A pattern that never matches (31 February) runs in a year, not at once.
                    .unwrap_or_else(|_| now + Duration::days(366))
            }
        }
    }
}

fn truncate_to_second(time: NaiveDateTime) -> NaiveDateTime {
    time.with_nanosecond(0).unwrap_or(time)
}

/// A run time pushed out to a time the source asked for (a rate-limit reset), rounded up to
/// the next whole minute.
pub fn pushed_out(next: NaiveDateTime, not_before: Option<NaiveDateTime>) -> NaiveDateTime {
    match not_before {
        Some(reset) if reset > next => {
            let minute = reset
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(reset);
            if minute == reset {
                minute
            } else {
                minute + Duration::minutes(1)
            }
        }
        _ => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn crontab_steps_to_the_next_match() {
        let every_five = Schedule::parse(Some("*/5 * * * *"), None, None).unwrap();
        assert_eq!(
            every_five.next_after(None, at("2026-11-23 10:02:30")),
            at("2026-11-23 10:05:00")
        );
        // Exactly on a match: the next one, not the same minute again.
        assert_eq!(
            every_five.next_after(None, at("2026-11-23 10:05:00")),
            at("2026-11-23 10:10:00")
        );
        let weekdays = Schedule::parse(Some("30 9 * * 1-5"), None, None).unwrap();
        // 2026-11-21 is a Saturday.
        assert_eq!(
            weekdays.next_after(None, at("2026-11-21 12:00:00")),
            at("2026-11-23 09:30:00")
        );
    }

    #[test]
    fn crontab_reads_in_its_time_zone() {
        let nine = Schedule::parse(Some("0 9 * * *"), Some("Europe/Amsterdam"), None).unwrap();
        // Winter: Amsterdam is UTC+1.
        assert_eq!(
            nine.next_after(None, at("2026-11-23 07:00:00")),
            at("2026-11-23 08:00:00")
        );
        // Summer: UTC+2.
        assert_eq!(
            nine.next_after(None, at("2026-07-01 06:30:00")),
            at("2026-07-01 07:00:00")
        );
    }

    #[test]
    fn interval_keeps_its_rhythm_and_merges_missed_runs() {
        let hourly = Schedule::parse(None, None, Some(3600)).unwrap();
        assert_eq!(
            hourly.next_after(None, at("2026-11-23 10:00:10")),
            at("2026-11-23 11:00:10")
        );
        // The run due at 10:00 finished at 10:07: the next is still 11:00.
        assert_eq!(
            hourly.next_after(Some(at("2026-11-23 10:00:00")), at("2026-11-23 10:07:00")),
            at("2026-11-23 11:00:00")
        );
        // Down from 10:00 to 13:30: one run now, then 14:00.
        assert_eq!(
            hourly.next_after(Some(at("2026-11-23 10:00:00")), at("2026-11-23 13:30:00")),
            at("2026-11-23 14:00:00")
        );
    }

    #[test]
    fn nothing_given_means_every_five_minutes_and_bad_fields_are_named() {
        let default = Schedule::parse(None, None, None).unwrap();
        assert_eq!(
            default.next_after(None, at("2026-11-23 10:01:00")),
            at("2026-11-23 10:05:00")
        );
        assert_eq!(
            Schedule::parse(Some("* * *"), None, None)
                .unwrap_err()
                .field,
            "cron"
        );
        assert_eq!(
            Schedule::parse(Some("61 * * * *"), None, None)
                .unwrap_err()
                .field,
            "cron"
        );
        assert_eq!(
            Schedule::parse(None, Some("Mars/Olympus"), Some(60))
                .unwrap_err()
                .field,
            "timeZone"
        );
        assert_eq!(
            Schedule::parse(None, None, Some(-5)).unwrap_err().field,
            "interval"
        );
        assert!(Schedule::parse(Some("@hourly"), None, None).is_ok());
    }

    #[test]
    fn a_rate_limit_reset_pushes_the_run_out_to_a_whole_minute() {
        let next = at("2026-11-23 10:05:00");
        assert_eq!(
            pushed_out(next, Some(at("2026-11-23 10:20:10"))),
            at("2026-11-23 10:21:00")
        );
        assert_eq!(
            pushed_out(next, Some(at("2026-11-23 10:20:00"))),
            at("2026-11-23 10:20:00")
        );
        assert_eq!(pushed_out(next, Some(at("2026-11-23 10:01:00"))), next);
        assert_eq!(pushed_out(next, None), next);
    }
}
