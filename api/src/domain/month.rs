//! A publication month: the finest grain the DHR Library gives.

use std::fmt;
use std::str::FromStr;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A year and month, stored and exchanged as `YYYY-MM` so that it sorts as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a month as \"YYYY-MM\" or \"June 2023\", found {0:?}")]
pub struct BadMonth(pub String);

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1900..=2999).contains(&year)).then_some(Self { year, month })
    }

    /// Parses the printed form of the DHR Library, "June 2023" (also "Jun 2023").
    pub fn parse_printed(s: &str) -> Result<Self, BadMonth> {
        let bad = || BadMonth(s.to_owned());
        let mut words = s.split_whitespace();
        let (Some(name), Some(year), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        let name = name.to_ascii_lowercase();
        let month = MONTHS
            .iter()
            .position(|m| *m == name || (name.len() >= 3 && m.starts_with(&name)))
            .ok_or_else(bad)? as u32
            + 1;
        let year = year.parse().map_err(|_| bad())?;
        Self::new(year, month).ok_or_else(bad)
    }
}

impl FromStr for YearMonth {
    type Err = BadMonth;

    /// Parses `YYYY-MM`, the API's form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMonth(s.to_owned());
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        Self::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_and_api_forms_agree() {
        let printed = YearMonth::parse_printed("June 2023").unwrap();
        assert_eq!(printed.to_string(), "2023-06");
        assert_eq!("2023-06".parse::<YearMonth>().unwrap(), printed);
        assert_eq!(
            YearMonth::parse_printed("dec 2022").unwrap().to_string(),
            "2022-12"
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(YearMonth::parse_printed("Smarch 2023").is_err());
        assert!(YearMonth::parse_printed("June").is_err());
        assert!("2023-13".parse::<YearMonth>().is_err());
        assert!("23-06".parse::<YearMonth>().is_err());
    }
}
