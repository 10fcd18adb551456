//! Checks that programs' parameters name the right datasets and columns, shared by the
//! programs that read several typed columns, and reading durations.

use sealroom_core::agreement::DatasetTerms;
use sealroom_core::schema::{Column, ColumnType};

/// The dataset `name` (`owner/dataset`) of the agreement, for the parameter `param`.
pub fn dataset<'a>(
    datasets: &'a [DatasetTerms],
    name: &str,
    param: &str,
) -> Result<&'a DatasetTerms, String> {
    datasets
        .iter()
        .find(|d| d.qualified_name() == name)
        .ok_or_else(|| {
            format!("{param} = {name:?} is not a dataset of this agreement (write owner/name)")
        })
}

/// The column `name` of `dataset`, which must have one of `kinds` and, unless `may_be_empty`,
/// must not be optional.
pub fn column<'a>(
    dataset: &'a DatasetTerms,
    name: &str,
    param: &str,
    kinds: &[ColumnType],
    may_be_empty: bool,
) -> Result<&'a Column, String> {
    let qualified = dataset.qualified_name();
    let column = dataset
        .schema
        .column(name)
        .ok_or_else(|| format!("{param} = {name:?} is not a column of {qualified}"))?;
    if !kinds.contains(&column.kind) {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!(
            "{param}: {qualified}.{name} is a {} column; it must be {}",
            column.kind.name(),
            names.join(" or ")
        ));
    }
    if column.optional && !may_be_empty {
        return Err(format!(
            "{param}: {qualified}.{name} is optional; the program needs a value in every row"
        ));
    }
    Ok(column)
}

/// Checks that two datasets' person columns have the same type, so people can be matched.
pub fn same_people(a: &DatasetTerms, b: &DatasetTerms) -> Result<(), String> {
    let kind = |d: &DatasetTerms| d.schema.column(&d.schema.person_column).map(|c| c.kind);
    if kind(a) != kind(b) {
        return Err(format!(
            "the person columns of {} and {} have different types",
            a.qualified_name(),
            b.qualified_name()
        ));
    }
    Ok(())
}

/// Checks K, the conversions credited per person, and reads V, the largest value credited per
/// conversion, exactly in the units of `value_column` (10^scale per whole unit); returns V.
pub fn credit_bounds(
    max_conversions: u32,
    max_value: &crate::sum::Bound,
    value_column: &Column,
) -> Result<i64, String> {
    if !(1..=MAX_CONVERSIONS_PER_PERSON).contains(&max_conversions) {
        return Err(format!(
            "max_conversions_per_person must be from 1 to {MAX_CONVERSIONS_PER_PERSON}"
        ));
    }
    let units = 10_u64.pow(u32::from(value_column.scale.unwrap_or(0)));
    let v = max_value.units(units, "max_value")?;
    if v < 0 {
        return Err("max_value must be at least 0".into());
    }
    Ok(v)
}

/// The largest K: it bounds one person's contribution, so it sets the noise.
pub const MAX_CONVERSIONS_PER_PERSON: u32 = 1000;

/// The order in which a person's conversions are credited: by (time, conversion type, value),
/// ascending, over rows of the conversions table.
pub fn conversion_order<'a>(
    times: &'a [i64],
    types: &'a sealroom_tables::TextColumn,
    values: &'a [i64],
) -> impl Fn(&u32, &u32) -> std::cmp::Ordering + 'a {
    move |&a, &b| {
        let (a, b) = (a as usize, b as usize);
        (times[a], types.get(a), values[a]).cmp(&(times[b], types.get(b), values[b]))
    }
}

/// A duration written as a whole number and a unit (`7d`, `24h`, `30m`, `90s`), in
/// microseconds; at least one second, at most ten years.
pub fn duration_micros(text: &str, param: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{param} = {text:?} is not a duration: write a whole number and d, h, m or s (e.g. \"7d\")"
        )
    };
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let seconds_per_unit: i64 = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = n.checked_mul(seconds_per_unit).ok_or_else(bad)?;
    if !(1..=10 * 366 * 86_400).contains(&seconds) {
        return Err(format!("{param} = {text:?} must be from 1s to 10 years"));
    }
    Ok(seconds * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_units() {
        assert_eq!(duration_micros("7d", "w"), Ok(7 * 86_400_000_000));
        assert_eq!(duration_micros("90s", "w"), Ok(90_000_000));
        for bad in ["", "d", "7", "1.5d", "-1d", "7 d", "0s", "99999y", "4000d"] {
            assert!(duration_micros(bad, "w").is_err(), "{bad:?}");
        }
    }
}
