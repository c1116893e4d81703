//! Field-by-field validation of a cron expression.
//!
//! croner evaluates expressions well but its parse errors do not say which
//! field is wrong ("Number out of bounds."), and it accepts a few sloppy forms
//! (`1,,2`). This module checks every field against Chime's contract first,
//! so a user reads "day-of-month: 32 is out of range 1-31", and hands croner a
//! normalized expression: names replaced by numbers, `?` by `*`, always seven
//! fields (seconds first, year last).

use std::fmt;

/// One position in a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    fn label(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            // 7 is Sunday too, as in Vixie cron.
            Field::DayOfWeek => (0, 7),
            Field::Year => (1970, 2999),
        }
    }

    fn names(self) -> &'static [&'static str] {
        const MONTHS: &[&str] = &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        match self {
            Field::Month => MONTHS,
            Field::DayOfWeek => DAYS,
            _ => &[],
        }
    }

    /// The number a name stands for: months count from 1, days from 0.
    fn name_value(self, token: &str) -> Option<u32> {
        let upper = token.to_ascii_uppercase();
        let index = self.names().iter().position(|name| *name == upper)?;
        let first = if self == Field::Month { 1 } else { 0 };
        u32::try_from(index).ok().map(|i| i + first)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A field that failed validation, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: Field,
    pub(crate) reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// What validation learned about a well-formed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validated {
    /// Seven fields, seconds first and year last, in croner's syntax.
    pub(crate) normalized: String,
    /// Plain day-of-month values, when day-of-month holds nothing but plain
    /// values and ranges and day-of-week is unrestricted: the one case in
    /// which a pattern can name only days that never exist.
    pub(crate) plain_days: Option<Vec<u32>>,
    /// Months allowed by the month field.
    pub(crate) months: Vec<u32>,
}

/// Checks a cron expression of 5, 6 or 7 fields.
pub(crate) fn validate(expr: &str) -> Result<Validated, String> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let layout: &[Field] = match parts.len() {
        5 => &[
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
        ],
        6 => &[
            Field::Second,
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
        ],
        7 => &[
            Field::Second,
            Field::Minute,
            Field::Hour,
            Field::DayOfMonth,
            Field::Month,
            Field::DayOfWeek,
            Field::Year,
        ],
        0 => return Err("expression is empty".to_owned()),
        n => {
            return Err(format!(
                "expected 5, 6 (leading seconds) or 7 (trailing year) fields, found {n}"
            ));
        }
    };

    let mut normalized = Vec::with_capacity(7);
    if parts.len() == 5 {
        normalized.push("0".to_owned());
    }
    let mut plain_days = None;
    let mut months = (1..=12).collect();
    let mut dow_restricted = false;
    for (field, text) in layout.iter().zip(&parts) {
        let parsed = parse_field(*field, text).map_err(|reason| {
            FieldError {
                field: *field,
                reason,
            }
            .to_string()
        })?;
        match field {
            Field::DayOfMonth => plain_days = parsed.plain_values.clone(),
            Field::Month => {
                if let Some(values) = &parsed.plain_values {
                    months = values.clone();
                }
            }
            Field::DayOfWeek => dow_restricted = !parsed.is_wildcard,
            _ => {}
        }
        normalized.push(parsed.text);
    }
    if parts.len() < 7 {
        normalized.push("*".to_owned());
    }
    Ok(Validated {
        normalized: normalized.join(" "),
        plain_days: if dow_restricted { None } else { plain_days },
        months,
    })
}

struct ParsedField {
    /// The field in croner's syntax.
    text: String,
    /// `*` or `?` alone.
    is_wildcard: bool,
    /// Every value the field allows, when it has no `L`, `W` or `#`.
    plain_values: Option<Vec<u32>>,
}

fn parse_field(field: Field, text: &str) -> Result<ParsedField, String> {
    if text == "*" || (text == "?" && matches!(field, Field::DayOfMonth | Field::DayOfWeek)) {
        let (min, max) = field.range();
        return Ok(ParsedField {
            text: "*".to_owned(),
            is_wildcard: true,
            plain_values: Some((min..=max).collect()),
        });
    }
    let mut items = Vec::new();
    let mut values = Some(Vec::new());
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("empty list item in '{text}'"));
        }
        let parsed = parse_item(field, item)?;
        match (&mut values, parsed.values) {
            (Some(all), Some(item_values)) => all.extend(item_values),
            _ => values = None,
        }
        items.push(parsed.text);
    }
    if let Some(values) = &mut values {
        values.sort_unstable();
        values.dedup();
    }
    Ok(ParsedField {
        text: items.join(","),
        is_wildcard: false,
        plain_values: values,
    })
}

struct ParsedItem {
    text: String,
    values: Option<Vec<u32>>,
}

fn parse_item(field: Field, item: &str) -> Result<ParsedItem, String> {
    let upper = item.to_ascii_uppercase();
    if let Some(special) = parse_special(field, &upper)? {
        return Ok(ParsedItem {
            text: special,
            values: None,
        });
    }
    let (base, step) = match upper.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (upper.as_str(), None),
    };
    let (min, max) = field.range();
    let (start, end, text) = if base == "*" {
        (min, max, "*".to_owned())
    } else if let Some((from, to)) = base.split_once('-') {
        let from_value = parse_value(field, from)?;
        let to_value = parse_value(field, to)?;
        // `FRI-SUN` wraps past Saturday only through 7, the second Sunday.
        if from_value > to_value {
            return Err(format!(
                "range {from}-{to} runs backwards; write it as two ranges"
            ));
        }
        (from_value, to_value, format!("{from_value}-{to_value}"))
    } else {
        let value = parse_value(field, base)?;
        // `5/15` means from 5 to the end, stepping 15, as in Vixie cron.
        let end = if step.is_some() { max } else { value };
        let text = if step.is_some() {
            format!("{value}-{max}")
        } else {
            value.to_string()
        };
        (value, end, text)
    };
    let step_value = match step {
        None => 1,
        Some(step) => {
            let step_value: u32 = step
                .parse()
                .map_err(|_| format!("step '{step}' is not a whole number"))?;
            if step_value == 0 {
                return Err("a step of 0 never advances".to_owned());
            }
            if step_value > max - min + 1 {
                return Err(format!(
                    "step {step_value} is larger than the field's range {min}-{max}"
                ));
            }
            step_value
        }
    };
    let values: Vec<u32> = (start..=end)
        .step_by(step_value as usize)
        .map(|v| {
            if field == Field::DayOfWeek && v == 7 {
                0
            } else {
                v
            }
        })
        .collect();
    let text = match step {
        Some(_) => format!("{text}/{step_value}"),
        None => text,
    };
    Ok(ParsedItem {
        text,
        values: Some(values),
    })
}

/// `L`, `LW` and `15W` in day-of-month; `5L` and `MON#2` in day-of-week.
fn parse_special(field: Field, upper: &str) -> Result<Option<String>, String> {
    match field {
        Field::DayOfMonth => {
            if upper == "L" || upper == "LW" {
                return Ok(Some(upper.to_owned()));
            }
            if let Some(day) = upper.strip_suffix('W') {
                let value = parse_value(field, day)?;
                return Ok(Some(format!("{value}W")));
            }
            if upper.contains('L') || upper.contains('#') {
                return Err(format!(
                    "'{upper}' is not valid here; day-of-month takes L, LW or nW"
                ));
            }
        }
        Field::DayOfWeek => {
            if let Some(day) = upper.strip_suffix('L') {
                let value = parse_value(field, day)? % 7;
                return Ok(Some(format!("{value}L")));
            }
            if let Some((day, nth)) = upper.split_once('#') {
                let value = parse_value(field, day)? % 7;
                let nth_value: u32 = nth
                    .parse()
                    .map_err(|_| format!("'#{nth}' must be a number from 1 to 5"))?;
                if !(1..=5).contains(&nth_value) {
                    return Err(format!("#{nth_value} is out of range 1-5"));
                }
                return Ok(Some(format!("{value}#{nth_value}")));
            }
            // Only a trailing W is the nearest-weekday mark; `WED` is a name.
            if upper.ends_with('W') {
                return Err(format!(
                    "'{upper}' is not valid here; W belongs to day-of-month"
                ));
            }
        }
        _ => {}
    }
    Ok(None)
}

fn parse_value(field: Field, token: &str) -> Result<u32, String> {
    let (min, max) = field.range();
    if token.is_empty() {
        return Err("a value is missing".to_owned());
    }
    if let Some(value) = field.name_value(token) {
        return Ok(value);
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if field.names().is_empty() {
            format!("'{token}' is not a number")
        } else {
            format!(
                "'{token}' is neither a number nor a name ({})",
                field.names().join(", ")
            )
        });
    }
    let value: u32 = token
        .parse()
        .map_err(|_| format!("{token} is out of range {min}-{max}"))?;
    if value < min || value > max {
        return Err(format!("{value} is out of range {min}-{max}"));
    }
    Ok(value)
}
