//! `overlap` as the built-in and as the Wasm example, over the same seeded tables (shared by
//! the equivalence test and the benchmark).
#![allow(dead_code)]

use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_core::epsilon::Epsilon;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_privacy::NoiseRng;
use sealroom_programs::overlap::{self, OverlapParams};
use sealroom_programs::wasm::WasmParams;
use sealroom_tables::{Cell, Table};
use sealroom_wasm::{
    GuestModule, Limits, RoundNoise, initial_state, module_digest, run_per_person, run_vetted,
};

/// The example module, as built reproducibly.
pub const MODULE: &[u8] = include_bytes!("../../../../examples/modules/overlap.wasm");
/// The declared groups (the last is the empty group name).
pub const GROUPS: [&str; 4] = ["c1", "c2", "c3", ""];

/// A table of string columns; the group column (`campaign`) is optional, and "" in it is an
/// empty value.
pub fn table(columns: &[&str], rows: &[Vec<String>]) -> Table {
    let mut t = Table::new(Schema {
        columns: columns
            .iter()
            .map(|c| Column {
                optional: *c == "campaign",
                ..Column::new(*c, ColumnType::String)
            })
            .collect(),
        person_column: "id".into(),
    });
    for row in rows {
        let cells: Vec<Cell> = row
            .iter()
            .map(|v| {
                if v.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(v)
                }
            })
            .collect();
        t.push_row(&cells).unwrap();
    }
    t
}

/// Seeded people: some only left, some only right, some in both; several rows each, groups
/// declared and not, repeated rows.
pub fn tables(people: u64, seed: u64) -> (Table, Table) {
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for p in 0..people {
        let id = format!("person-{p}");
        if next(4) != 0 {
            for _ in 0..=next(4) {
                let group = ["c1", "c2", "c3", "", "undeclared"][next(5) as usize];
                left.push(vec![group.to_string(), id.clone()]);
            }
        }
        if next(3) != 0 {
            for _ in 0..=next(2) {
                right.push(vec![id.clone()]);
            }
        }
    }
    (table(&["campaign", "id"], &left), table(&["id"], &right))
}

pub fn privacy(max_groups: u32) -> PrivacyTerms {
    PrivacyTerms {
        // The largest ε: each count is noised with probability below 10^-100.
        epsilon_per_run: Epsilon::from_f64(1_000.0).unwrap(),
        delta_per_run: 1e-9,
        total_epsilon_per_dataset: Epsilon::from_f64(1_000.0).unwrap(),
        max_groups_per_person: max_groups,
        max_rows_per_person_per_group: 1,
        max_rows_per_person: max_groups,
        min_aggregation: 0,
        noise: NoiseMechanism::DiscreteLaplace,
    }
}

/// The agreement terms the example expects, for `max_groups` groups per person, per person.
pub fn wasm_params(max_groups: u32) -> WasmParams {
    serde_json::from_value(serde_json::json!({
        "name": "overlap",
        "module": module_digest(MODULE),
        "mode": "per_person",
        "inputs": ["a/left", "b/right"],
        "fuel_per_call": 10_000_000,
        "memory_bytes": 1 << 20,
        "params": [0.0, f64::from(max_groups)],
        "groups": GROUPS,
        "coordinates": ["people_in_both"],
        "norm": "l1",
        "bound": f64::from(max_groups),
        "units": 1,
        "rounds": 1,
        "output": "overlap",
    }))
    .unwrap()
}

/// The same terms in the vetted mode: one call over everyone (fuel and memory for it), both
/// owners' review, and the answer's L1 sensitivity stated as `max_groups`.
pub fn vetted_params(max_groups: u32) -> WasmParams {
    let mut params = wasm_params(max_groups);
    params.mode = sealroom_programs::wasm::Mode::Vetted;
    params.fuel_per_call = 100_000_000_000;
    params.memory_bytes = 1 << 30;
    params.reviewed_by = vec!["a".into(), "b".into()];
    params
}

/// The built-in's parameters.
pub fn builtin_params() -> OverlapParams {
    OverlapParams {
        left: "a/left".into(),
        right: "b/right".into(),
        group_column: "campaign".into(),
        groups: Some(GROUPS.iter().map(|g| g.to_string()).collect()),
    }
}

/// The built-in's exact counts per declared group.
pub fn builtin(left: &Table, right: &Table, max_groups: u32) -> Vec<i64> {
    let result = overlap::run(&builtin_params(), left, right, &privacy(max_groups)).unwrap();
    let (cells, _) = result.cells();
    GROUPS
        .iter()
        .map(|g| cells.iter().find(|(k, _)| k == g).map_or(0, |(_, v)| *v))
        .collect()
}

/// The example, compiled with the limits of `params`.
fn compiled(params: &WasmParams) -> GuestModule {
    let limits = Limits {
        fuel_per_call: params.fuel_per_call,
        memory_bytes: params.memory_bytes,
    };
    GuestModule::compile("overlap", MODULE, &params.module, limits).unwrap()
}

/// The example, compiled.
pub fn guest(max_groups: u32) -> GuestModule {
    compiled(&wasm_params(max_groups))
}

/// The example's noised sums per declared group (its noise negligible under [`privacy`]).
pub fn wasm(left: &Table, right: &Table, max_groups: u32) -> Vec<i64> {
    wasm_with(&guest(max_groups), left, right, max_groups)
}

/// The same with `guest` compiled already.
pub fn wasm_with(guest: &GuestModule, left: &Table, right: &Table, max_groups: u32) -> Vec<i64> {
    let params = wasm_params(max_groups);
    let noise = RoundNoise::size(&params, &privacy(max_groups)).unwrap();
    let state = initial_state(guest, &params).unwrap();
    run_per_person(
        guest,
        &params,
        vec![left, right],
        state,
        &noise,
        &mut NoiseRng::from_test_seed(1),
    )
    .unwrap()
    .sums
}

/// The example's noised answer per declared group in the vetted mode (its noise negligible
/// under [`privacy`]).
pub fn vetted_with(guest: &GuestModule, left: &Table, right: &Table, max_groups: u32) -> Vec<i64> {
    let params = vetted_params(max_groups);
    let noise = RoundNoise::size(&params, &privacy(max_groups)).unwrap();
    initial_state(guest, &params).unwrap();
    run_vetted(
        guest,
        &params,
        vec![left, right],
        &noise,
        &mut NoiseRng::from_test_seed(1),
    )
    .unwrap()
    .sums
}

/// The example compiled with the vetted mode's limits.
pub fn vetted_guest(max_groups: u32) -> GuestModule {
    compiled(&vetted_params(max_groups))
}
