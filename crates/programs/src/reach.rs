//! `reach_frequency`: the combined, de-duplicated reach of several publishers' audiences, and
//! how often people were exposed.
//!
//! N exposure tables from N owners (N ≥ 2), one row per exposure. People are matched across
//! publishers byte for byte. Each person's exposures across all publishers are counted per
//! campaign; if a person has more than G campaigns (`max_campaigns_per_person`) only the first
//! G in key order (UTF-8 bytes) count, anywhere. With declared campaigns only those are counted.
//! Per campaign: people reached, and people by number of exposures in buckets 1, 2, …, F−1 and
//! ≥ F (`max_frequency`). In total (output `reach_total`, one row): distinct people reached
//! (not the sum over campaigns) and the same histogram of each person's exposures over their
//! counted campaigns. Every row is an event; only people are de-duplicated.
//!
//! One person adds 1 to the reach and 1 to one bucket of at most G campaign rows and of the
//! total row: all these cells are one measure, `people`, with L1 sensitivity 2(G + 1).

use std::collections::{BTreeMap, HashMap, HashSet};

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_core::schema::ColumnType;
use sealroom_tables::{Table, TableError};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::columns::{column, dataset, same_people};
use crate::people::{ByPerson, People};
use crate::program::{Params, Plan, Program, ProgramInfo};
use crate::result::{Measure, ProgramResult, ResultRow, ResultTable};

/// Program id.
pub const ID: &str = "reach_frequency";
/// Program version.
pub const VERSION: u32 = 1;
/// The output per campaign.
pub const OUTPUT: &str = "reach";
/// The output in total: one row.
pub const TOTAL_OUTPUT: &str = "reach_total";
/// The largest F.
pub const MAX_FREQUENCY: u32 = 100;

/// Parameters of `reach_frequency`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachParams {
    /// The publishers' exposure datasets (`owner/dataset`), at least two.
    pub exposures: Vec<String>,
    /// The string column naming the campaign, in every exposure dataset.
    pub campaign_column: String,
    /// F: the last frequency bucket holds people exposed F times or more.
    pub max_frequency: u32,
    /// G: campaigns counted per person (the first G in key order).
    pub max_campaigns_per_person: u32,
    /// The campaigns to report, in order; absent to discover them through the noisy threshold.
    #[serde(default)]
    pub campaigns: Option<Vec<String>>,
}

impl Params for ReachParams {
    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.exposures.len() < 2 {
            return Err("exposures must name at least two publishers' datasets".into());
        }
        let mut found: Vec<&DatasetTerms> = Vec::new();
        for (i, name) in p.exposures.iter().enumerate() {
            if p.exposures[..i].contains(name) {
                return Err(format!("exposures lists {name:?} twice"));
            }
            let d = dataset(datasets, name, "exposures")?;
            column(
                d,
                &p.campaign_column,
                "campaign_column",
                &[ColumnType::String],
                false,
            )?;
            if let Some(&first) = found.first() {
                same_people(first, d)?;
            }
            found.push(d);
        }
        if !(2..=MAX_FREQUENCY).contains(&p.max_frequency) {
            return Err(format!("max_frequency must be from 2 to {MAX_FREQUENCY}"));
        }
        if !(1..=crate::columns::MAX_CONVERSIONS_PER_PERSON).contains(&p.max_campaigns_per_person) {
            return Err(format!(
                "max_campaigns_per_person must be from 1 to {}",
                crate::columns::MAX_CONVERSIONS_PER_PERSON
            ));
        }
        crate::matching::Groups::from_param(p.campaigns.as_ref())
            .map_err(|e| e.replace("groups", "campaigns"))?;
        Ok(p)
    }

    fn inputs(&self) -> Vec<String> {
        self.exposures.clone()
    }
}

/// Reach and the frequency histogram of one campaign, or of the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Distinct people.
    pub people: u64,
    /// People by exposures: `buckets[i]` holds those with i + 1 exposures, the last ≥ F.
    pub buckets: Vec<u64>,
}

impl Reach {
    fn new(f: u32) -> Self {
        Self {
            people: 0,
            buckets: vec![0; f as usize],
        }
    }

    fn add(&mut self, exposures: u64, f: u32) {
        self.people += 1;
        let bucket = exposures.clamp(1, u64::from(f)) as usize - 1;
        self.buckets[bucket] += 1;
    }
}

/// The exact answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachFrequency {
    /// Per campaign with at least one counted person, by campaign.
    pub by_campaign: BTreeMap<String, Reach>,
    /// Over all counted campaigns.
    pub total: Reach,
}

/// Computes reach and frequency exactly over the publishers' tables.
pub fn reach_frequency(
    params: &ReachParams,
    tables: &[&Table],
) -> Result<ReachFrequency, TableError> {
    // Campaigns numbered in key (byte) order; with declared campaigns, only those.
    let mut names: Vec<&str> = match &params.campaigns {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => {
            let mut seen: Vec<&str> = Vec::new();
            let mut known: HashSet<&str, ahash::RandomState> = HashSet::default();
            for table in tables {
                for campaign in table.text(&params.campaign_column)?.iter() {
                    if known.insert(campaign) {
                        seen.push(campaign);
                    }
                }
            }
            seen
        }
    };
    names.sort_unstable();
    names.dedup();
    let rank: HashMap<&str, u32, ahash::RandomState> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u32))
        .collect();
    // Every counted exposure as (person, campaign number), grouped by person; each person's
    // campaigns are then sorted, so each campaign's exposures come together, in key order,
    // counted by run length.
    let mut people = People::default();
    let (mut persons, mut campaign_of): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    for table in tables {
        let campaigns = table.text(&params.campaign_column)?;
        for (row, person) in people.ids(table)?.into_iter().enumerate() {
            if let Some(&c) = rank.get(campaigns.get(row)) {
                persons.push(person);
                campaign_of.push(c);
            }
        }
    }
    // Rows of every table together are numbered with 32 bits.
    if persons.len() > u32::MAX as usize {
        return Err(TableError::TooManyRows(persons.len()));
    }
    let by_person = ByPerson::new(&persons, people.len());
    drop(persons);
    let f = params.max_frequency;
    let mut result = ReachFrequency {
        by_campaign: BTreeMap::new(),
        total: Reach::new(f),
    };
    let mut counts: Vec<Reach> = names.iter().map(|_| Reach::new(f)).collect();
    let g = params.max_campaigns_per_person as usize;
    let mut seen: Vec<u32> = Vec::new();
    for person in 0..people.len() as u32 {
        let rows = by_person.rows(person);
        if rows.is_empty() {
            continue;
        }
        seen.clear();
        seen.extend(rows.iter().map(|&row| campaign_of[row as usize]));
        seen.sort_unstable();
        let (mut kept, mut total) = (0, 0);
        let mut at = 0;
        while at < seen.len() {
            let campaign = seen[at];
            let run = seen[at..].partition_point(|&c| c == campaign);
            if kept < g {
                counts[campaign as usize].add(run as u64, f);
                total += run as u64;
                kept += 1;
            }
            at += run;
        }
        result.total.add(total, f);
    }
    for (name, reach) in names.iter().zip(counts) {
        if reach.people > 0 {
            result.by_campaign.insert((*name).to_string(), reach);
        }
    }
    Ok(result)
}

/// The `reach_frequency` program.
#[derive(Debug, Clone, Copy)]
pub struct ReachProgram;

impl Program for ReachProgram {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "de-duplicated reach across several publishers, per campaign and in total, with the frequency histogram (1, 2, …, F−1, ≥ F); G campaigns per person",
            params: "exposures = [\"owner/dataset\", …] (≥ 2), campaign_column, max_frequency = F, max_campaigns_per_person = G, campaigns = [\"…\"] (optional)",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        Plan::with_outputs::<ReachParams>(params, datasets, &[OUTPUT, TOTAL_OUTPUT])
    }

    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        _privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        let p = ReachParams::check(params, datasets).map_err(ProgramError::BadParameters)?;
        if inputs.len() != p.exposures.len() {
            return Err(ProgramError::TooManyInputs {
                expected: p.exposures.len(),
                given: inputs.len(),
            });
        }
        Ok(result(&p, reach_frequency(&p, inputs)?))
    }
}

/// The column names: `reach`, `frequency_1` … `frequency_{F−1}`, `frequency_{F}_or_more`.
pub fn column_names(f: u32) -> Vec<String> {
    std::iter::once("reach".to_string())
        .chain((1..f).map(|i| format!("frequency_{i}")))
        .chain(std::iter::once(format!("frequency_{f}_or_more")))
        .collect()
}

/// The exact answer as two tables of one measure.
pub fn result(params: &ReachParams, mut exact: ReachFrequency) -> ProgramResult {
    let f = params.max_frequency;
    let g = u64::from(params.max_campaigns_per_person);
    let cells = 2 * (g + 1);
    let measure = Measure {
        name: "people".into(),
        units: 1,
        l1_sensitivity: cells,
        l2_sensitivity: (cells as f64).sqrt().ceil() as u64,
        per_cell_sensitivity: 1,
    };
    let fit = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let row = |key: Vec<String>, r: &Reach| ResultRow {
        key,
        values: std::iter::once(r.people)
            .chain(r.buckets.iter().copied())
            .map(fit)
            .collect(),
    };
    let empty = Reach::new(f);
    let (rows, discovered) = match &params.campaigns {
        Some(list) => (
            list.iter()
                .map(|c| row(vec![c.clone()], exact.by_campaign.get(c).unwrap_or(&empty)))
                .collect(),
            Vec::new(),
        ),
        None => (
            Vec::new(),
            std::mem::take(&mut exact.by_campaign)
                .into_iter()
                .map(|(c, r)| row(vec![c], &r))
                .collect(),
        ),
    };
    let width = f as usize + 1;
    let table =
        |output: &str, key_columns: Vec<String>, rows, discovered, discovers_keys| ResultTable {
            output: output.into(),
            key_columns,
            measures: vec![0; width],
            column_names: column_names(f),
            rows,
            discovered,
            discovers_keys,
        };
    ProgramResult {
        measures: vec![measure],
        tables: vec![
            table(
                OUTPUT,
                vec![params.campaign_column.clone()],
                rows,
                discovered,
                params.campaigns.is_none(),
            ),
            table(
                TOTAL_OUTPUT,
                Vec::new(),
                vec![row(Vec::new(), &exact.total)],
                Vec::new(),
                false,
            ),
        ],
        rows_per_person: params.max_campaigns_per_person,
    }
}
