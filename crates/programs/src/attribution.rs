//! `attribution` (last touch): which touches of an ad platform get the credit for an
//! advertiser's conversions, per breakdown key (campaign, ad set, …).
//!
//! For a conversion of person p at time t, the candidates are p's touches with
//! `t − window(kind) ≤ touch time ≤ t` (windows per kind from the parameters; every bound
//! inclusive, microsecond precision). If any click is a candidate the latest click wins,
//! otherwise the latest view; among touches at the same instant the smallest breakdown key wins
//! (keys compare as tuples of UTF-8 bytes in declared column order). Each person's conversions
//! are ordered by (time, conversion type, value) ascending and only the first K are credited,
//! attributed or not; the rest count nowhere. Credited values are clamped to [0, V]; a
//! conversion with a value ≤ 0 still counts. Every row is an event (identical rows each count);
//! only people are de-duplicated.
//!
//! Outputs: `attribution`, per breakdown key (declared keys always, noised even when nothing
//! was attributed to them; otherwise keys found in the data, through the noisy threshold),
//! and `unattributed`, one row. Both have two measures, `conversions` and `value`; one person
//! moves at most K conversions and K·V of value across both, which sizes the noise. The exact
//! answer is computed here; the isolate adds the noise.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashTable;

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_core::schema::ColumnType;
use sealroom_tables::{Table, TableError, TextColumn};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::columns::{
    column, conversion_order, credit_bounds, dataset, duration_micros, same_people,
};
use crate::people::{ByPerson, People};
use crate::program::{Params, Plan, Program, ProgramInfo, checked_inputs};
use crate::result::{Measure, ProgramResult, ResultRow, ResultTable};
use crate::sum::Bound;

/// Parameters of `attribution`, as the agreement's `[program] params` writes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionParams {
    /// `owner/dataset` of the platform's touches.
    pub touches: String,
    /// `owner/dataset` of the advertiser's conversions.
    pub conversions: String,
    /// Timestamp column of the touches.
    pub touch_time: String,
    /// String column of the touches whose declared values are `click` and/or `view`.
    pub touch_kind: String,
    /// String columns of the touches that make the breakdown key, in order.
    pub breakdown: Vec<String>,
    /// Timestamp column of the conversions.
    pub conversion_time: String,
    /// String column of the conversions: the conversion type.
    pub conversion_type: String,
    /// Decimal or integer column of the conversions: the conversion value.
    pub conversion_value: String,
    /// How long before a conversion a click is a candidate, e.g. `"7d"`.
    pub click_window: String,
    /// How long before a conversion a view is a candidate, e.g. `"1d"`.
    pub view_window: String,
    /// K: conversions credited per person (the earliest K).
    pub max_conversions_per_person: u32,
    /// V: the largest value credited per conversion, in the value column's units.
    pub max_value: Bound,
    /// The keys to report (each a list with one value per breakdown column); absent to discover
    /// them through the noisy threshold.
    #[serde(default)]
    pub keys: Option<Vec<Vec<String>>>,
}

/// The parameters checked and made exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionRules {
    /// Click window in microseconds.
    pub click_window: i64,
    /// View window in microseconds.
    pub view_window: i64,
    /// K.
    pub max_conversions: u32,
    /// V, in units of the value column (10^-scale for a decimal column).
    pub max_value: i64,
}

impl AttributionParams {
    /// Checks the parameters against the agreement's datasets; returns the exact rules.
    pub fn rules(&self, datasets: &[DatasetTerms]) -> Result<AttributionRules, String> {
        let touches = dataset(datasets, &self.touches, "touches")?;
        let conversions = dataset(datasets, &self.conversions, "conversions")?;
        if self.touches == self.conversions {
            return Err("touches and conversions must be different datasets".into());
        }
        same_people(touches, conversions)?;
        let time = [ColumnType::Timestamp];
        let text = [ColumnType::String];
        column(touches, &self.touch_time, "touch_time", &time, false)?;
        let kind = column(touches, &self.touch_kind, "touch_kind", &text, false)?;
        let kinds_ok = kind
            .values
            .as_ref()
            .is_some_and(|v| v.iter().all(|k| k == "click" || k == "view"));
        if !kinds_ok {
            return Err(format!(
                "touch_kind: {}.{} must declare its values as a subset of [\"click\", \"view\"], so no other kind can be sealed",
                self.touches, self.touch_kind
            ));
        }
        if self.breakdown.is_empty() {
            return Err("breakdown must name at least one column".into());
        }
        for (i, b) in self.breakdown.iter().enumerate() {
            column(touches, b, "breakdown", &text, false)?;
            if self.breakdown[..i].contains(b) || *b == self.touch_kind {
                return Err(format!(
                    "breakdown names {b:?} twice, or names the kind column"
                ));
            }
        }
        column(
            conversions,
            &self.conversion_time,
            "conversion_time",
            &time,
            false,
        )?;
        column(
            conversions,
            &self.conversion_type,
            "conversion_type",
            &text,
            false,
        )?;
        let value = column(
            conversions,
            &self.conversion_value,
            "conversion_value",
            &[ColumnType::Decimal, ColumnType::Integer],
            false,
        )?;
        let click_window = duration_micros(&self.click_window, "click_window")?;
        let view_window = duration_micros(&self.view_window, "view_window")?;
        let max_value = credit_bounds(self.max_conversions_per_person, &self.max_value, value)?;
        if u64::from(self.max_conversions_per_person)
            .checked_mul(max_value.unsigned_abs())
            .is_none_or(|kv| kv > i64::MAX as u64)
        {
            return Err("max_conversions_per_person × max_value is too large to sum".into());
        }
        if let Some(keys) = &self.keys {
            if keys.is_empty() {
                return Err("keys must declare at least one key (or be left out to discover keys through the noisy threshold)".into());
            }
            for (i, key) in keys.iter().enumerate() {
                if key.len() != self.breakdown.len() {
                    return Err(format!(
                        "key {key:?} has {} values for {} breakdown columns",
                        key.len(),
                        self.breakdown.len()
                    ));
                }
                if keys[..i].contains(key) {
                    return Err(format!("keys lists {key:?} twice"));
                }
            }
        }
        Ok(AttributionRules {
            click_window,
            view_window,
            max_conversions: self.max_conversions_per_person,
            max_value,
        })
    }
}

impl Params for AttributionParams {
    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        p.rules(datasets)?;
        Ok(p)
    }

    fn inputs(&self) -> Vec<String> {
        vec![self.touches.clone(), self.conversions.clone()]
    }
}

/// Conversions and their clamped value, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credit {
    /// Conversions.
    pub conversions: u64,
    /// Σ clamped value, in the value column's units.
    pub value: i128,
}

impl Credit {
    fn add(&mut self, value: i64) {
        self.conversions += 1;
        self.value += i128::from(value);
    }
}

/// The exact answer: credit per breakdown key found, and the credited conversions no touch won.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Per breakdown key (one value per breakdown column), in key order.
    pub by_key: BTreeMap<Vec<String>, Credit>,
    /// Credited conversions without a candidate touch.
    pub unattributed: Credit,
}

/// The touch a conversion at `t` credits among one person's touches (`order`: row indices
/// sorted by time), if any.
fn winner(
    order: &[u32],
    times: &[i64],
    is_click: &[bool],
    keys: &[&TextColumn],
    rules: &AttributionRules,
    t: i64,
) -> Option<u32> {
    let key_cmp = |a: u32, b: u32| {
        keys.iter()
            .map(|k| k.get(a as usize).cmp(k.get(b as usize)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    };
    // The touches at or before t, latest first.
    let end = order.partition_point(|&i| times[i as usize] <= t);
    let earliest = t.saturating_sub(rules.click_window.max(rules.view_window));
    let (mut click, mut view): (Option<u32>, Option<u32>) = (None, None);
    for &i in order[..end].iter().rev() {
        let at = times[i as usize];
        if at < earliest {
            break;
        }
        let (best, window) = if is_click[i as usize] {
            (&mut click, rules.click_window)
        } else {
            (&mut view, rules.view_window)
        };
        if at < t.saturating_sub(window) {
            continue;
        }
        *best = match *best {
            None => Some(i),
            Some(b) if times[b as usize] == at && key_cmp(i, b) == Ordering::Less => Some(i),
            keep => keep,
        };
    }
    click.or(view)
}

/// Runs last-touch attribution over `touches` and `conversions` exactly.
pub fn attribute(
    params: &AttributionParams,
    rules: &AttributionRules,
    touches: &Table,
    conversions: &Table,
) -> Result<Attribution, TableError> {
    let touch_times = touches.numbers(&params.touch_time, ColumnType::Timestamp)?;
    let kinds = touches.text(&params.touch_kind)?;
    let is_click: Vec<bool> = kinds.iter().map(|k| k == "click").collect();
    let keys: Vec<&TextColumn> = params
        .breakdown
        .iter()
        .map(|b| touches.text(b))
        .collect::<Result<_, _>>()?;
    let value_kind = match conversions.schema().column(&params.conversion_value) {
        Some(c) => c.kind,
        None => ColumnType::Decimal,
    };
    let values = conversions.numbers(&params.conversion_value, value_kind)?;
    let conversion_times = conversions.numbers(&params.conversion_time, ColumnType::Timestamp)?;
    let types = conversions.text(&params.conversion_type)?;

    // Every converting person as a dense number (only their touches can win anything); each
    // person's touches in time order, and conversions in (time, type, value) order.
    let mut people = People::default();
    let conversion_people = people.ids(conversions)?;
    let touch_people = people.known(touches)?;
    let times = touch_times.values();
    let mut touches_of = ByPerson::leaving_out_unknown(&touch_people, people.len());
    drop(touch_people);
    touches_of.for_each_mut(|rows| rows.sort_by_key(|&i| times[i as usize]));
    let when = conversion_times.values();
    let raw = values.values();
    let mut conversions_of = ByPerson::new(&conversion_people, people.len());
    let order = conversion_order(when, types, raw);
    conversions_of.for_each_mut(|rows| rows.sort_by(&order));
    let mut result = Attribution::default();
    let mut credit_by_key = CreditByKey::new(&keys);
    for person in 0..people.len() as u32 {
        let credited = conversions_of.rows(person);
        let credited = &credited[..credited.len().min(rules.max_conversions as usize)];
        let order = touches_of.rows(person);
        for &c in credited {
            let c = c as usize;
            let value = raw[c].clamp(0, rules.max_value);
            match winner(order, times, &is_click, &keys, rules, when[c]) {
                Some(t) => credit_by_key.add(t, value),
                None => result.unattributed.add(value),
            }
        }
    }
    result.by_key = credit_by_key.into_keys();
    Ok(result)
}

/// The hash of touch row `row`'s breakdown key.
fn key_hash(hasher: &ahash::RandomState, keys: &[&TextColumn], row: u32) -> u64 {
    let mut state = hasher.build_hasher();
    for k in keys {
        k.get(row as usize).hash(&mut state);
    }
    state.finish()
}

/// Credit gathered by breakdown key, each key held as the first touch row that carries it: no
/// key is copied until the end, when there is one copy per key instead of one per conversion.
struct CreditByKey<'a, 't> {
    keys: &'a [&'t TextColumn],
    hasher: ahash::RandomState,
    credit: HashTable<(u32, Credit)>,
}

impl<'a, 't> CreditByKey<'a, 't> {
    fn new(keys: &'a [&'t TextColumn]) -> Self {
        Self {
            keys,
            hasher: ahash::RandomState::new(),
            credit: HashTable::new(),
        }
    }

    /// Credits `value` to the key of touch row `touch`.
    fn add(&mut self, touch: u32, value: i64) {
        let (keys, hasher) = (self.keys, &self.hasher);
        let same_key = |row: u32| {
            keys.iter()
                .all(|k| k.get(row as usize) == k.get(touch as usize))
        };
        let entry = self.credit.entry(
            key_hash(hasher, keys, touch),
            |(row, _)| same_key(*row),
            |(row, _)| key_hash(hasher, keys, *row),
        );
        entry
            .or_insert((touch, Credit::default()))
            .into_mut()
            .1
            .add(value);
    }

    fn into_keys(self) -> BTreeMap<Vec<String>, Credit> {
        self.credit
            .into_iter()
            .map(|(row, credit)| {
                let key = self
                    .keys
                    .iter()
                    .map(|k| k.get(row as usize).to_owned())
                    .collect();
                (key, credit)
            })
            .collect()
    }
}

/// Program id.
pub const ID: &str = "attribution";
/// Program version.
pub const VERSION: u32 = 1;
/// The output with credit per breakdown key.
pub const OUTPUT: &str = "attribution";
/// The output with the credited conversions no touch won: one row, never a key, so no
/// breakdown value can collide with it.
pub const UNATTRIBUTED_OUTPUT: &str = "unattributed";

/// The `attribution` program.
#[derive(Debug, Clone, Copy)]
pub struct Attribute;

impl Program for Attribute {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "last-touch attribution of conversions to touches (click, else view, within windows), per breakdown key, with the unattributed as a separate output; K conversions per person, values clamped to [0, V]",
            params: "touches, conversions = \"owner/dataset\"; touch_time, touch_kind (values ⊆ [click, view]), breakdown = [\"campaign\", …]; conversion_time, conversion_type, conversion_value; click_window = \"7d\", view_window = \"1d\"; max_conversions_per_person = K; max_value = \"500.00\"; keys = [[\"…\"], …] (optional)",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        Plan::with_outputs::<AttributionParams>(params, datasets, &[OUTPUT, UNATTRIBUTED_OUTPUT])
    }

    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        _privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        let (p, [touches, conversions]) =
            checked_inputs::<AttributionParams, 2>(params, datasets, inputs)?;
        let rules = p.rules(datasets).map_err(ProgramError::BadParameters)?;
        let exact = attribute(&p, &rules, touches, conversions)?;
        let units = datasets
            .iter()
            .find(|d| d.qualified_name() == p.conversions)
            .and_then(|d| d.schema.column(&p.conversion_value))
            .map_or(1, |c| 10_u64.pow(u32::from(c.scale.unwrap_or(0))));
        Ok(result(&p, &rules, exact, units))
    }
}

/// The exact answer as tables of two measures, with the sensitivities K and K·V.
pub fn result(
    params: &AttributionParams,
    rules: &AttributionRules,
    mut exact: Attribution,
    units: u64,
) -> ProgramResult {
    let k = u64::from(rules.max_conversions);
    // `rules` checked that K·V fits.
    let kv = k * rules.max_value.unsigned_abs();
    let measure = |name: &str, units, bound| Measure {
        name: name.into(),
        units,
        l1_sensitivity: bound,
        l2_sensitivity: bound,
        per_cell_sensitivity: bound,
    };
    let row = |key: Vec<String>, c: Credit| ResultRow {
        key,
        values: vec![
            i64::try_from(c.conversions).unwrap_or(i64::MAX),
            i64::try_from(c.value).unwrap_or(i64::MAX),
        ],
    };
    let (rows, discovered) = match &params.keys {
        Some(keys) => (
            keys.iter()
                .map(|key| {
                    let credit = exact.by_key.remove(key).unwrap_or_default();
                    row(key.clone(), credit)
                })
                .collect(),
            Vec::new(),
        ),
        None => (
            Vec::new(),
            std::mem::take(&mut exact.by_key)
                .into_iter()
                .map(|(key, credit)| row(key, credit))
                .collect(),
        ),
    };
    ProgramResult {
        measures: vec![measure("conversions", 1, k), measure("value", units, kv)],
        tables: vec![
            ResultTable {
                output: OUTPUT.into(),
                key_columns: params.breakdown.clone(),
                measures: vec![0, 1],
                column_names: Vec::new(),
                rows,
                discovered,
                discovers_keys: params.keys.is_none(),
            },
            ResultTable {
                output: UNATTRIBUTED_OUTPUT.into(),
                key_columns: Vec::new(),
                measures: vec![0, 1],
                column_names: Vec::new(),
                rows: vec![row(Vec::new(), exact.unattributed)],
                discovered: Vec::new(),
                discovers_keys: false,
            },
        ],
        rows_per_person: rules.max_conversions,
    }
}
