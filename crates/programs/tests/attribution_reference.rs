//! `attribution` against an independent reference: a straightforward reading of the rules in
//! the program's documentation, written here without the program's indexes, on hand-made edge
//! cases and on random data from several seeds.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::DatasetTerms;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_programs::attribution::{
    Attribution, AttributionParams, AttributionRules, Credit, attribute,
};
use sealroom_tables::{Cell, Table};

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

#[derive(Clone)]
struct Touch {
    person: String,
    at: i64,
    click: bool,
    key: [String; 2],
}

#[derive(Clone)]
struct Conversion {
    person: String,
    at: i64,
    kind: String,
    value: i64,
}

fn touch(person: &str, at: i64, kind: &str, campaign: &str, ad_set: &str) -> Touch {
    Touch {
        person: person.into(),
        at,
        click: kind == "click",
        key: [campaign.into(), ad_set.into()],
    }
}

fn conversion(person: &str, at: i64, kind: &str, value: i64) -> Conversion {
    Conversion {
        person: person.into(),
        at,
        kind: kind.into(),
        value,
    }
}

/// The rules read literally: for each person, their conversions sorted by (time, type,
/// value), the first K; for each, every touch of theirs checked against its window.
fn reference(
    touches: &[Touch],
    conversions: &[Conversion],
    rules: &AttributionRules,
) -> Attribution {
    let mut result = Attribution::default();
    let mut people: Vec<&str> = conversions.iter().map(|c| c.person.as_str()).collect();
    people.sort();
    people.dedup();
    for person in people {
        let mut mine: Vec<&Conversion> =
            conversions.iter().filter(|c| c.person == person).collect();
        mine.sort_by(|a, b| (a.at, &a.kind, a.value).cmp(&(b.at, &b.kind, b.value)));
        mine.truncate(rules.max_conversions as usize);
        for c in mine {
            let candidates: Vec<&Touch> = touches
                .iter()
                .filter(|t| t.person == person && t.at <= c.at)
                .filter(|t| {
                    let window = if t.click {
                        rules.click_window
                    } else {
                        rules.view_window
                    };
                    t.at >= c.at - window
                })
                .collect();
            let clicks: Vec<&Touch> = candidates.iter().copied().filter(|t| t.click).collect();
            let pool = if clicks.is_empty() {
                candidates
            } else {
                clicks
            };
            let best = pool
                .into_iter()
                .min_by(|a, b| b.at.cmp(&a.at).then_with(|| a.key.cmp(&b.key)));
            let value = c.value.max(0).min(rules.max_value);
            let credit = match best {
                Some(t) => result.by_key.entry(t.key.to_vec()).or_default(),
                None => &mut result.unattributed,
            };
            credit.conversions += 1;
            credit.value += i128::from(value);
        }
    }
    result
}

fn datasets() -> [DatasetTerms; 2] {
    let touches = Schema {
        columns: vec![
            Column::new("person", ColumnType::String),
            Column::new("at", ColumnType::Timestamp),
            Column::new("kind", ColumnType::String).one_of(["click", "view"]),
            Column::new("campaign", ColumnType::String),
            Column::new("ad_set", ColumnType::String),
        ],
        person_column: "person".into(),
    };
    let conversions = Schema {
        columns: vec![
            Column::new("person", ColumnType::String),
            Column::new("at", ColumnType::Timestamp),
            Column::new("type", ColumnType::String),
            Column::decimal("value", 2),
        ],
        person_column: "person".into(),
    };
    [
        DatasetTerms {
            owner: "platform".into(),
            name: "touches".into(),
            schema: touches,
        },
        DatasetTerms {
            owner: "shop".into(),
            name: "conversions".into(),
            schema: conversions,
        },
    ]
}

fn params(k: u32, max_value: &str) -> AttributionParams {
    serde_json::from_value(serde_json::json!({
        "touches": "platform/touches", "conversions": "shop/conversions",
        "touch_time": "at", "touch_kind": "kind", "breakdown": ["campaign", "ad_set"],
        "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
        "click_window": "7d", "view_window": "1d",
        "max_conversions_per_person": k, "max_value": max_value,
    }))
    .unwrap()
}

fn tables(touches: &[Touch], conversions: &[Conversion]) -> (Table, Table) {
    let [t, c] = datasets();
    let mut touch_table = Table::new(t.schema);
    for x in touches {
        let kind = if x.click { "click" } else { "view" };
        touch_table
            .push_row(&[
                Cell::Text(&x.person),
                Cell::Number(x.at),
                Cell::Text(kind),
                Cell::Text(&x.key[0]),
                Cell::Text(&x.key[1]),
            ])
            .unwrap();
    }
    let mut conversion_table = Table::new(c.schema);
    for x in conversions {
        conversion_table
            .push_row(&[
                Cell::Text(&x.person),
                Cell::Number(x.at),
                Cell::Text(&x.kind),
                Cell::Number(x.value),
            ])
            .unwrap();
    }
    (touch_table, conversion_table)
}

fn run(touches: &[Touch], conversions: &[Conversion], p: &AttributionParams) -> Attribution {
    let rules = p.rules(&datasets()).unwrap();
    let (t, c) = tables(touches, conversions);
    let program = attribute(p, &rules, &t, &c).unwrap();
    assert_eq!(
        program,
        reference(touches, conversions, &rules),
        "program ≠ reference"
    );
    program
}

fn credit(conversions: u64, value: i128) -> Credit {
    Credit { conversions, value }
}

fn key(campaign: &str, ad_set: &str) -> Vec<String> {
    vec![campaign.into(), ad_set.into()]
}

#[test]
fn hand_made_edge_cases() {
    let t0 = 100 * DAY;
    let p = params(2, "100.00");
    // Equal times: the smallest key wins, comparing column by column as bytes ("a","bc" < "ab","c").
    let ties = run(
        &[
            touch("p1", t0 - HOUR, "click", "ab", "c"),
            touch("p1", t0 - HOUR, "click", "a", "bc"),
        ],
        &[conversion("p1", t0, "buy", 1000)],
        &p,
    );
    assert_eq!(ties.by_key[&key("a", "bc")], credit(1, 1000));

    // A conversion before any touch, and a touch after the conversion: unattributed.
    let before = run(
        &[touch("p1", t0 + 1, "click", "c1", "s")],
        &[conversion("p1", t0, "buy", 500)],
        &p,
    );
    assert_eq!(before.unattributed, credit(1, 500));
    assert!(before.by_key.is_empty());

    // Window edges, inclusive: a click exactly 7 days before and a view exactly 1 day before
    // are candidates; a microsecond earlier they are not. A touch at the conversion instant is.
    for (touch_at, kind, attributed) in [
        (t0 - 7 * DAY, "click", true),
        (t0 - 7 * DAY - 1, "click", false),
        (t0 - DAY, "view", true),
        (t0 - DAY - 1, "view", false),
        (t0, "view", true),
        (t0, "click", true),
    ] {
        let edge = run(
            &[touch("p1", touch_at, kind, "c1", "s")],
            &[conversion("p1", t0, "buy", 100)],
            &p,
        );
        assert_eq!(
            edge.by_key.contains_key(&key("c1", "s")),
            attributed,
            "{kind} at {touch_at}"
        );
    }

    // A click outside its window but a view inside: the view wins. A click inside beats a
    // later view.
    let view_wins = run(
        &[
            touch("p1", t0 - 8 * DAY, "click", "old-click", "s"),
            touch("p1", t0 - HOUR, "view", "view", "s"),
        ],
        &[conversion("p1", t0, "buy", 100)],
        &p,
    );
    assert_eq!(
        view_wins.by_key.keys().collect::<Vec<_>>(),
        [&key("view", "s")]
    );
    let click_wins = run(
        &[
            touch("p1", t0 - 6 * DAY, "click", "click", "s"),
            touch("p1", t0 - HOUR, "view", "view", "s"),
        ],
        &[conversion("p1", t0, "buy", 100)],
        &p,
    );
    assert_eq!(
        click_wins.by_key.keys().collect::<Vec<_>>(),
        [&key("click", "s")]
    );

    // Over the cap: the earliest two by (time, type, value) are credited, the third counts
    // nowhere (neither attributed nor unattributed), even though it has a touch.
    let capped = run(
        &[touch("p1", t0 + 5 * HOUR, "click", "late", "s")],
        &[
            conversion("p1", t0 + 6 * HOUR, "buy", 700),
            conversion("p1", t0, "buy", 300),
            conversion("p1", t0, "add", 200),
        ],
        &p,
    );
    assert_eq!(capped.unattributed, credit(2, 500));
    assert!(capped.by_key.is_empty());

    // Values are clamped to [0, V]; a conversion with value ≤ 0 still counts.
    let clamped = run(
        &[touch("p1", t0 - HOUR, "click", "c", "s")],
        &[
            conversion("p1", t0, "buy", 1_000_000),
            conversion("p1", t0 + 1, "refund", -500),
        ],
        &p,
    );
    assert_eq!(clamped.by_key[&key("c", "s")], credit(2, 10_000));

    // Identical rows each count (up to the cap); only people are de-duplicated.
    let twice = run(
        &[
            touch("p1", t0 - HOUR, "view", "c", "s"),
            touch("p1", t0 - HOUR, "view", "c", "s"),
        ],
        &[
            conversion("p1", t0, "buy", 100),
            conversion("p1", t0, "buy", 100),
        ],
        &p,
    );
    assert_eq!(twice.by_key[&key("c", "s")], credit(2, 200));

    // People match byte for byte: "P1" and "p1 " are other people.
    let others = run(
        &[
            touch("P1", t0 - HOUR, "click", "c", "s"),
            touch("p1 ", t0 - HOUR, "click", "c", "s"),
        ],
        &[conversion("p1", t0, "buy", 100)],
        &p,
    );
    assert_eq!(others.unattributed, credit(1, 100));
}

#[test]
fn random_data_from_several_seeds_matches_the_reference_exactly() {
    for seed in 0..12 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pick = |n: u64| (rng.next_u64() % n) as i64;
        let people = 1 + pick(40) as u64;
        // Coarse times (whole hours over three weeks) make ties and window edges common.
        let touches: Vec<Touch> = (0..pick(600))
            .map(|_| {
                touch(
                    &format!("p{}", pick(people)),
                    100 * DAY + pick(21 * 24) * HOUR,
                    if pick(3) == 0 { "click" } else { "view" },
                    ["c1", "c2", "c10", "c2x"][pick(4) as usize],
                    ["a", "b"][pick(2) as usize],
                )
            })
            .collect();
        let conversions: Vec<Conversion> = (0..pick(300))
            .map(|_| {
                conversion(
                    &format!("p{}", pick(people + 5)),
                    100 * DAY + pick(21 * 24) * HOUR,
                    ["buy", "add"][pick(2) as usize],
                    pick(40_000) - 5_000,
                )
            })
            .collect();
        let k = 1 + pick(4) as u32;
        let result = run(&touches, &conversions, &params(k, "250.50"));
        let credited: u64 = result.by_key.values().map(|c| c.conversions).sum::<u64>()
            + result.unattributed.conversions;
        assert!(credited <= conversions.len() as u64);
    }
}

#[test]
fn parameters_are_checked_against_the_schemas() {
    let [touches, conversions] = datasets();
    let check = |json: serde_json::Value, datasets: &[DatasetTerms]| {
        let p: AttributionParams = serde_json::from_value(json).unwrap();
        p.rules(datasets)
    };
    let base = serde_json::to_value(serde_json::json!({
        "touches": "platform/touches", "conversions": "shop/conversions",
        "touch_time": "at", "touch_kind": "kind", "breakdown": ["campaign"],
        "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
        "click_window": "7d", "view_window": "1d",
        "max_conversions_per_person": 3, "max_value": "500.00",
    }))
    .unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut v = base.clone();
        v[field] = value;
        v
    };
    let all = [touches.clone(), conversions.clone()];
    assert_eq!(check(base.clone(), &all).unwrap().max_value, 50_000);
    for (json, needle) in [
        (with("max_value", "500.005".into()), "whole number"),
        (with("touch_time", "kind".into()), "timestamp"),
        (with("breakdown", serde_json::json!([])), "at least one"),
        (
            with("breakdown", serde_json::json!(["campaign", "campaign"])),
            "twice",
        ),
        (with("click_window", "7 days".into()), "duration"),
        (with("max_conversions_per_person", 0.into()), "from 1"),
        (
            with("keys", serde_json::json!([["a", "b"]])),
            "breakdown columns",
        ),
        (with("conversions", "shop/nothing".into()), "not a dataset"),
    ] {
        let err = check(json, &all).unwrap_err();
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }
    // A kind column that could hold other kinds than click and view is refused.
    let mut open_kind = touches;
    open_kind.schema.columns[2].values = None;
    let err = check(base, &[open_kind, conversions]).unwrap_err();
    assert!(err.contains("click"), "{err}");
}
