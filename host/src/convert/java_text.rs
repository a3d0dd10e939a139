//! Text forms the Java side of Kafka Connect produces and accepts: `Double.toString`,
//! `Float.toString`, `BigDecimal.toString`, `BigInteger` two's-complement bytes, and the UTC
//! date/time patterns of `Values` and `java.util.Date.toString`. Pure helpers for the
//! converters; no I/O.

/// `Double.toString` (JDK 19+, shortest repr): `1.0`, `0.001`, `1.0E7`, `1.0E-4`, `NaN`,
/// `Infinity`.
pub(crate) fn double_to_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_float_format(&format!("{value:e}"))
}

/// `Float.toString` (JDK 19+, shortest repr for the 32-bit value).
pub(crate) fn float_to_string(value: f32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_float_format(&format!("{value:e}"))
}

/// Lays out Rust's shortest `{:e}` form (`-1.2345e3`) the way Java does: plain decimal for
/// magnitudes in [1e-3, 1e7), computerized scientific notation (`1.2345E10`) otherwise, and
/// always at least one digit after the point.
fn java_float_format(exp_form: &str) -> String {
    let (negative, rest) = match exp_form.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, exp_form),
    };
    let (mantissa, exponent) = rest.split_once('e').unwrap_or((rest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if digits.bytes().all(|d| d == b'0') {
        return format!("{sign}0.0");
    }
    if (-3..7).contains(&exponent) {
        if exponent >= 0 {
            let int_len = (exponent + 1) as usize;
            let (int_part, frac_part) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (format!("{digits:0<int_len$}"), "0".to_string())
            };
            format!("{sign}{int_part}.{frac_part}")
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, tail) = digits.split_at(1);
        let tail = if tail.is_empty() { "0" } else { tail };
        format!("{sign}{first}.{tail}E{exponent}")
    }
}

/// A decimal number split into its sign, unscaled magnitude digits and scale, like a Java
/// `BigDecimal` (value = ±digits × 10^-scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecimalText {
    pub negative: bool,
    /// ASCII digits without leading zeros ("0" for zero).
    pub digits: String,
    pub scale: i64,
}

impl DecimalText {
    /// Parses `new BigDecimal(text)` syntax: optional sign, digits with an optional point,
    /// optional exponent. JSON numbers are a subset.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let exponent: i64 = match exponent {
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                e.strip_prefix('+').unwrap_or(e).parse().ok()?
            }
            None => 0,
        };
        let all_digits = format!("{int_part}{frac_part}");
        let trimmed = all_digits.trim_start_matches('0');
        let digits = if trimmed.is_empty() { "0" } else { trimmed };
        Some(Self {
            negative: negative && digits != "0",
            digits: digits.to_string(),
            scale: frac_part.len() as i64 - exponent,
        })
    }

    /// The digits rescaled to `scale`, or None when that would drop non-zero digits.
    pub(crate) fn unscaled_at(&self, scale: i64) -> Option<String> {
        if scale >= self.scale {
            let extra = usize::try_from(scale - self.scale).ok()?;
            if self.digits == "0" {
                return Some("0".into());
            }
            if extra > 100_000 {
                return None;
            }
            Some(format!("{}{}", self.digits, "0".repeat(extra)))
        } else {
            let drop = usize::try_from(self.scale - scale).ok()?;
            if drop >= self.digits.len() {
                return (self.digits == "0").then(|| "0".into());
            }
            let (kept, dropped) = self.digits.split_at(self.digits.len() - drop);
            dropped.bytes().all(|d| d == b'0').then(|| kept.to_string())
        }
    }

    /// The integer value when the number is integral and fits an `i64`.
    pub(crate) fn exact_i64(&self) -> Option<i64> {
        let unscaled = self.unscaled_at(0)?;
        let magnitude: i128 = unscaled.parse().ok()?;
        let value = if self.negative { -magnitude } else { magnitude };
        i64::try_from(value).ok()
    }
}

/// `BigDecimal.toString()` of `unscaled × 10^-scale` (scientific notation when the scale is
/// negative or the adjusted exponent is below -6), as Jackson writes a `DecimalNode`.
pub(crate) fn big_decimal_to_string(negative: bool, digits: &str, scale: i64) -> String {
    let sign = if negative { "-" } else { "" };
    let len = digits.len() as i64;
    let adjusted = -scale + (len - 1);
    if scale >= 0 && adjusted >= -6 {
        if scale == 0 {
            format!("{sign}{digits}")
        } else if len > scale {
            let (int_part, frac_part) = digits.split_at((len - scale) as usize);
            format!("{sign}{int_part}.{frac_part}")
        } else {
            let zeros = "0".repeat((scale - len) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, tail) = digits.split_at(1);
        let point = if tail.is_empty() { "" } else { "." };
        let exp_sign = if adjusted >= 0 { "+" } else { "" };
        format!("{sign}{first}{point}{tail}E{exp_sign}{adjusted}")
    }
}

/// Splits big-endian two's-complement bytes (Java `BigInteger.toByteArray`) into sign and
/// decimal magnitude digits. Empty input is zero.
pub(crate) fn twos_complement_to_digits(bytes: &[u8]) -> (bool, String) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = bytes.to_vec();
    if negative {
        negate_in_place(&mut magnitude);
    }
    let mut digits = Vec::new();
    loop {
        let mut remainder: u32 = 0;
        let mut all_zero = true;
        for byte in magnitude.iter_mut() {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = (current / 10) as u8;
            remainder = current % 10;
            all_zero &= *byte == 0;
        }
        digits.push(b'0' + remainder as u8);
        if all_zero {
            break;
        }
    }
    digits.reverse();
    let text: String = digits.into_iter().map(char::from).collect();
    let trimmed = text.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    (negative && digits != "0", digits.to_string())
}

/// Minimal big-endian two's-complement bytes of `±digits` (Java `BigInteger.toByteArray`).
pub(crate) fn digits_to_twos_complement(negative: bool, digits: &str) -> Vec<u8> {
    // Magnitude in big-endian base 256, with one spare leading byte for the sign.
    let mut magnitude: Vec<u8> = vec![0];
    for digit in digits.bytes() {
        let mut carry = u32::from(digit - b'0');
        for byte in magnitude.iter_mut().rev() {
            let current = u32::from(*byte) * 10 + carry;
            *byte = (current & 0xff) as u8;
            carry = current >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
        if magnitude[0] != 0 {
            magnitude.insert(0, 0);
        }
    }
    if negative {
        negate_in_place(&mut magnitude);
    }
    minimal_twos_complement(magnitude)
}

/// Drops redundant sign-extension bytes (keeps at least one byte).
pub(crate) fn minimal_twos_complement(mut bytes: Vec<u8>) -> Vec<u8> {
    let redundant = bytes
        .windows(2)
        .take_while(|pair| {
            (pair[0] == 0x00 && pair[1] & 0x80 == 0) || (pair[0] == 0xff && pair[1] & 0x80 != 0)
        })
        .count();
    bytes.drain(..redundant);
    if bytes.is_empty() {
        bytes.push(0);
    }
    bytes
}

fn negate_in_place(bytes: &mut [u8]) {
    let mut carry = true;
    for byte in bytes.iter_mut().rev() {
        let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
        *byte = sum;
        carry = overflow;
    }
}

pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

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
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `yyyy-MM-dd` (UTC) of epoch milliseconds.
pub(crate) fn format_date(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:mm:ss.SSS'Z'` (UTC) of epoch milliseconds.
pub(crate) fn format_time(millis: i64) -> String {
    let of_day = millis.rem_euclid(MILLIS_PER_DAY);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` (UTC) of epoch milliseconds.
pub(crate) fn format_timestamp(millis: i64) -> String {
    let time = format_time(millis);
    format!("{}T{time}", format_date(millis))
}

/// `java.util.Date.toString()` in a JVM whose default zone is UTC:
/// `Mon Jan 01 00:00:00 UTC 2024`.
pub(crate) fn java_date_to_string(millis: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    let time = format_time(millis);
    format!("{weekday} {month_name} {day:02} {} UTC {year}", &time[..8])
}

fn fixed_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses strict `yyyy-MM-dd` into days since the epoch.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i64::from(fixed_digits(&text[0..4])?);
    let month = fixed_digits(&text[5..7])?;
    let day = fixed_digits(&text[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses strict `HH:mm:ss.SSS'Z'` into milliseconds since midnight.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 13
        || bytes[2] != b':'
        || bytes[5] != b':'
        || bytes[8] != b'.'
        || bytes[12] != b'Z'
    {
        return None;
    }
    let hours = i64::from(fixed_digits(&text[0..2])?);
    let minutes = i64::from(fixed_digits(&text[3..5])?);
    let seconds = i64::from(fixed_digits(&text[6..8])?);
    let millis = i64::from(fixed_digits(&text[9..12])?);
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// Parses strict `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` into epoch milliseconds.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    if text.len() != 24 || text.as_bytes()[10] != b'T' {
        return None;
    }
    let days = parse_date(text.get(..10)?)?;
    let time = parse_time(text.get(11..)?)?;
    days.checked_mul(MILLIS_PER_DAY)?.checked_add(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e7, "1.0E7"),
            (1e21, "1.0E21"),
            (123.456, "123.456"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(double_to_string(value), expected, "{value}");
        }
        assert_eq!(float_to_string(0.1f32), "0.1");
        assert_eq!(float_to_string(3.4028235e38f32), "3.4028235E38");
        assert_eq!(float_to_string(1.5f32), "1.5");
    }

    #[test]
    fn big_decimals_print_like_java() {
        assert_eq!(big_decimal_to_string(false, "12345", 2), "123.45");
        assert_eq!(big_decimal_to_string(true, "12345", 2), "-123.45");
        assert_eq!(big_decimal_to_string(false, "5", 3), "0.005");
        assert_eq!(big_decimal_to_string(false, "0", 2), "0.00");
        assert_eq!(big_decimal_to_string(false, "1", 8), "1E-8");
        assert_eq!(big_decimal_to_string(false, "123", -2), "1.23E+4");
        assert_eq!(big_decimal_to_string(false, "42", 0), "42");
    }

    #[test]
    fn twos_complement_round_trips() {
        for (digits, negative, bytes) in [
            ("12345", false, vec![0x30, 0x39]),
            ("0", false, vec![0x00]),
            ("128", false, vec![0x00, 0x80]),
            ("128", true, vec![0x80]),
            ("129", true, vec![0xff, 0x7f]),
            ("1", true, vec![0xff]),
            ("255", false, vec![0x00, 0xff]),
        ] {
            assert_eq!(
                digits_to_twos_complement(negative, digits),
                bytes,
                "{digits}"
            );
            assert_eq!(
                twos_complement_to_digits(&bytes),
                (negative, digits.to_string())
            );
        }
        let big = "123456789012345678901234567890123456789";
        let bytes = digits_to_twos_complement(true, big);
        assert_eq!(twos_complement_to_digits(&bytes), (true, big.to_string()));
        assert_eq!(minimal_twos_complement(vec![0x00, 0x00, 0x01]), vec![0x01]);
        assert_eq!(minimal_twos_complement(vec![0xff, 0xff, 0x80]), vec![0x80]);
    }

    #[test]
    fn decimal_text_parses_and_rescales() {
        let parsed = DecimalText::parse("123.45").unwrap();
        assert_eq!(parsed.digits, "12345");
        assert_eq!(parsed.scale, 2);
        assert_eq!(parsed.unscaled_at(4).as_deref(), Some("1234500"));
        assert_eq!(parsed.unscaled_at(1), None);
        let parsed = DecimalText::parse("-1.5E+3").unwrap();
        assert!(parsed.negative);
        assert_eq!(parsed.unscaled_at(0).as_deref(), Some("1500"));
        assert_eq!(DecimalText::parse("1.0").unwrap().exact_i64(), Some(1));
        assert_eq!(DecimalText::parse("1.5").unwrap().exact_i64(), None);
        assert_eq!(DecimalText::parse("abc"), None);
        assert_eq!(DecimalText::parse("1e"), None);
        assert_eq!(DecimalText::parse("."), None);
    }

    #[test]
    fn dates_format_and_parse_in_utc() {
        assert_eq!(format_date(19723 * MILLIS_PER_DAY), "2024-01-01");
        assert_eq!(format_time(3_600_000), "01:00:00.000Z");
        assert_eq!(
            format_timestamp(1_704_067_200_123),
            "2024-01-01T00:00:00.123Z"
        );
        assert_eq!(
            java_date_to_string(1_704_067_200_000),
            "Mon Jan 01 00:00:00 UTC 2024"
        );
        assert_eq!(parse_date("2024-01-01"), Some(19723));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_time("01:00:00.000Z"), Some(3_600_000));
        assert_eq!(
            parse_timestamp("2024-01-01T00:00:00.123Z"),
            Some(1_704_067_200_123)
        );
        assert_eq!(parse_timestamp("2024-01-01 00:00:00.123Z"), None);
    }
}
