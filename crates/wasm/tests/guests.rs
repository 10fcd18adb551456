//! Guests written to misbehave, in WebAssembly text: each must gain nothing or fail with the
//! limit it broke, named; and vetted guests, whose answers are noised at the stated
//! sensitivity and thresholded.

use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_core::epsilon::Epsilon;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_guest::abi::{self, Person, Rows, Writer};
use sealroom_privacy::NoiseRng;
use sealroom_programs::wasm::{Mode, WasmParams};
use sealroom_tables::{Cell, Table};
use sealroom_wasm::release::released_table;
use sealroom_wasm::{
    GuestModule, GuestRun, Limits, RoundNoise, WasmError, initial_state, module_digest,
    run_per_person, run_vetted,
};

/// A module following the ABI: input at 1024, answers written at 0, `init` answering no
/// state, with `entry_points` (functions whose bodies leave the answer's packed address and
/// length on the stack, calling `$answer`) and whatever else the module needs.
fn module(entry_points: &str, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 1)
            {extra}
            (func (export "sealroom_abi_version") (result i32) i32.const 2)
            (func (export "sealroom_input") (param i32) (result i32) i32.const 1024)
            ;; An answer of n numbers at 0: packed as address 0, length 4 + 8n.
            (func $answer (param $n i32) (result i64)
                (i32.store (i32.const 0) (local.get $n))
                (i64.shl (i64.extend_i32_u (i32.add (i32.const 4) (i32.mul (local.get $n) (i32.const 8))))
                         (i64.const 32)))
            (func (export "sealroom_init") (result i64) (call $answer (i32.const 0)))
            {entry_points}
        )"#
    ))
    .expect("valid text")
}

/// A per-person module whose `contribute` and `update` are the given bodies.
fn guest(contribute: &str, update: &str, extra: &str) -> Vec<u8> {
    module(
        &format!(
            r#"(func (export "sealroom_contribute") (result i64) {contribute})
               (func (export "sealroom_update") (result i64) {update})"#
        ),
        extra,
    )
}

/// The first cell of the first dataset's first row, when there are no parameters: round (4),
/// params (4), state (4 + 8 per number), datasets (4), columns (4), rows (4), then tag (1) and
/// value.
const FIRST_VALUE: &str =
    "(i64.load (i32.add (i32.const 1049) (i32.mul (i32.const 8) (i32.load (i32.const 1032)))))";

fn limits() -> Limits {
    Limits {
        fuel_per_call: 1_000_000,
        memory_bytes: 1 << 20,
    }
}

fn compile(bytes: &[u8]) -> Result<GuestModule, WasmError> {
    GuestModule::compile("test-guest", bytes, &module_digest(bytes), limits())
}

fn params(groups: &[&str], rounds: u32, state_names: &[&str]) -> WasmParams {
    serde_json::from_value(serde_json::json!({
        "name": "test-guest",
        "module": "00".repeat(32),
        "mode": "per_person",
        "inputs": ["o/d"],
        "fuel_per_call": 1_000_000,
        "memory_bytes": 1 << 20,
        "groups": groups,
        "coordinates": ["value"],
        "norm": "l1",
        "bound": 1000.0,
        "units": 1,
        "rounds": rounds,
        "output": "out",
        "state_names": state_names,
    }))
    .unwrap()
}

fn privacy(noise: NoiseMechanism) -> PrivacyTerms {
    PrivacyTerms {
        epsilon_per_run: Epsilon::from_f64(1.0).unwrap(),
        delta_per_run: 1e-9,
        total_epsilon_per_dataset: Epsilon::from_f64(10.0).unwrap(),
        max_groups_per_person: 1,
        max_rows_per_person_per_group: 1,
        max_rows_per_person: 1,
        min_aggregation: 0,
        noise,
    }
}

/// One row per (person, value).
fn table(rows: &[(&str, i64)]) -> Table {
    let mut t = Table::new(Schema {
        columns: vec![
            Column::new("value", ColumnType::Integer),
            Column::new("person", ColumnType::String),
        ],
        person_column: "person".into(),
    });
    for (person, value) in rows {
        t.push_row(&[Cell::Number(*value), Cell::Text(person)])
            .unwrap();
    }
    t
}

/// A contribution call's input for one person with one row holding `value`.
fn one_row(value: i64) -> Vec<u8> {
    let mut w = Writer::new();
    Person::write_header(&mut w, 0, &[], &[], 1);
    Rows::write_header(&mut w, 2, 1);
    w.cell(abi::Cell::Number(value))
        .cell(abi::Cell::Text("someone"));
    Person::write_groups(&mut w, &["all"]);
    w.into_bytes()
}

/// Contributes [what it remembered from the previous person, its own value], then remembers
/// its own value in a global and in memory; `update` answers what it remembers.
fn leaky() -> Vec<u8> {
    guest(
        &format!(
            "(f64.store (i32.const 4) (f64.convert_i64_s (global.get $seen)))
             (f64.store (i32.const 12) (f64.convert_i64_s {FIRST_VALUE}))
             (global.set $seen {FIRST_VALUE})
             (i64.store (i32.const 512) {FIRST_VALUE})
             (call $answer (i32.const 2))"
        ),
        "(f64.store (i32.const 4) (f64.convert_i64_s (global.get $seen)))
         (f64.store (i32.const 12) (f64.convert_i64_s (i64.load (i32.const 512))))
         (call $answer (i32.const 2))",
        "(global $seen (mut i64) (i64.const 0))",
    )
}

#[test]
fn a_guest_cannot_carry_one_persons_rows_into_anothers_contribution() {
    let guest = compile(&leaky()).unwrap();
    let alone = guest.call(abi::EXPORT_CONTRIBUTE, &one_row(5)).unwrap();
    for a in [1, 999, -7] {
        let after_a = guest.call(abi::EXPORT_CONTRIBUTE, &one_row(a)).unwrap();
        assert_eq!(after_a, [0.0, a as f64], "A's own contribution");
        let b = guest.call(abi::EXPORT_CONTRIBUTE, &one_row(5)).unwrap();
        assert_eq!(b, alone, "B's contribution after A = {a}");
        assert_eq!(b, [0.0, 5.0]);
    }
}

#[test]
fn a_guest_cannot_carry_rows_into_the_next_rounds_state() {
    let guest = compile(&leaky()).unwrap();
    let params = params(&["remembered", "own"], 3, &["global", "memory"]);
    let noise = RoundNoise::size(&params, &privacy(NoiseMechanism::DiscreteLaplace)).unwrap();
    let run = |a: i64| {
        let data = table(&[("A", a), ("B", 5), ("C", 6)]);
        let state = initial_state(&guest, &params).unwrap();
        run_per_person(
            &guest,
            &params,
            vec![&data],
            state,
            &noise,
            &mut NoiseRng::from_test_seed(3),
        )
        .unwrap()
    };
    let (small, large) = (run(1), run(999));
    // What the guest remembered is gone before `update` runs, every round.
    assert_eq!(small.state, [0.0, 0.0]);
    assert_eq!(large.state, [0.0, 0.0]);
    // The same noise in both runs: the "remembered" sums are equal (nothing was carried), the
    // own sums differ by exactly A's change.
    assert_eq!(small.sums[0], large.sums[0]);
    assert_eq!(large.sums[1] - small.sums[1], 998);
}

fn assert_fails_with(bytes: &[u8], check: impl Fn(&WasmError) -> bool) -> String {
    let guest = compile(bytes).unwrap();
    let params = params(&["g"], 1, &[]);
    let noise = RoundNoise::size(&params, &privacy(NoiseMechanism::DiscreteGaussian)).unwrap();
    let data = table(&[("A", 1), ("B", 2)]);
    let state = initial_state(&guest, &params).unwrap();
    let error = run_per_person(
        &guest,
        &params,
        vec![&data],
        state,
        &noise,
        &mut NoiseRng::from_os(),
    )
    .expect_err("the guest must fail");
    assert!(check(&error), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("test-guest"), "{message}");
    message
}

#[test]
fn a_guest_that_loops_forever_runs_out_of_fuel() {
    let message = assert_fails_with(
        &guest(
            "(loop $forever (br $forever)) (unreachable)",
            "(unreachable)",
            "",
        ),
        |e| {
            matches!(
                e,
                WasmError::OutOfFuel {
                    export: "sealroom_contribute",
                    fuel: 1_000_000,
                    ..
                }
            )
        },
    );
    assert!(
        message.contains("ran out of fuel (limit: 1000000 per call)"),
        "{message}"
    );
}

#[test]
fn a_guest_that_grows_memory_without_bound_hits_the_memory_limit() {
    let message = assert_fails_with(
        &guest(
            "(loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
             (unreachable)",
            "(unreachable)",
            "",
        ),
        |e| {
            matches!(
                e,
                WasmError::MemoryLimit {
                    limit: 1_048_576,
                    ..
                }
            )
        },
    );
    assert!(
        message.contains("past the limit (1048576 bytes)"),
        "{message}"
    );
    // A module that asks for more memory than the limit at the start cannot be instantiated.
    let big = wat::parse_str(
        r#"(module (memory (export "memory") 100)
            (func (export "sealroom_abi_version") (result i32) i32.const 2)
            (func (export "sealroom_input") (param i32) (result i32) i32.const 0)
            (func (export "sealroom_init") (result i64) i64.const 0)
            (func (export "sealroom_contribute") (result i64) i64.const 0))"#,
    )
    .unwrap();
    let error = compile(&big).unwrap_err();
    assert!(matches!(error, WasmError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("past the limit"), "{error}");
}

#[test]
fn a_guest_that_traps_fails_the_run() {
    let message = assert_fails_with(&guest("(unreachable)", "(unreachable)", ""), |e| {
        matches!(
            e,
            WasmError::Trap {
                export: "sealroom_contribute",
                ..
            }
        )
    });
    assert!(message.contains("unreachable"), "{message}");
    // Dividing by zero, reading out of bounds: traps too.
    assert_fails_with(
        &guest(
            "(drop (i32.div_u (i32.const 1) (i32.const 0))) (unreachable)",
            "(unreachable)",
            "",
        ),
        |e| matches!(e, WasmError::Trap { trap, .. } if trap.contains("divide by zero")),
    );
    assert_fails_with(
        &guest(
            "(drop (i32.load (i32.const 100000000))) (unreachable)",
            "(unreachable)",
            "",
        ),
        |e| matches!(e, WasmError::Trap { trap, .. } if trap.contains("out of bounds")),
    );
}

#[test]
fn a_guest_answering_the_wrong_number_of_numbers_fails_the_run() {
    let message = assert_fails_with(
        &guest("(call $answer (i32.const 3))", "(unreachable)", ""),
        |e| matches!(e, WasmError::BadAnswer { .. }),
    );
    // How many it answered is the guest's choice after seeing a person: not repeated.
    assert!(
        message.contains("returned not the 1 numbers the agreement declares"),
        "{message}"
    );
    assert!(!message.contains('3'), "{message}");
    // An answer pointing outside memory, however long it claims to be.
    for packed in ["-1", "0x7fffffff00000000", "0x00000008ffffffff"] {
        let message = assert_fails_with(
            &guest(&format!("(i64.const {packed})"), "(unreachable)", ""),
            |e| matches!(e, WasmError::BadAnswer { .. }),
        );
        assert!(
            message.contains("an answer outside its memory"),
            "{message}"
        );
    }
}

#[test]
fn a_module_with_other_bytes_than_the_agreement_names_is_refused_before_it_is_compiled() {
    let bytes = leaky();
    let mut other = bytes.clone();
    other.push(0);
    let error =
        GuestModule::compile("test-guest", &other, &module_digest(&bytes), limits()).unwrap_err();
    assert!(
        matches!(error, WasmError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&module_digest(&bytes)));
}

#[test]
fn a_module_that_imports_anything_or_breaks_the_abi_is_refused() {
    for (text, expect) in [
        (
            r#"(module (import "wasi_snapshot_preview1" "clock_time_get" (func)))"#,
            "imports wasi_snapshot_preview1::clock_time_get",
        ),
        (r#"(module)"#, "no 32-bit memory"),
        (
            r#"(module (memory (export "memory") 1))"#,
            "does not export sealroom_abi_version",
        ),
    ] {
        let error = compile(&wat::parse_str(text).unwrap()).unwrap_err();
        assert!(error.to_string().contains(expect), "{error}");
    }
    let version_1 = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "sealroom_abi_version") (result i32) i32.const 1)
            (func (export "sealroom_input") (param i32) (result i32) i32.const 0)
            (func (export "sealroom_init") (result i64) i64.const 0)
            (func (export "sealroom_contribute") (result i64) i64.const 0))"#,
    )
    .unwrap();
    let error = compile(&version_1).unwrap_err();
    assert!(
        error.to_string().contains("speaks ABI version 1"),
        "{error}"
    );
    let error = compile(b"not wasm").unwrap_err();
    assert!(error.to_string().contains("does not compile"), "{error}");
}

/// A vetted module whose `analyze` is the given body, and no `contribute`.
fn vetted_guest(analyze: &str) -> Vec<u8> {
    module(
        &format!(r#"(func (export "sealroom_analyze") (result i64) {analyze})"#),
        "",
    )
}

/// The vetted terms over `o/d`, owned by `o`, who reviewed the program; the answer's stated L1
/// sensitivity is `bound`.
fn vetted_params(groups: &[&str], bound: f64) -> WasmParams {
    let mut p = params(groups, 1, &[]);
    p.mode = Mode::Vetted;
    p.bound = bound;
    p.reviewed_by = vec!["o".into()];
    p
}

fn run_vetted_once(
    guest: &GuestModule,
    params: &WasmParams,
    privacy: &PrivacyTerms,
    seed: u64,
) -> Result<GuestRun, WasmError> {
    let noise = RoundNoise::size(params, privacy)?;
    initial_state(guest, params)?;
    let data = table(&[("A", 1), ("B", 2), ("A", 3), ("C", 4)]);
    run_vetted(
        guest,
        params,
        vec![&data],
        &noise,
        &mut NoiseRng::from_test_seed(seed),
    )
}

/// The answer [how many people the guest was given]: the count after params (4 bytes), the one
/// group "g" (4 + 4 + 1) and the dataset count (4).
const PEOPLE_GIVEN: &str = "(f64.store (i32.const 4) (f64.convert_i32_u (i32.load (i32.const 1041)))) (call $answer (i32.const 1))";

#[test]
fn a_vetted_guest_sees_everyone_in_one_call_and_its_answer_is_noised() {
    let guest = compile(&vetted_guest(PEOPLE_GIVEN)).unwrap();
    let params = vetted_params(&["g"], 1.0);
    let mut terms = privacy(NoiseMechanism::DiscreteLaplace);
    terms.epsilon_per_run = Epsilon::from_f64(1000.0).unwrap();
    // A, B and C: three people, A's two rows joined.
    let run = run_vetted_once(&guest, &params, &terms, 1).unwrap();
    assert_eq!(run.sums, [3]);
    // At ε = 1 the platform's noise shows: over many runs the released answers scatter around
    // 3 with the stated variance.
    let terms = privacy(NoiseMechanism::DiscreteLaplace);
    let stated = RoundNoise::size(&params, &terms).unwrap();
    let released: Vec<f64> = (0..3_000)
        .map(|seed| run_vetted_once(&guest, &params, &terms, seed).unwrap().sums[0] as f64)
        .collect();
    let n = released.len() as f64;
    let mean = released.iter().sum::<f64>() / n;
    let variance = released.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let expected = stated.mechanism.variance();
    assert!(
        (mean - 3.0).abs() < 5.0 * (expected / n).sqrt(),
        "mean {mean}"
    );
    assert!(
        (variance / expected - 1.0).abs() < 0.2,
        "variance {variance}, stated {expected}"
    );
}

#[test]
fn a_vetted_answer_is_noised_at_the_stated_sensitivity_not_clamped() {
    // The platform cannot bound a vetted answer; the sensitivity the owners reviewed sizes the
    // noise, and the answer is released as given, noised.
    let guest = compile(&vetted_guest(
        "(f64.store (i32.const 4) (f64.const 1e6)) (call $answer (i32.const 1))",
    ))
    .unwrap();
    let mut terms = privacy(NoiseMechanism::DiscreteLaplace);
    terms.epsilon_per_run = Epsilon::from_f64(1000.0).unwrap();
    let run = run_vetted_once(&guest, &vetted_params(&["g"], 1.0), &terms, 1).unwrap();
    assert_eq!(run.sums, [1_000_000]);
    let wide = run_vetted_once(&guest, &vetted_params(&["g"], 50.0), &terms, 1).unwrap();
    assert_eq!(wide.noise.l1_sensitivity, 50);
    assert!(wide.noise.mechanism.variance() > run.noise.mechanism.variance());
}

#[test]
fn a_vetted_guest_fails_with_the_limit_it_broke() {
    let params = vetted_params(&["g"], 1.0);
    let terms = privacy(NoiseMechanism::DiscreteLaplace);
    let fails = |analyze: &str| {
        let guest = compile(&vetted_guest(analyze)).unwrap();
        let error = run_vetted_once(&guest, &params, &terms, 1).expect_err("the guest must fail");
        assert!(error.to_string().contains("test-guest"), "{error}");
        error
    };
    let error = fails("(loop $forever (br $forever)) (unreachable)");
    assert!(
        matches!(
            error,
            WasmError::OutOfFuel {
                export: "sealroom_analyze",
                fuel: 1_000_000,
                ..
            }
        ),
        "{error:?}"
    );
    let error = fails(
        "(loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
         (unreachable)",
    );
    assert!(
        matches!(
            error,
            WasmError::MemoryLimit {
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    // An input larger than the memory the agreement gives the guest.
    let guest = compile(&vetted_guest(PEOPLE_GIVEN)).unwrap();
    let many: Vec<(String, i64)> = (0..70_000).map(|i| (format!("p{i}"), i)).collect();
    let many: Vec<(&str, i64)> = many.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    let data = table(&many);
    let error = run_vetted(
        &guest,
        &params,
        vec![&data],
        &RoundNoise::size(&params, &terms).unwrap(),
        &mut NoiseRng::from_test_seed(1),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            WasmError::MemoryLimit {
                export: "sealroom_analyze",
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    let error = fails("(unreachable)");
    assert!(
        matches!(
            error,
            WasmError::Trap {
                export: "sealroom_analyze",
                ..
            }
        ),
        "{error:?}"
    );
    // The wrong length: named by what the agreement declares, never by what the guest chose
    // after seeing the data.
    let error = fails("(call $answer (i32.const 3))");
    assert!(matches!(error, WasmError::BadAnswer { .. }), "{error:?}");
    assert!(!error.to_string().contains('3'), "{error}");
}

#[test]
fn a_module_without_the_modes_entry_point_is_refused_before_any_data() {
    // A per-person module run as vetted, and a vetted module run per person: refused by
    // `initial_state`, which the isolate calls before it asks for any key.
    let per_person = compile(&leaky()).unwrap();
    let error = initial_state(&per_person, &vetted_params(&["g"], 1.0)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the vetted mode calls sealroom_analyze, which the module does not export"),
        "{error}"
    );
    let vetted = compile(&vetted_guest(PEOPLE_GIVEN)).unwrap();
    let error = initial_state(&vetted, &params(&["g"], 1, &[])).unwrap_err();
    assert!(
        error.to_string().contains(
            "the per_person mode calls sealroom_contribute, which the module does not export"
        ),
        "{error}"
    );
}

#[test]
fn groups_under_the_threshold_are_withheld_from_the_released_table() {
    // Answers 2 for "small" and 50 for "large"; the agreement withholds groups under 10.
    let guest = compile(&vetted_guest(
        "(f64.store (i32.const 4) (f64.const 2)) (f64.store (i32.const 12) (f64.const 50))
         (call $answer (i32.const 2))",
    ))
    .unwrap();
    let mut params = vetted_params(&["small", "large"], 1.0);
    params.threshold = Some(10.0);
    let mut terms = privacy(NoiseMechanism::DiscreteLaplace);
    terms.epsilon_per_run = Epsilon::from_f64(1000.0).unwrap();
    let run = run_vetted_once(&guest, &params, &terms, 1).unwrap();
    assert_eq!(run.sums, [2, 50]);
    let table = released_table(&params, &run, &terms, false).unwrap();
    let keys: Vec<&str> = table.rows.iter().map(|r| r.key[0].as_str()).collect();
    assert_eq!(keys, ["large"]);
    assert_eq!(table.columns[0].noise.threshold, Some(10));
    let facts = table.wasm.expect("the mode is on the table");
    assert_eq!(facts.mode, "vetted");
    assert_eq!(facts.reviewed_by, ["o"]);
    assert_eq!(facts.program, "test-guest");
}
