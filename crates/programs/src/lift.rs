//! `lift`: a randomised holdout study. The platform's study table puts each person in the
//! `test` or the `control` arm; the advertiser's conversions say who converted.
//!
//! Per arm: people, converters (people with at least one conversion in the study window),
//! conversions (capped per person), Σ value and Σ value² (clamped). Conversions are first
//! restricted to the study window [start, end] (inclusive), then each person's are ordered by
//! (time, conversion type, value) and the first K credited; values are clamped to [0, V].
//! Σ value² is taken per person over each person's total of clamped, credited values:
//! Σ_p (Σ_v v)². A person listed in both arms counts in neither; a person listed twice in one
//! arm counts once. Conversions of people outside the study are ignored.
//!
//! Derived figures (conversion-rate lift, incremental conversions and a 95% confidence interval
//! for the lift that adds the noise's variance to the sampling variance) are computed by
//! [`derive()`] from the noised counts only.

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_core::output::DerivedFigure;
use sealroom_core::schema::ColumnType;
use sealroom_tables::{Table, TableError};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::columns::{column, conversion_order, credit_bounds, dataset, same_people};
use crate::people::{ByPerson, People};
use crate::program::{Params, Plan, Program, ProgramInfo, checked_inputs};
use crate::result::{Measure, ProgramResult, ResultRow, ResultTable};
use crate::sum::Bound;

/// Program id.
pub const ID: &str = "lift";
/// Program version.
pub const VERSION: u32 = 1;
/// The one output: one row per arm.
pub const OUTPUT: &str = "lift";
/// The arms, in release order.
pub const ARMS: [&str; 2] = ["test", "control"];
/// The measures of each arm, in column order.
pub const MEASURES: [&str; 5] = [
    "people",
    "converters",
    "conversions",
    "value",
    "value_squared",
];

/// Parameters of `lift`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftParams {
    /// `owner/dataset` of the study: who is in which arm.
    pub study: String,
    /// `owner/dataset` of the conversions.
    pub conversions: String,
    /// String column of the study whose declared values are `test` and `control`.
    pub arm_column: String,
    /// Timestamp column of the conversions.
    pub conversion_time: String,
    /// String column of the conversions: the conversion type.
    pub conversion_type: String,
    /// Decimal or integer column of the conversions: the value.
    pub conversion_value: String,
    /// First instant of the study window (RFC 3339), inclusive.
    pub study_start: String,
    /// Last instant of the study window (RFC 3339), inclusive.
    pub study_end: String,
    /// K: conversions credited per person.
    pub max_conversions_per_person: u32,
    /// V: the largest value credited per conversion, in the value column's units.
    pub max_value: Bound,
}

/// The parameters checked and made exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiftRules {
    /// Study window start, microseconds since the epoch.
    pub start: i64,
    /// Study window end, microseconds since the epoch.
    pub end: i64,
    /// K.
    pub max_conversions: u32,
    /// V in the value column's units.
    pub max_value: i64,
    /// Units per whole unit of the value column.
    pub units: u64,
}

/// The largest K × V, in the value column's units: one person adds at most (K·V)² = 9·10¹² to
/// Σ value², so the cell holds a million people at the bound (far more at typical values)
/// before it saturates at the largest 64-bit value.
const MAX_PERSON_VALUE: u64 = 3_000_000;

fn instant(text: &str, param: &str) -> Result<i64, String> {
    let parsed = sealroom_core::clock::rfc3339_micros(text)
        .ok_or_else(|| format!("{param} = {text:?} is not an RFC 3339 time with an offset"))?;
    Ok(parsed)
}

impl LiftParams {
    /// Checks the parameters against the agreement's datasets; returns the exact rules.
    pub fn rules(&self, datasets: &[DatasetTerms]) -> Result<LiftRules, String> {
        let study = dataset(datasets, &self.study, "study")?;
        let conversions = dataset(datasets, &self.conversions, "conversions")?;
        if self.study == self.conversions {
            return Err("study and conversions must be different datasets".into());
        }
        same_people(study, conversions)?;
        let arm = column(
            study,
            &self.arm_column,
            "arm_column",
            &[ColumnType::String],
            false,
        )?;
        let arms_ok = arm
            .values
            .as_ref()
            .is_some_and(|v| v.iter().all(|a| ARMS.contains(&a.as_str())));
        if !arms_ok {
            return Err(format!(
                "arm_column: {}.{} must declare its values as a subset of [\"test\", \"control\"]",
                self.study, self.arm_column
            ));
        }
        column(
            conversions,
            &self.conversion_time,
            "conversion_time",
            &[ColumnType::Timestamp],
            false,
        )?;
        column(
            conversions,
            &self.conversion_type,
            "conversion_type",
            &[ColumnType::String],
            false,
        )?;
        let value = column(
            conversions,
            &self.conversion_value,
            "conversion_value",
            &[ColumnType::Decimal, ColumnType::Integer],
            false,
        )?;
        let start = instant(&self.study_start, "study_start")?;
        let end = instant(&self.study_end, "study_end")?;
        if start > end {
            return Err("study_start is after study_end".into());
        }
        let max_value = credit_bounds(self.max_conversions_per_person, &self.max_value, value)?;
        let units = 10_u64.pow(u32::from(value.scale.unwrap_or(0)));
        if value.scale.unwrap_or(0) > 9 {
            return Err(format!(
                "conversion_value: {} has more than 9 digits after the point; Σ value² could not be stated in its units",
                self.conversion_value
            ));
        }
        // Saturating: a product past 64 bits is refused below like any other too large.
        let per_person =
            u64::from(self.max_conversions_per_person).saturating_mul(max_value.unsigned_abs());
        if per_person > MAX_PERSON_VALUE {
            return Err(format!(
                "max_conversions_per_person × max_value is {per_person} units, above {MAX_PERSON_VALUE}: Σ value² would not fit"
            ));
        }
        Ok(LiftRules {
            start,
            end,
            max_conversions: self.max_conversions_per_person,
            max_value,
            units,
        })
    }
}

impl Params for LiftParams {
    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        p.rules(datasets)?;
        Ok(p)
    }

    fn inputs(&self) -> Vec<String> {
        vec![self.study.clone(), self.conversions.clone()]
    }
}

/// One arm's exact figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arm {
    /// People in the arm.
    pub people: u64,
    /// People with at least one conversion in the window.
    pub converters: u64,
    /// Credited conversions.
    pub conversions: u64,
    /// Σ clamped credited values.
    pub value: i128,
    /// Σ over people of (their Σ value)².
    pub value_squared: i128,
}

/// The exact answer: test arm, control arm.
pub type LiftArms = [Arm; 2];

/// Computes both arms exactly.
pub fn measure(
    params: &LiftParams,
    rules: &LiftRules,
    study: &Table,
    conversions: &Table,
) -> Result<LiftArms, TableError> {
    let arms = study.text(&params.arm_column)?;
    // Each person's arm: 0 test, 1 control, 2 both (counted in neither), 3 not in the study.
    const OUTSIDE: u8 = 3;
    let mut people = People::default();
    let study_people = people.ids(study)?;
    let mut arm_of = vec![OUTSIDE; people.len()];
    for (row, &person) in study_people.iter().enumerate() {
        let arm = if arms.get(row) == ARMS[0] { 0 } else { 1 };
        let known = &mut arm_of[person as usize];
        *known = match *known {
            OUTSIDE => arm,
            same if same == arm => same,
            _ => 2,
        };
    }
    drop(study_people);
    let mut result = LiftArms::default();
    for &arm in &arm_of {
        if let Some(a) = result.get_mut(usize::from(arm)) {
            a.people += 1;
        }
    }
    let value_kind = conversions
        .schema()
        .column(&params.conversion_value)
        .map_or(ColumnType::Decimal, |c| c.kind);
    let values = conversions
        .numbers(&params.conversion_value, value_kind)?
        .values();
    let times = conversions
        .numbers(&params.conversion_time, ColumnType::Timestamp)?
        .values();
    let types = conversions.text(&params.conversion_type)?;
    // The study's people's conversions in the window, grouped by person.
    let conversion_people = people.ids(conversions)?;
    arm_of.resize(people.len(), OUTSIDE);
    let (mut kept_people, mut kept_rows) = (Vec::new(), Vec::new());
    for (row, &person) in conversion_people.iter().enumerate() {
        let in_study = matches!(arm_of[person as usize], 0 | 1);
        if in_study && (rules.start..=rules.end).contains(&times[row]) {
            kept_people.push(person);
            kept_rows.push(row as u32);
        }
    }
    drop(conversion_people);
    let by_person = ByPerson::new(&kept_people, people.len());
    let order = conversion_order(times, types, values);
    let mut rows: Vec<u32> = Vec::new();
    for person in 0..people.len() as u32 {
        let kept = by_person.rows(person);
        if kept.is_empty() {
            continue;
        }
        rows.clear();
        rows.extend(kept.iter().map(|&k| kept_rows[k as usize]));
        rows.sort_unstable_by(&order);
        rows.truncate(rules.max_conversions as usize);
        let total: i128 = rows
            .iter()
            .map(|&r| i128::from(values[r as usize].clamp(0, rules.max_value)))
            .sum();
        let arm = &mut result[usize::from(arm_of[person as usize])];
        arm.converters += 1;
        arm.conversions += rows.len() as u64;
        arm.value += total;
        arm.value_squared += total * total;
    }
    Ok(result)
}

/// The `lift` program.
#[derive(Debug, Clone, Copy)]
pub struct Lift;

impl Program for Lift {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "a holdout study: per arm (test, control) people, converters, conversions, Σ value and Σ value², with the conversion-rate lift, incremental conversions and a 95% interval derived from the noised counts",
            params: "study, conversions = \"owner/dataset\"; arm_column (values ⊆ [test, control]); conversion_time, conversion_type, conversion_value; study_start, study_end = RFC 3339; max_conversions_per_person = K; max_value = \"500.00\"",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        Plan::of::<LiftParams>(params, datasets, OUTPUT)
    }

    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        _privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        let (p, [study, conversions]) = checked_inputs::<LiftParams, 2>(params, datasets, inputs)?;
        let rules = p.rules(datasets).map_err(ProgramError::BadParameters)?;
        Ok(result(&rules, measure(&p, &rules, study, conversions)?))
    }

    fn derive(
        &self,
        table: &sealroom_core::output::ReleasedTable,
        variances: &[f64],
    ) -> Vec<DerivedFigure> {
        derive(table, variances)
    }
}

/// The exact arms as one table of five measures; one person is in one arm, so each measure's
/// sensitivity is what one person adds to one cell: 1, 1, K, K·V, (K·V)².
pub fn result(rules: &LiftRules, arms: LiftArms) -> ProgramResult {
    let k = u64::from(rules.max_conversions);
    // `rules` checked K·V ≤ MAX_PERSON_VALUE and the scale ≤ 9, so nothing here overflows.
    let kv = k * rules.max_value.unsigned_abs();
    let bounds = [
        (1, 1),
        (1, 1),
        (k, 1),
        (kv, rules.units),
        (kv * kv, rules.units * rules.units),
    ];
    let measures = MEASURES
        .iter()
        .zip(bounds)
        .map(|(name, (bound, units))| Measure {
            name: (*name).into(),
            units,
            l1_sensitivity: bound,
            l2_sensitivity: bound,
            per_cell_sensitivity: bound,
        })
        .collect();
    let fit = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    let rows = ARMS
        .iter()
        .zip(arms)
        .map(|(arm, a)| ResultRow {
            key: vec![(*arm).into()],
            values: vec![
                fit(a.people.into()),
                fit(a.converters.into()),
                fit(a.conversions.into()),
                fit(a.value),
                fit(a.value_squared),
            ],
        })
        .collect();
    ProgramResult {
        measures,
        tables: vec![ResultTable {
            output: OUTPUT.into(),
            key_columns: vec!["arm".into()],
            measures: (0..MEASURES.len()).collect(),
            column_names: Vec::new(),
            rows,
            discovered: Vec::new(),
            discovers_keys: false,
        }],
        rows_per_person: 1,
    }
}

/// The derived figures of a released `lift` table, from its noised values and the variance of
/// each column's noise:
/// - `conversion_rate_lift_percent`: (r_t / r_c − 1) × 100 with r = converters / people;
/// - `incremental_conversions`: conversions_t − conversions_c × people_t / people_c;
/// - a 95% interval for the lift: on log(r_t / r_c), whose variance is the sampling variance
///   r(1 − r)/n of each rate plus the noise's, (σ²_converters + r² σ²_people)/n², over r².
///
/// A figure whose denominator is not positive is null ("not defined").
pub fn derive(
    table: &sealroom_core::output::ReleasedTable,
    variances: &[f64],
) -> Vec<DerivedFigure> {
    let arm = |name: &str| {
        table
            .rows
            .iter()
            .find(|r| r.key.first().map(String::as_str) == Some(name))
            .map(|r| r.values.iter().map(|&v| v as f64).collect::<Vec<f64>>())
    };
    let (Some(t), Some(c)) = (arm(ARMS[0]), arm(ARMS[1])) else {
        return Vec::new();
    };
    let var = |i: usize| variances.get(i).copied().unwrap_or(0.0);
    let rate = |a: &[f64]| (a[0] > 0.0).then(|| a[1] / a[0]);
    let (rt, rc) = (rate(&t), rate(&c));
    let lift = match (rt, rc) {
        (Some(rt), Some(rc)) if rc > 0.0 => Some((rt / rc - 1.0) * 100.0),
        _ => None,
    };
    let incremental = (c[0] > 0.0).then(|| t[2] - c[2] * t[0] / c[0]);
    let interval = match (rt, rc) {
        (Some(rt), Some(rc)) if rt > 0.0 && rc > 0.0 => {
            let log_var = |r: f64, n: f64| {
                let sampling = r * (1.0 - r).max(0.0) / n;
                let noise = (var(1) + r * r * var(0)) / (n * n);
                (sampling + noise) / (r * r)
            };
            let se = (log_var(rt, t[0]) + log_var(rc, c[0])).sqrt();
            let center = (rt / rc).ln();
            let z = 1.959_963_984_540_054;
            Some((
                ((center - z * se).exp() - 1.0) * 100.0,
                ((center + z * se).exp() - 1.0) * 100.0,
            ))
        }
        _ => None,
    };
    vec![
        DerivedFigure {
            name: "conversion_rate_lift_percent".into(),
            value: lift,
            low_95: interval.map(|i| i.0),
            high_95: interval.map(|i| i.1),
        },
        DerivedFigure {
            name: "incremental_conversions".into(),
            value: incremental,
            low_95: None,
            high_95: None,
        },
    ]
}
