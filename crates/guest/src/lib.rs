//! Write a sealroom program in Rust, compile it to `wasm32-unknown-unknown`, and the sealed
//! room runs it with differential privacy enforced by the platform.
//!
//! A per-person program implements [`PerPerson`] and exports it with [`per_person_program!`]:
//!
//! ```
//! use sealroom_guest::{PerPerson, Person};
//!
//! /// Counts each person's rows in the first dataset, capped at 10.
//! struct CountRows;
//!
//! impl PerPerson for CountRows {
//!     fn contribute(person: &Person<'_>) -> Vec<f64> {
//!         vec![person.datasets[0].len().min(10) as f64]
//!     }
//! }
//!
//! sealroom_guest::per_person_program!(CountRows);
//! ```
//!
//! The isolate calls `contribute` once per person, in a fresh instance, with that person's rows
//! from each input; it clamps the returned vector to the agreement's norm bound, sums it over
//! people and adds noise. `update` then sees only the noised sums. Nothing a guest keeps in
//! memory survives from one person to the next, and nothing it computes leaves the room except
//! through those noised sums.
//!
//! A program that every owner has reviewed can instead run in the **vetted** mode: it
//! implements [`Vetted`], sees every person's rows in one call and answers the whole output,
//! exported with [`vetted_program!`] (or [`vetted_entry_point!`] beside a per-person program).
//! The platform adds noise sized from the sensitivity the agreement states.
//!
//! The entry points and their byte format are in [`abi`] and
//! `docs/formats.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;

use std::cell::RefCell;

pub use abi::{Cell, Joined, Person, Rows};

/// A program run once per person; what leaves the room is the noised sum of its contributions.
pub trait PerPerson {
    /// The state before the first round, from the agreement's public parameters (no data).
    /// None by default.
    fn init(params: &[f64]) -> Vec<f64> {
        let _ = params;
        Vec::new()
    }

    /// One person's contribution: one number per (group, coordinate), group by group, as many
    /// as the agreement declares. Clamped by the platform to the declared norm bound; numbers
    /// that are not finite count as 0.
    fn contribute(person: &Person<'_>) -> Vec<f64>;

    /// The next state, from the previous state and the noised sums of this round's
    /// contributions (in whole units). Unchanged by default.
    fn update(round: u32, params: &[f64], state: &[f64], sums: &[f64]) -> Vec<f64> {
        let _ = (round, params, sums);
        state.to_vec()
    }
}

/// A program run once over the whole joined tables, in the vetted mode: every owner of an input
/// reviewed it, and the agreement states how far one person can move its answer; the platform
/// adds noise sized from that statement. Nothing it computes leaves except that noised answer.
pub trait Vetted {
    /// The answer: one number per (group, coordinate), group by group, as many as the agreement
    /// declares; numbers that are not finite count as 0.
    fn analyze(joined: &Joined<'_>) -> Vec<f64>;
}

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `sealroom_input`: makes room for the next call's input and returns its address.
#[doc(hidden)]
pub fn input(len: i32) -> i32 {
    INPUT.with_borrow_mut(|input| {
        input.clear();
        input.resize(usize::try_from(len).unwrap_or(0), 0);
        input.as_mut_ptr() as usize as i32
    })
}

/// Runs `f` on the last input and returns its output's packed address and length.
fn answer(f: impl FnOnce(&[u8]) -> Vec<f64>) -> i64 {
    let numbers = INPUT.with_borrow(|input| f(input));
    let mut writer = abi::Writer::new();
    writer.f64s(&numbers);
    OUTPUT.with_borrow_mut(|output| {
        *output = writer.into_bytes();
        abi::pack(output.as_ptr() as usize as u32, output.len() as u32)
    })
}

/// `sealroom_init` for `P`.
#[doc(hidden)]
pub fn init<P: PerPerson>() -> i64 {
    answer(|input| {
        let mut r = abi::Reader::new(input);
        let params = r.f64s("params").expect("the isolate sends valid input");
        P::init(&params)
    })
}

/// `sealroom_contribute` for `P`.
#[doc(hidden)]
pub fn contribute<P: PerPerson>() -> i64 {
    answer(|input| P::contribute(&Person::decode(input).expect("the isolate sends valid input")))
}

/// `sealroom_update` for `P`.
#[doc(hidden)]
pub fn update<P: PerPerson>() -> i64 {
    answer(|input| {
        let mut r = abi::Reader::new(input);
        let round = r.u32("round").expect("the isolate sends valid input");
        let [params, state, sums] = ["params", "state", "sums"]
            .map(|what| r.f64s(what).expect("the isolate sends valid input"));
        P::update(round, &params, &state, &sums)
    })
}

/// `sealroom_analyze` for `V`.
#[doc(hidden)]
pub fn analyze<V: Vetted>() -> i64 {
    answer(|input| V::analyze(&Joined::decode(input).expect("the isolate sends valid input")))
}

/// Exports a [`Vetted`] type's `sealroom_analyze` beside a [`per_person_program!`], so that one
/// module runs in either mode.
#[macro_export]
macro_rules! vetted_entry_point {
    ($program:ty) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_analyze() -> i64 {
            $crate::analyze::<$program>()
        }
    };
}

/// The entry points every module exports: `sealroom_abi_version` and `sealroom_input`.
#[doc(hidden)]
#[macro_export]
macro_rules! common_entry_points {
    () => {
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_abi_version() -> i32 {
            $crate::abi::ABI_VERSION
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_input(len: i32) -> i32 {
            $crate::input(len)
        }
    };
}

/// Exports a [`Vetted`] type as the module's entry points (`sealroom_abi_version`,
/// `sealroom_input`, `sealroom_init` answering no state, `sealroom_analyze`).
#[macro_export]
macro_rules! vetted_program {
    ($program:ty) => {
        $crate::common_entry_points!();
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_init() -> i64 {
            $crate::no_state()
        }
        $crate::vetted_entry_point!($program);
    };
}

/// `sealroom_init` of a vetted program: no state.
#[doc(hidden)]
pub fn no_state() -> i64 {
    answer(|_| Vec::new())
}

/// Exports a [`PerPerson`] type as the module's entry points (`sealroom_abi_version`,
/// `sealroom_input`, `sealroom_init`, `sealroom_contribute`, `sealroom_update`).
#[macro_export]
macro_rules! per_person_program {
    ($program:ty) => {
        $crate::common_entry_points!();
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_init() -> i64 {
            $crate::init::<$program>()
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_contribute() -> i64 {
            $crate::contribute::<$program>()
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn sealroom_update() -> i64 {
            $crate::update::<$program>()
        }
    };
}
