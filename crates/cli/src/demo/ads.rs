//! The demo's ad-measurement story: an ad platform, an advertiser and two more publishers run
//! last-touch attribution, a lift study and cross-publisher reach over synthetic data, each in
//! its own sealed room. The advertiser opens every result; the demo, which made the data, puts
//! the truth next to each released value and its error bar.

use anyhow::{Context, bail};
use sealroom_core::agreement::NoiseMechanism;
use sealroom_core::output::{DerivedFigure, ReleasedTable};
use sealroom_crypto::Identity;
use sealroom_host::JobStatus;
use serde::Serialize;

use super::{DemoOptions, Deployment, RoomDataset};
use crate::synth::agreement::{Room, file_stem, room_toml};
use crate::synth::{self, AdsOptions, FileFormat};

/// Campaigns in the synthetic data.
const CAMPAIGNS: u32 = 4;
/// The conversion-rate lift the synthetic data is generated with, in percent.
const TRUE_LIFT_PERCENT: f64 = 15.0;
/// The ad studies' population, per person of the demo's overlap data: enough people that the
/// error bars are small next to the values.
const PEOPLE_PER_DEMO_PERSON: u64 = 10;
/// The publishers besides the ad platform, each a party with its own exposure log.
const PUBLISHERS: [&str; 2] = ["newsroom", "streamer"];

/// One study: a program in its own room, run once and opened by the advertiser.
#[derive(Debug, Clone, Serialize)]
pub struct AdStudy {
    /// The program.
    pub program: String,
    /// The question it answers.
    pub question: String,
    /// The room's agreement id.
    pub agreement_id: String,
    /// Which party's data went in: `owner/dataset`.
    pub inputs: Vec<String>,
    /// The job.
    pub job_id: String,
    /// Job latency, in milliseconds.
    pub job_millis: u128,
    /// The released tables next to the truth.
    pub tables: Vec<StudyTable>,
}

/// A released table next to the exact answer on the same data.
#[derive(Debug, Clone, Serialize)]
pub struct StudyTable {
    /// The output's name.
    pub output: String,
    /// Key column names.
    pub key_columns: Vec<String>,
    /// Value columns, with their noise.
    pub columns: Vec<StudyColumn>,
    /// Rows, in released order.
    pub rows: Vec<StudyRow>,
    /// Figures the isolate derived from the noisy values (lift with its interval).
    pub derived: Vec<DerivedFigure>,
}

/// A value column of a released table.
#[derive(Debug, Clone, Serialize)]
pub struct StudyColumn {
    /// Its name.
    pub name: String,
    /// Values are in 1/`units` (100 for money in cents).
    pub units: u64,
    /// 95% of released values lie within this distance of the exact one.
    pub error_bound_95: u64,
    /// 99% of released values lie within this distance of the exact one.
    pub error_bound_99: u64,
}

/// One released row with the exact values.
#[derive(Debug, Clone, Serialize)]
pub struct StudyRow {
    /// The key.
    pub key: Vec<String>,
    /// The released, noisy values.
    pub released: Vec<i64>,
    /// The exact values of the same bounded query (only the demo, having made the data, knows).
    pub truth: Vec<i64>,
}

/// The whole story.
#[derive(Debug, Clone, Serialize)]
pub struct AdStory {
    /// People in the synthetic population.
    pub people: u64,
    /// The conversion-rate lift the data was generated with, in percent.
    pub true_lift_percent: f64,
    /// The conversion-rate lift of the people actually drawn, in percent (the sample's own).
    pub sample_lift_percent: Option<f64>,
    /// Attribution, lift and reach, in that order.
    pub studies: Vec<AdStudy>,
}

/// A study's program, question and which party holds which generated dataset.
struct Plan {
    program: &'static str,
    question: &'static str,
    holdings: Vec<(&'static str, &'static str, &'static str)>,
}

fn plans() -> [Plan; 3] {
    [
        Plan {
            program: "attribution",
            question: "Which campaigns get the credit for the advertiser's conversions? (last touch: a click within 7 days wins over a view within 1 day; at most 3 conversions per person, each counted up to 500.00)",
            holdings: vec![
                ("adplatform", "touches", "platform/touches"),
                ("advertiser", "conversions", "advertiser/conversions"),
            ],
        },
        Plan {
            program: "lift",
            question: "Did the ads cause extra conversions? (a randomised holdout: the control arm saw no ads)",
            holdings: vec![
                ("adplatform", "study", "platform/study"),
                ("advertiser", "conversions", "advertiser/conversions"),
            ],
        },
        Plan {
            program: "reach_frequency",
            question: "How many distinct people did each campaign reach across three publishers, and how often? (people matched across publishers; at most 3 campaigns per person)",
            holdings: vec![
                ("adplatform", "exposures", "publisher1/exposures"),
                ("newsroom", "exposures", "publisher2/exposures"),
                ("streamer", "exposures", "publisher3/exposures"),
            ],
        },
    ]
}

/// Generates the data, adds the publishers to `d`, and runs the three studies.
pub fn run(
    d: &mut Deployment,
    options: &DemoOptions,
    step: &dyn Fn(&str),
) -> anyhow::Result<AdStory> {
    let out = d.dir.join("ads");
    let people = u64::from(options.people) * PEOPLE_PER_DEMO_PERSON;
    step(
        "generating synthetic ad data with known truth (touches, a holdout study, conversions, three publishers' exposures)",
    );
    synth::ads(
        &AdsOptions {
            people,
            campaigns: CAMPAIGNS,
            publishers: 3,
            seed: options.seed,
            true_lift_percent: TRUE_LIFT_PERCENT,
            format: FileFormat::Parquet,
            out: out.clone(),
        },
        &|_| {},
    )?;
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("truth.json"))?)?;
    step("two more publishers, newsroom and streamer, join with their own key brokers");
    for publisher in PUBLISHERS {
        d.add_party(publisher, &options.executables)?;
    }
    let mut studies = Vec::new();
    for plan in plans() {
        step(&format!("sealed room for {}", plan.program));
        studies.push(study(d, &truth, &out, &plan, step)?);
    }
    Ok(AdStory {
        people,
        true_lift_percent: TRUE_LIFT_PERCENT,
        sample_lift_percent: sample_lift(&truth["lift"]["tables"]),
        studies,
    })
}

/// The conversion-rate lift of the test arm over control in the truth file's `lift` table.
fn sample_lift(tables: &serde_json::Value) -> Option<f64> {
    let table = tables.as_array()?.iter().find(|t| t["output"] == "lift")?;
    let column = |name: &str| table["columns"].as_array()?.iter().position(|c| c == name);
    let (people, converters) = (column("people")?, column("converters")?);
    let rate = |arm: &str| {
        let row = table["rows"]
            .as_array()?
            .iter()
            .find(|r| r["key"][0] == arm)?;
        let n = row["values"][people].as_f64()?;
        (n > 0.0).then(|| row["values"][converters].as_f64().map(|c| c / n))?
    };
    let (test, control) = (rate("test")?, rate("control")?);
    (control > 0.0).then(|| 100.0 * (test / control - 1.0))
}

/// Opens a room for `plan`, runs it once as the advertiser and opens the outputs.
fn study(
    d: &Deployment,
    truth: &serde_json::Value,
    data: &std::path::Path,
    plan: &Plan,
    step: &dyn Fn(&str),
) -> anyhow::Result<AdStudy> {
    let mut names: Vec<&str> = plan.holdings.iter().map(|(owner, _, _)| *owner).collect();
    if !names.contains(&"advertiser") {
        names.push("advertiser");
    }
    let parties: Vec<&Identity> = names
        .iter()
        .map(|n| d.party(n).map(|p| &p.identity))
        .collect::<anyhow::Result<_>>()?;
    let toml = room_toml(
        truth,
        plan.program,
        NoiseMechanism::DiscreteLaplace,
        &Room {
            parties: &parties,
            holdings: &plan.holdings,
            reader: "advertiser",
        },
        &d.measurement,
    )?;
    let files: Vec<RoomDataset<'_>> = plan
        .holdings
        .iter()
        .map(|(owner, name, source)| {
            (
                *owner,
                *name,
                synth::file(data, &file_stem(source), FileFormat::Parquet),
            )
        })
        .collect();
    let agreement = d.open_room(&toml, plan.program, &files, &|_| {})?;
    step(&format!(
        "the advertiser runs {} and opens its outputs",
        plan.program
    ));
    let advertiser = d.party("advertiser")?;
    let started = std::time::Instant::now();
    let job = d.run_agreement(&agreement, advertiser)?;
    let job_millis = started.elapsed().as_millis();
    if job.status != JobStatus::Finished {
        bail!(
            "the {} job did not finish: {:?}",
            plan.program,
            job.error.map(|e| e.message)
        );
    }
    let released = d.open_outputs(advertiser, &agreement, &job)?;
    let tables = released
        .iter()
        .map(|t| next_to_truth(t, &truth[plan.program]["tables"]))
        .collect::<anyhow::Result<_>>()?;
    Ok(AdStudy {
        program: plan.program.into(),
        question: plan.question.into(),
        agreement_id: agreement.id.to_string(),
        inputs: plan
            .holdings
            .iter()
            .map(|(owner, name, _)| format!("{owner}/{name}"))
            .collect(),
        job_id: job.job_id.to_string(),
        job_millis,
        tables,
    })
}

/// A released table with each row's exact values from the truth file's `tables`.
fn next_to_truth(table: &ReleasedTable, truth: &serde_json::Value) -> anyhow::Result<StudyTable> {
    let exact = truth
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["output"] == table.output.as_str()))
        .with_context(|| format!("the truth file has no table {}", table.output))?;
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if exact["columns"] != serde_json::json!(names) {
        bail!(
            "{}: the truth file's columns {} are not the released {names:?}",
            table.output,
            exact["columns"]
        );
    }
    let rows = table
        .rows
        .iter()
        .map(|row| {
            let values = exact["rows"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["key"] == serde_json::json!(row.key)))
                .map(|r| r["values"].clone())
                .with_context(|| format!("{}: no exact row for {:?}", table.output, row.key))?;
            let truth: Vec<i64> = serde_json::from_value(values)?;
            if truth.len() != row.values.len() {
                bail!(
                    "{}: {:?} has {} exact values for {} released",
                    table.output,
                    row.key,
                    truth.len(),
                    row.values.len()
                );
            }
            Ok(StudyRow {
                key: row.key.clone(),
                released: row.values.clone(),
                truth,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(StudyTable {
        output: table.output.clone(),
        key_columns: table.key_columns.clone(),
        columns: table
            .columns
            .iter()
            .map(|c| StudyColumn {
                name: c.name.clone(),
                units: c.noise.units,
                error_bound_95: c.noise.error_bound_95,
                error_bound_99: c.noise.error_bound_99,
            })
            .collect(),
        rows,
        derived: table.derived.clone(),
    })
}
