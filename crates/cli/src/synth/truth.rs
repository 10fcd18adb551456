//! `truth.json`: each program's parameters for the generated data and its exact answer.

use serde::Serialize;
use serde_json::json;

use sealroom_core::agreement::DatasetTerms;
use sealroom_party::source::read_table;
use sealroom_programs::{ProgramResult, attribution, lift, reach};
use sealroom_tables::Table;

use super::write::{self, FileSchema};
use super::{AdsOptions, DAY_MICROS, PERIOD_DAYS, PERIOD_START, file};

/// One program's parameters (as an agreement's `[program] params`, over datasets named
/// `platform/touches`, `platform/study`, `advertiser/conversions` and `publisher<N>/exposures`)
/// and its exact tables.
#[derive(Debug, Serialize)]
pub struct ProgramTruth {
    /// The parameters.
    pub params: serde_json::Value,
    /// The exact tables, as released tables would hold them without noise.
    pub tables: Vec<serde_json::Value>,
}

/// The whole file.
#[derive(Debug, Serialize)]
pub struct Truth {
    /// `sealroom-synth-truth/v1`.
    pub format: &'static str,
    /// People generated.
    pub people: u64,
    /// Seed.
    pub seed: u64,
    /// The conversion-rate lift the data was generated with, in percent.
    pub true_lift_percent: f64,
    /// `attribution` v1.
    pub attribution: ProgramTruth,
    /// `lift` v1.
    pub lift: ProgramTruth,
    /// `reach_frequency` v1.
    pub reach_frequency: ProgramTruth,
}

/// The datasets as an agreement names them.
pub fn datasets(publishers: u32) -> Vec<DatasetTerms> {
    let terms = |owner: String, name: &str, file: FileSchema| DatasetTerms {
        owner,
        name: name.into(),
        schema: write::schema(file),
    };
    let mut all = vec![
        terms("platform".into(), "touches", write::TOUCHES),
        terms("platform".into(), "study", write::STUDY),
        terms("advertiser".into(), "conversions", write::CONVERSIONS),
    ];
    all.extend(
        (1..=publishers).map(|p| terms(format!("publisher{p}"), "exposures", write::EXPOSURES)),
    );
    all
}

/// The programs' parameters for data generated with `options`.
pub fn params(options: &AdsOptions) -> [serde_json::Value; 3] {
    let campaigns: Vec<String> = (0..options.campaigns).map(|c| format!("c{c:03}")).collect();
    let keys: Vec<Vec<String>> = campaigns.iter().map(|c| vec![c.clone()]).collect();
    let end = PERIOD_START * 1_000_000 + (PERIOD_DAYS + 10) * DAY_MICROS;
    [
        json!({
            "touches": "platform/touches", "conversions": "advertiser/conversions",
            "touch_time": "at", "touch_kind": "kind", "breakdown": ["campaign"],
            "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
            "click_window": "7d", "view_window": "1d",
            "max_conversions_per_person": 3, "max_value": "500.00", "keys": keys,
        }),
        json!({
            "study": "platform/study", "conversions": "advertiser/conversions", "arm_column": "arm",
            "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
            "study_start": write::rfc3339(PERIOD_START * 1_000_000),
            "study_end": write::rfc3339(end),
            "max_conversions_per_person": 3, "max_value": "500.00",
        }),
        json!({
            "exposures": (1..=options.publishers).map(|p| format!("publisher{p}/exposures")).collect::<Vec<_>>(),
            "campaign_column": "campaign", "max_frequency": 5, "max_campaigns_per_person": 3,
            "campaigns": campaigns,
        }),
    ]
}

fn tables(result: &ProgramResult) -> Vec<serde_json::Value> {
    result
        .tables
        .iter()
        .map(|t| {
            let columns: Vec<&str> = t
                .measures
                .iter()
                .enumerate()
                .map(|(i, &m)| {
                    t.column_names
                        .get(i)
                        .map_or(result.measures[m].name.as_str(), String::as_str)
                })
                .collect();
            let rows: Vec<_> = t
                .rows
                .iter()
                .chain(&t.discovered)
                .map(|r| json!({ "key": r.key, "values": r.values }))
                .collect();
            json!({ "output": t.output, "key_columns": t.key_columns, "columns": columns, "rows": rows })
        })
        .collect()
}

/// Reads the generated files and runs each program on them without noise.
pub fn compute(options: &AdsOptions) -> anyhow::Result<Truth> {
    let terms = datasets(options.publishers);
    let load = |name: &str, file_schema: FileSchema| -> anyhow::Result<Table> {
        let path = file(&options.out, name, options.format);
        Ok(read_table(
            &path,
            options.format.source(),
            &write::schema(file_schema),
        )?)
    };
    let touches = load("touches", write::TOUCHES)?;
    let study = load("study", write::STUDY)?;
    let conversions = load("conversions", write::CONVERSIONS)?;
    let [attribution_json, lift_json, reach_json] = params(options);

    let a: attribution::AttributionParams = serde_json::from_value(attribution_json.clone())?;
    let rules = a.rules(&terms).map_err(anyhow::Error::msg)?;
    let exact = attribution::attribute(&a, &rules, &touches, &conversions)?;
    let attribution_result = attribution::result(&a, &rules, exact, 100);
    drop(touches);

    let l: lift::LiftParams = serde_json::from_value(lift_json.clone())?;
    let rules = l.rules(&terms).map_err(anyhow::Error::msg)?;
    let lift_result = lift::result(&rules, lift::measure(&l, &rules, &study, &conversions)?);
    drop((study, conversions));

    let r: reach::ReachParams = serde_json::from_value(reach_json.clone())?;
    let exposures = (1..=options.publishers)
        .map(|p| load(&format!("exposures_{p}"), write::EXPOSURES))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let refs: Vec<&Table> = exposures.iter().collect();
    let reach_result = reach::result(&r, reach::reach_frequency(&r, &refs)?);

    Ok(Truth {
        format: "sealroom-synth-truth/v1",
        people: options.people,
        seed: options.seed,
        true_lift_percent: options.true_lift_percent,
        attribution: ProgramTruth {
            params: attribution_json,
            tables: tables(&attribution_result),
        },
        lift: ProgramTruth {
            params: lift_json,
            tables: tables(&lift_result),
        },
        reach_frequency: ProgramTruth {
            params: reach_json,
            tables: tables(&reach_result),
        },
    })
}
