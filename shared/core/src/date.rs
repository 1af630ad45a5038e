//! Calendar days in UTC, for price dates and model shutdown dates (`YYYY-MM-DD`), on the `time`
//! crate the AWS SDK already brings; and the epoch seconds that counters and resume tokens carry.

use time::{Date, Month, OffsetDateTime};

/// Seconds since the Unix epoch (0 before it, on a clock that wrong).
pub fn epoch_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Today in UTC, as `YYYY-MM-DD`.
pub fn today() -> String {
    format_day(OffsetDateTime::now_utc().date())
}

/// Today in UTC.
pub fn today_date() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `YYYY-MM-DD` as a date; `None` for anything else.
pub fn parse_day(text: &str) -> Option<Date> {
    let mut parts = text.trim().splitn(3, '-');
    let year = parts.next()?.parse::<i32>().ok()?;
    let month = Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse::<u8>().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

pub fn format_day(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Whole days from `from` to `to` (negative when `to` is past).
pub fn days_between(from: Date, to: Date) -> i64 {
    i64::from(to.to_julian_day()) - i64::from(from.to_julian_day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_written_and_counted() {
        let shutdown = parse_day("2027-01-14").unwrap();
        assert_eq!(format_day(shutdown), "2027-01-14");
        assert_eq!(days_between(parse_day("2026-12-06").unwrap(), shutdown), 39);
        assert_eq!(days_between(shutdown, parse_day("2026-12-11").unwrap()), -34);
        for bad in ["", "2027-13-01", "2027-02-30", "tomorrow", "2027-1"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(today().len(), 10);
    }
}
