//! Seeded synthetic data for the demo: ad exposures and purchases.

use std::fmt::Write as _;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The demo's campaigns.
pub const CAMPAIGNS: [&str; 4] = [
    "spring-tv",
    "summer-social",
    "autumn-search",
    "winter-video",
];

/// Two CSV files: `user_id,campaign` exposures and `user_id,amount_cents` purchases.
#[derive(Debug, Clone, Default)]
pub struct DemoData {
    /// The ad platform's exposures.
    pub exposures_csv: String,
    /// The advertiser's purchases.
    pub purchases_csv: String,
}

/// A number below `n`.
pub(crate) fn below(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    // Demo data only: a tiny modulo bias is irrelevant here.
    rng.next_u32() % n
}

/// Generates `people` users: each sees 0 to 3 campaigns; buying is likelier after some campaigns.
pub fn generate(people: u32, seed: u64) -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut exposures = String::from("user_id,campaign\n");
    let mut purchases = String::from("user_id,amount_cents\n");
    for id in 0..people {
        let user = format!("u{id:07}");
        let mut lift = 5;
        for (i, campaign) in CAMPAIGNS.iter().enumerate() {
            if below(&mut rng, 100) < [40, 30, 20, 10][i] {
                // Some people are shown the same campaign several times.
                for _ in 0..=below(&mut rng, 3) {
                    writeln!(exposures, "{user},{campaign}").expect("string write");
                }
                lift += [10, 4, 15, 2][i];
            }
        }
        if below(&mut rng, 100) < lift {
            for _ in 0..=below(&mut rng, 2) {
                writeln!(purchases, "{user},{}", 500 + below(&mut rng, 20_000))
                    .expect("string write");
            }
        }
    }
    DemoData {
        exposures_csv: exposures,
        purchases_csv: purchases,
    }
}

/// Exactly `rows` exposure rows and `rows` purchase rows over overlapping users, for benchmarks.
pub fn generate_rows(rows: u32, seed: u64) -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let users = (rows * 7 / 10).max(1);
    let mut exposures = String::from("user_id,campaign\n");
    let mut purchases = String::from("user_id,amount_cents\n");
    for _ in 0..rows {
        let campaign = CAMPAIGNS[below(&mut rng, CAMPAIGNS.len() as u32) as usize];
        writeln!(exposures, "u{:07},{campaign}", below(&mut rng, users)).expect("string write");
        writeln!(
            purchases,
            "u{:07},{}",
            below(&mut rng, 2 * users),
            500 + below(&mut rng, 20_000)
        )
        .expect("string write");
    }
    DemoData {
        exposures_csv: exposures,
        purchases_csv: purchases,
    }
}
