//! PHP's `date()` format letters and the date strings PHP's `DateTime` reads, in UTC (the
//! timezone the PHP app runs in under Nextcloud). Mappings write formats such as `'Y-m-d'` and
//! `'Y-m-dTH:i:s'` (where `T` is the zone abbreviation) and expect PHP's output.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats a moment with PHP `date()` letters; `\` escapes the next character.
pub fn format(moment: &DateTime<Utc>, pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut letters = pattern.chars();
    while let Some(letter) = letters.next() {
        let weekday = moment.weekday();
        let hour12 = match moment.hour() % 12 {
            0 => 12,
            other => other,
        };
        let _ = match letter {
            'd' => write!(out, "{:02}", moment.day()),
            'D' => write!(
                out,
                "{}",
                &DAY_NAMES[weekday.num_days_from_monday() as usize][..3]
            ),
            'j' => write!(out, "{}", moment.day()),
            'l' => write!(
                out,
                "{}",
                DAY_NAMES[weekday.num_days_from_monday() as usize]
            ),
            'N' => write!(out, "{}", weekday.number_from_monday()),
            'S' => write!(out, "{}", ordinal_suffix(moment.day())),
            'w' => write!(out, "{}", weekday.num_days_from_sunday()),
            'z' => write!(out, "{}", moment.ordinal0()),
            'W' => write!(out, "{:02}", moment.iso_week().week()),
            'F' => write!(out, "{}", MONTH_NAMES[moment.month0() as usize]),
            'M' => write!(out, "{}", &MONTH_NAMES[moment.month0() as usize][..3]),
            'm' => write!(out, "{:02}", moment.month()),
            'n' => write!(out, "{}", moment.month()),
            't' => write!(out, "{}", days_in_month(moment.year(), moment.month())),
            'L' => write!(out, "{}", u8::from(is_leap_year(moment.year()))),
            'o' => write!(out, "{}", moment.iso_week().year()),
            'Y' | 'X' | 'x' => write!(out, "{}", moment.year()),
            'y' => write!(out, "{:02}", moment.year().rem_euclid(100)),
            'a' => write!(out, "{}", if moment.hour() < 12 { "am" } else { "pm" }),
            'A' => write!(out, "{}", if moment.hour() < 12 { "AM" } else { "PM" }),
            'B' => write!(out, "{:03}", swatch_beat(moment)),
            'g' => write!(out, "{hour12}"),
            'G' => write!(out, "{}", moment.hour()),
            'h' => write!(out, "{hour12:02}"),
            'H' => write!(out, "{:02}", moment.hour()),
            'i' => write!(out, "{:02}", moment.minute()),
            's' => write!(out, "{:02}", moment.second()),
            'u' => write!(out, "{:06}", moment.timestamp_subsec_micros()),
            'v' => write!(out, "{:03}", moment.timestamp_subsec_millis()),
            'e' | 'T' => write!(out, "UTC"),
            'I' | 'Z' => write!(out, "0"),
            'O' => write!(out, "+0000"),
            'P' => write!(out, "+00:00"),
            'p' => write!(out, "Z"),
            'c' => write!(out, "{}", format(moment, "Y-m-d\\TH:i:sP")),
            'r' => write!(out, "{}", format(moment, "D, d M Y H:i:s O")),
            'U' => write!(out, "{}", moment.timestamp()),
            '\\' => match letters.next() {
                Some(escaped) => write!(out, "{escaped}"),
                None => write!(out, "\\"),
            },
            other => write!(out, "{other}"),
        };
    }
    out
}

fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

fn swatch_beat(moment: &DateTime<Utc>) -> u32 {
    // Biel Mean Time is UTC+1.
    let seconds = (moment.num_seconds_from_midnight() + 3600) % 86_400;
    seconds * 10 / 864
}

/// Reads a date as PHP's `new DateTime($text)` would for the forms seen in mappings: `now`,
/// `today`, `tomorrow`, `yesterday`, `@<timestamp>`, ISO 8601 dates and date-times (with `T`
/// or a space, optional fraction, `Z` or an offset), `d-m-Y`, and RFC 2822. `None` for
/// anything else.
pub fn parse(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let midnight = |date: NaiveDate| Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?).into();
    match text.to_ascii_lowercase().as_str() {
        "" | "now" => return Some(now),
        "today" | "midnight" => return midnight(now.date_naive()),
        "tomorrow" => return midnight(now.date_naive().succ_opt()?),
        "yesterday" => return midnight(now.date_naive().pred_opt()?),
        _ => {}
    }
    if let Some(seconds) = text.strip_prefix('@') {
        return Utc.timestamp_opt(seconds.parse().ok()?, 0).single();
    }
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.with_timezone(&Utc));
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(moment) = DateTime::parse_from_str(text, pattern) {
            return Some(moment.with_timezone(&Utc));
        }
    }
    if let Ok(moment) = DateTime::parse_from_rfc2822(text) {
        return Some(moment.with_timezone(&Utc));
    }
    let naive = text.trim_end_matches(['Z', 'z']);
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(moment) = NaiveDateTime::parse_from_str(naive, pattern) {
            return Some(Utc.from_utc_datetime(&moment));
        }
    }
    for pattern in ["%Y-%m-%d", "%d-%m-%Y", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y"] {
        if let Ok(date) = NaiveDate::parse_from_str(naive, pattern) {
            return midnight(date);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moment() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 3, 14, 5, 9)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn php_letters_format() {
        assert_eq!(format(&moment(), "Y-m-d"), "2025-01-03");
        assert_eq!(format(&moment(), "Y-m-dTH:i:s"), "2025-01-03UTC14:05:09");
        assert_eq!(format(&moment(), "D, d M Y"), "Fri, 03 Jan 2025");
        assert_eq!(
            format(&moment(), "l jS F y, g:i a"),
            "Friday 3rd January 25, 2:05 pm"
        );
        assert_eq!(format(&moment(), "c"), "2025-01-03T14:05:09+00:00");
        assert_eq!(format(&moment(), "U"), "1735913109");
        assert_eq!(format(&moment(), "\\Y\\-N-w-z-t-L-W"), "Y-5-5-2-31-0-01");
    }

    #[test]
    fn php_date_strings_parse() {
        let now = moment();
        assert_eq!(parse("now", now), Some(now));
        assert_eq!(parse("@0", now).map(|m| m.timestamp()), Some(0));
        let expected = Utc.with_ymd_and_hms(2024, 2, 1, 8, 0, 0).single();
        assert_eq!(parse("2024-02-01T10:00:00+02:00", now), expected);
        assert_eq!(parse("2024-02-01 08:00:00", now), expected);
        assert_eq!(parse("2024-02-01T08:00:00Z", now), expected);
        assert_eq!(parse("2024-02-01", now).map(|m| m.day()), Some(1));
        assert_eq!(parse("next blue moon", now), None);
    }
}
