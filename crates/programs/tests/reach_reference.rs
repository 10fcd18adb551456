//! `reach_frequency` against an independent reference on hand-made edge cases and random
//! data from several seeds.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::DatasetTerms;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_programs::reach::{Reach, ReachFrequency, ReachParams, reach_frequency};
use sealroom_tables::{Cell, Table};

type Rows<'a> = Vec<Vec<(&'a str, &'a str)>>;

/// Literally: every person's campaigns in byte order, the first G kept, exposures counted over
/// every publisher's rows.
fn reference(publishers: &Rows, g: usize, f: u64, declared: Option<&[&str]>) -> ReachFrequency {
    let all: Vec<(&str, &str)> = publishers.iter().flatten().copied().collect();
    let people: BTreeSet<&str> = all.iter().map(|(p, _)| *p).collect();
    let empty = || Reach {
        people: 0,
        buckets: vec![0; f as usize],
    };
    let mut by_campaign: BTreeMap<String, Reach> = BTreeMap::new();
    let mut total = empty();
    for person in people {
        let mut campaigns: Vec<&str> = all
            .iter()
            .filter(|(p, c)| *p == person && declared.is_none_or(|d| d.contains(c)))
            .map(|(_, c)| *c)
            .collect();
        campaigns.sort();
        campaigns.dedup();
        campaigns.truncate(g);
        if campaigns.is_empty() {
            continue;
        }
        let mut exposures_total = 0;
        for campaign in campaigns {
            let n = all
                .iter()
                .filter(|(p, c)| *p == person && *c == campaign)
                .count() as u64;
            exposures_total += n;
            let r = by_campaign
                .entry(campaign.to_string())
                .or_insert_with(empty);
            r.people += 1;
            r.buckets[(n.min(f) - 1) as usize] += 1;
        }
        total.people += 1;
        total.buckets[(exposures_total.min(f) - 1) as usize] += 1;
    }
    ReachFrequency { by_campaign, total }
}

fn datasets(n: usize) -> Vec<DatasetTerms> {
    (0..n)
        .map(|i| DatasetTerms {
            owner: format!("pub{i}"),
            name: "exposures".into(),
            schema: Schema {
                columns: vec![
                    Column::new("person", ColumnType::String),
                    Column::new("campaign", ColumnType::String),
                ],
                person_column: "person".into(),
            },
        })
        .collect()
}

fn run(publishers: &Rows, g: u32, f: u32, declared: Option<&[&str]>) -> ReachFrequency {
    let terms = datasets(publishers.len());
    let mut json = serde_json::json!({
        "exposures": terms.iter().map(|d| d.qualified_name()).collect::<Vec<_>>(),
        "campaign_column": "campaign", "max_frequency": f, "max_campaigns_per_person": g,
    });
    if let Some(d) = declared {
        json["campaigns"] = serde_json::json!(d);
    }
    let params: ReachParams = serde_json::from_value(json.clone()).unwrap();
    use sealroom_programs::Params;
    ReachParams::check(&json, &terms).unwrap();
    let tables: Vec<Table> = publishers
        .iter()
        .zip(&terms)
        .map(|(rows, d)| {
            let mut t = Table::new(d.schema.clone());
            for (p, c) in rows {
                t.push_row(&[Cell::Text(p), Cell::Text(c)]).unwrap();
            }
            t
        })
        .collect();
    let refs: Vec<&Table> = tables.iter().collect();
    let program = reach_frequency(&params, &refs).unwrap();
    assert_eq!(
        program,
        reference(publishers, g as usize, u64::from(f), declared)
    );
    program
}

#[test]
fn hand_made_edge_cases() {
    let publishers: Rows = vec![
        vec![
            ("everywhere", "a"),
            ("p1", "a"),
            ("p1", "a"),
            ("many", "d"),
            ("many", "c"),
        ],
        vec![
            ("everywhere", "a"),
            ("p1", "b"),
            ("many", "b"),
            ("many", "a"),
        ],
        vec![("everywhere", "a"), ("everywhere", "a"), ("p2", "b")],
    ];
    let r = run(&publishers, 2, 3, None);
    // Reached by every publisher: one person, 4 exposures, in the "3 or more" bucket.
    // p1: a twice (identical rows each count) and b once. many: a, b, c, d → only a and b.
    let a = &r.by_campaign["a"];
    assert_eq!((a.people, a.buckets.clone()), (3, vec![1, 1, 1]));
    assert!(!r.by_campaign.contains_key("c") && !r.by_campaign.contains_key("d"));
    // Total reach counts distinct people, not the sum over campaigns.
    assert_eq!(r.total.people, 4);
    assert_eq!(r.total.buckets, vec![1, 1, 2]);

    // Declared campaigns: only those count, and a declared one nobody saw is absent here
    // (the program releases it as zeros).
    let declared = run(&publishers, 2, 3, Some(&["c", "zzz"]));
    assert_eq!(declared.by_campaign.keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(declared.total.people, 1);
}

#[test]
fn random_data_from_several_seeds_matches_the_reference_exactly() {
    const PEOPLE: [&str; 12] = [
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "P1", "p1 ",
    ];
    const CAMPAIGNS: [&str; 6] = ["c1", "c10", "c2", "spring", "Spring", "c1x"];
    for seed in 0..12 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pick = |n: u64| (rng.next_u64() % n) as usize;
        let publishers: Rows = (0..2 + pick(3))
            .map(|_| {
                (0..pick(60))
                    .map(|_| (PEOPLE[pick(12)], CAMPAIGNS[pick(6)]))
                    .collect()
            })
            .collect();
        let (g, f) = (1 + pick(4) as u32, 2 + pick(4) as u32);
        run(&publishers, g, f, None);
        run(&publishers, g, f, Some(&["c2", "spring", "c1"]));
    }
}
