//! Units the flags speak in: rates, durations and probabilities, parsed and displayed.

use std::str::FromStr;
use std::time::Duration;

/// A pace: so many requests per unit of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed per unit.
    pub count: f64,
    /// The unit.
    pub per: Duration,
}

impl Rate {
    /// Requests per second.
    pub fn per_second(self) -> f64 {
        self.count / self.per.as_secs_f64()
    }

    /// The time between two requests at this pace.
    pub fn period(self) -> Duration {
        self.per.div_f64(self.count)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `N/s`, `N/min`, `N/h` or `N` (per second); N may be fractional.
    fn from_str(s: &str) -> Result<Rate, String> {
        let s = s.trim();
        let (number, unit) = match s.split_once('/') {
            Some((n, u)) => (n.trim(), u.trim()),
            None => (s, "s"),
        };
        let per = match unit.to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => {
                return Err(format!(
                    "'{s}': the unit must be s, min or h (for example 2/s, 30/min, 500/h)"
                ))
            }
        };
        let count: f64 = number.parse().map_err(|_| {
            format!("'{s}': '{number}' is not a number (for example 2/s, 0.5/s, 30/min)")
        })?;
        if !count.is_finite() || count <= 0.0 {
            return Err(format!("'{s}': the rate must be above zero"));
        }
        let rate = Rate { count, per };
        if rate.period() < Duration::from_micros(10) {
            return Err(format!("'{s}': at most 100000 requests per second"));
        }
        if rate.period() > Duration::from_secs(24 * 3600) {
            return Err(format!("'{s}': at least one request per day"));
        }
        Ok(rate)
    }
}

/// Parses `90s`, `10m`, `2h`, `1h30m`, `500ms` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs).map_err(|e| format!("'{s}': {e}"));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration ({e}); for example 90s, 10m, 2h"))?;
    secs_to_duration(d.as_secs_f64()).map_err(|e| format!("'{s}': {e}"))
}

/// Parses a time limit above zero, in seconds: a plain number (fractional allowed) or a
/// duration with its unit like every other duration flag (`30s`, `1m`, `500ms`).
pub fn parse_secs(s: &str) -> Result<f64, String> {
    let secs = parse_duration(s)?.as_secs_f64();
    if secs == 0.0 {
        return Err("the time limit must be above zero".into());
    }
    Ok(secs)
}

fn secs_to_duration(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err("must be a number of seconds from 0 to 1e9".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a probability from 0 to 1.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("'{s}' must be from 0 to 1"));
    }
    Ok(p)
}

/// Parses a row number as a spreadsheet shows it: 1 or more.
pub fn parse_row(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{}' is not a row number; give the row as the spreadsheet shows it, 1 or more",
            crate::text::quote(s)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_numbers_start_at_one() {
        assert_eq!(parse_row(" 4 "), Ok(4));
        for bad in ["0", "-1", "x", ""] {
            assert!(
                parse_row(bad).unwrap_err().contains("is not a row number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rates() {
        let r: Rate = "2/s".parse().unwrap();
        assert_eq!(r.period(), Duration::from_millis(500));
        let r: Rate = "30/min".parse().unwrap();
        assert_eq!(r.period(), Duration::from_secs(2));
        let r: Rate = "0.5/s".parse().unwrap();
        assert_eq!(r.period(), Duration::from_secs(2));
        let r: Rate = "50".parse().unwrap();
        assert!((r.per_second() - 50.0).abs() < 1e-9);
        let r: Rate = "3600/h".parse().unwrap();
        assert!((r.per_second() - 1.0).abs() < 1e-9);
        for bad in [
            "0",
            "-1/s",
            "abc",
            "2/day",
            "",
            "NaN/s",
            "inf",
            "1e9/s",
            "0.00001/h",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("500000000000y").is_err());
        assert!(parse_duration("1e12").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_secs("0").is_err());
        assert_eq!(parse_secs("2.5"), Ok(2.5));
        assert_eq!(parse_secs("30s"), Ok(30.0));
        assert_eq!(parse_secs("1m"), Ok(60.0));
        assert_eq!(parse_secs("500ms"), Ok(0.5));
        assert!(parse_secs("0s").is_err());
        assert!(parse_secs("thirty").is_err());
        assert!(parse_probability("1.5").is_err());
    }
}
