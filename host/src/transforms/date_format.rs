//! A UTC `java.text.SimpleDateFormat` for `TimestampRouter` and `TimestampConverter`: pattern
//! letters `G y Y M L d D E u a H k K h m s S z Z X` and quoted literals, formatting epoch
//! milliseconds and parsing them back (lenient like Java's: text after the pattern is ignored).

const MILLIS_PER_DAY: i64 = 86_400_000;
const MONTHS: [&str; 12] = [
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
/// Monday first, as `u` numbers them (1 = Monday).
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateFormat {
    tokens: Vec<Token>,
}

impl DateFormat {
    /// Compiles a `SimpleDateFormat` pattern; the error reads like Java's
    /// (`Illegal pattern character 'q'`).
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            literal.push('\'');
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        literal.push(q);
                    }
                }
                if !closed {
                    return Err("Unterminated quote".into());
                }
            } else if c.is_ascii_alphabetic() {
                if !"GyYMLdDEuaHkKhmsSzZX".contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                tokens.push(Token::Field(c, count));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self { tokens })
    }

    /// Formats epoch milliseconds in UTC.
    pub(crate) fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(MILLIS_PER_DAY);
        let of_day = millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let hour = of_day / 3_600_000;
        let minute = of_day / 60_000 % 60;
        let second = of_day / 1000 % 60;
        let milli = of_day % 1000;
        // 1970-01-01 was a Thursday (index 3 with Monday first).
        let weekday = (days + 3).rem_euclid(7) as usize;
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field(letter, count) => {
                    let count = *count;
                    let number = |out: &mut String, value: i64| {
                        out.push_str(&format!("{value:0count$}"));
                    };
                    match letter {
                        'G' => out.push_str(if year > 0 { "AD" } else { "BC" }),
                        'y' | 'Y' => {
                            let year = if year > 0 { year } else { 1 - year };
                            if count == 2 {
                                out.push_str(&format!("{:02}", year % 100));
                            } else {
                                number(&mut out, year);
                            }
                        }
                        'M' | 'L' => {
                            let name = MONTHS[(month - 1) as usize];
                            match count {
                                1 | 2 => number(&mut out, i64::from(month)),
                                3 => out.push_str(&name[..3]),
                                _ => out.push_str(name),
                            }
                        }
                        'd' => number(&mut out, i64::from(day)),
                        'D' => number(&mut out, days - days_from_civil(year, 1, 1) + 1),
                        'E' => {
                            let name = WEEKDAYS[weekday];
                            out.push_str(if count >= 4 { name } else { &name[..3] });
                        }
                        'u' => number(&mut out, weekday as i64 + 1),
                        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                        'H' => number(&mut out, hour),
                        'k' => number(&mut out, if hour == 0 { 24 } else { hour }),
                        'K' => number(&mut out, hour % 12),
                        'h' => number(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }),
                        'm' => number(&mut out, minute),
                        's' => number(&mut out, second),
                        'S' => number(&mut out, milli),
                        'z' => out.push_str(if count >= 4 {
                            "Coordinated Universal Time"
                        } else {
                            "UTC"
                        }),
                        'Z' => out.push_str("+0000"),
                        _ => out.push('Z'), // 'X': ISO 8601 zone, always UTC here.
                    }
                }
            }
        }
        out
    }

    /// Parses text into epoch milliseconds; None when it does not fit the pattern.
    pub(crate) fn parse(&self, text: &str) -> Option<i64> {
        let mut rest = text;
        let (mut year, mut month, mut day) = (1970_i64, 1_i64, 1_i64);
        let mut day_of_year: Option<i64> = None;
        let (mut hour, mut minute, mut second, mut milli) = (0_i64, 0_i64, 0_i64, 0_i64);
        let mut pm: Option<bool> = None;
        let mut twelve_hour = false;
        let mut offset_minutes = 0_i64;
        for (index, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Token::Field(letter, count) => {
                    let count = *count;
                    // A numeric field followed directly by another numeric field takes exactly
                    // `count` digits, as in `yyyyMMdd`.
                    let fixed = matches!(
                        self.tokens.get(index + 1),
                        Some(Token::Field(next, n)) if is_numeric(*next, *n)
                    );
                    let number = |rest: &mut &str| take_number(rest, fixed.then_some(count));
                    match letter {
                        'G' => {
                            rest = rest
                                .strip_prefix("AD")
                                .or_else(|| rest.strip_prefix("BC"))?;
                        }
                        'y' | 'Y' => {
                            let digits_before = rest.len();
                            let value = number(&mut rest)?;
                            let digits = digits_before - rest.len();
                            // Two-digit years fall within 80 years before and 20 after now;
                            // without a clock, pick the 1970-2069 window.
                            year = if count <= 2 && digits == 2 {
                                if value < 70 {
                                    2000 + value
                                } else {
                                    1900 + value
                                }
                            } else {
                                value
                            };
                        }
                        'M' | 'L' if count >= 3 => {
                            let (found, after) = take_name(rest, &MONTHS)?;
                            month = found as i64 + 1;
                            rest = after;
                        }
                        'M' | 'L' => month = number(&mut rest)?,
                        'd' => day = number(&mut rest)?,
                        'D' => day_of_year = Some(number(&mut rest)?),
                        'E' => rest = take_name(rest, &WEEKDAYS)?.1,
                        'u' => {
                            number(&mut rest)?;
                        }
                        'a' => {
                            let upper = rest.get(..2)?.to_ascii_uppercase();
                            pm = Some(match upper.as_str() {
                                "AM" => false,
                                "PM" => true,
                                _ => return None,
                            });
                            rest = &rest[2..];
                        }
                        'H' => hour = number(&mut rest)?,
                        'k' => hour = number(&mut rest)? % 24,
                        'K' => {
                            hour = number(&mut rest)?;
                            twelve_hour = true;
                        }
                        'h' => {
                            hour = number(&mut rest)? % 12;
                            twelve_hour = true;
                        }
                        'm' => minute = number(&mut rest)?,
                        's' => second = number(&mut rest)?,
                        'S' => milli = number(&mut rest)?,
                        _ => {
                            let (offset, after) = take_zone(rest)?;
                            offset_minutes = offset;
                            rest = after;
                        }
                    }
                }
            }
        }
        if twelve_hour && pm == Some(true) {
            hour += 12;
        }
        let days = match day_of_year {
            Some(doy) => days_from_civil(year, 1, 1) + doy - 1,
            // Lenient: out-of-range months and days roll over, as Java's default.
            None => {
                let months = year * 12 + (month - 1);
                days_from_civil(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1) + day
                    - 1
            }
        };
        let millis = days
            .checked_mul(MILLIS_PER_DAY)?
            .checked_add(((hour * 60 + minute) * 60 + second) * 1000 + milli)?;
        millis.checked_sub(offset_minutes * 60_000)
    }
}

fn is_numeric(letter: char, count: usize) -> bool {
    match letter {
        'M' | 'L' => count < 3,
        'y' | 'Y' | 'd' | 'D' | 'u' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' => true,
        _ => false,
    }
}

/// Digits (optionally signed); exactly `width` of them when given.
fn take_number(rest: &mut &str, width: Option<usize>) -> Option<i64> {
    let (negative, body) = match rest.strip_prefix('-') {
        Some(body) if width.is_none() => (true, body),
        _ => (false, *rest),
    };
    let available = body.bytes().take_while(u8::is_ascii_digit).count();
    let len = match width {
        Some(width) if available >= width => width,
        Some(_) => return None,
        None if available == 0 => return None,
        None => available,
    };
    let value: i64 = body[..len].parse().ok()?;
    *rest = &body[len..];
    Some(if negative { -value } else { value })
}

/// A full or three-letter English name, case-insensitive; returns its index.
fn take_name<'t>(rest: &'t str, names: &[&str]) -> Option<(usize, &'t str)> {
    for (index, name) in names.iter().enumerate() {
        for candidate in [*name, &name[..3]] {
            if let Some(head) = rest.get(..candidate.len())
                && head.eq_ignore_ascii_case(candidate)
            {
                return Some((index, &rest[candidate.len()..]));
            }
        }
    }
    None
}

/// `Z`, `UTC`, `GMT`, or `±hh`, `±hhmm`, `±hh:mm` (optionally after `GMT`): offset in minutes.
fn take_zone(rest: &str) -> Option<(i64, &str)> {
    for name in ["UTC", "GMT", "Z"] {
        if let Some(after) = rest.strip_prefix(name) {
            if name == "GMT" && after.starts_with(['+', '-']) {
                return take_zone(after);
            }
            return Some((0, after));
        }
    }
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &rest[1..];
    let hours: i64 = body.get(..2)?.parse().ok()?;
    let after = &body[2..];
    let (minutes, after) = match after.strip_prefix(':').unwrap_or(after) {
        tail if tail.len() >= 2 && tail.as_bytes()[..2].iter().all(u8::is_ascii_digit) => {
            (tail[..2].parse().ok()?, &tail[2..])
        }
        _ => (0, after),
    };
    Some((sign * (hours * 60 + minutes), after))
}

/// Civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2017-07-03T12:34:56.789Z, a Monday.
    const T: i64 = 1_499_085_296_789;

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        let f = |p: &str| DateFormat::new(p).unwrap().format(T);
        assert_eq!(f("yyyyMMdd"), "20170703");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            "2017-07-03T12:34:56.789+0000"
        );
        assert_eq!(
            f("yy MMM MMMM d D E EEEE a h k K"),
            "17 Jul July 3 184 Mon Monday PM 12 12 0"
        );
        assert_eq!(f("'o''clock' X z"), "o'clock Z UTC");
        assert_eq!(
            DateFormat::new("yyyy-MM-dd").unwrap().format(-1),
            "1969-12-31"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for pattern in [
            "yyyyMMddHHmmssSSS",
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            "yyyy-MM-dd HH:mm:ss.SSS X",
            "dd MMM yyyy hh:mm:ss.SSS a",
        ] {
            let format = DateFormat::new(pattern).unwrap();
            assert_eq!(format.parse(&format.format(T)), Some(T), "{pattern}");
        }
        let format = DateFormat::new("yyyy-MM-dd HH:mm Z").unwrap();
        assert_eq!(format.parse("2017-07-03 14:34 +0200"), Some(T - 56_789));
        assert_eq!(DateFormat::new("yyyy-MM-dd").unwrap().parse("nope"), None);
    }

    #[test]
    fn rejects_unknown_letters_and_open_quotes() {
        assert_eq!(
            DateFormat::new("yyyy-qq").unwrap_err(),
            "Illegal pattern character 'q'"
        );
        assert!(DateFormat::new("'open").is_err());
    }
}
