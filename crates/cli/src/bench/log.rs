//! `sealroom bench log`: durable append throughput of the transparency log, and
//! proof generation and verification times once it holds many entries.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sealroom_core::attestation::Platform;
use sealroom_core::ids::Measurement;
use sealroom_ledger::{
    CheckedEntry, LogEntry, LogSigningKey, Statement, leaf_hash, verify_consistency,
    verify_inclusion,
};
use sealroom_ledger_store::Log;
use serde::Serialize;

/// Figures of one `bench log` run.
#[derive(Debug, Clone, Serialize)]
pub struct LogBench {
    /// Entries in the log at the end.
    pub entries: u64,
    /// Appenders running at once while the log was filled.
    pub appenders: usize,
    /// Acknowledged (committed with `synchronous = FULL`) appends per second while filling, many appenders.
    pub appends_per_second: f64,
    /// Acknowledged appends per second with a single appender waiting for each answer.
    pub sequential_appends_per_second: f64,
    /// Median and 99th-percentile time to generate an inclusion proof at the final size, in microseconds.
    pub inclusion_proof_us: (f64, f64),
    /// Median and 99th-percentile time to generate a consistency proof to the final size, in microseconds.
    pub consistency_proof_us: (f64, f64),
    /// Median time to verify an inclusion proof, in microseconds.
    pub verify_inclusion_us: f64,
    /// Median time to verify a consistency proof, in microseconds.
    pub verify_consistency_us: f64,
    /// Size of the log database, in bytes.
    pub database_bytes: u64,
}

/// A signed entry, checked as the host's log API checks every entry it receives.
fn signed_entry(key: &LogSigningKey, n: u64) -> CheckedEntry {
    let mut measurement = [0u8; 32];
    measurement[..8].copy_from_slice(&n.to_be_bytes());
    let statement = Statement::RuntimePublished {
        platform: Platform::Sim,
        measurement: Measurement(measurement),
        programs: vec!["overlap@1".into()],
    };
    let bytes = LogEntry::sign(statement, key.public(), |l, b| key.sign(l, b))
        .expect("entries serialize")
        .to_bytes();
    CheckedEntry::parse(bytes).expect("an entry just signed checks")
}

fn percentiles(mut micros: Vec<f64>) -> (f64, f64) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1e6)
}

/// Fills a log in `dir` with `entries` entries from `appenders` threads, then times proofs.
pub fn log(
    entries: u64,
    appenders: usize,
    dir: &Path,
    progress: &dyn Fn(&str),
) -> anyhow::Result<LogBench> {
    let path = dir.join("bench-log.sqlite");
    let key = LogSigningKey::generate("bench.sealroom/log")?;
    let key_path = dir.join("bench-log.key");
    key.write(&key_path)?;
    let log = Arc::new(Log::open(&path, key)?);

    progress("single appender, waiting for each durable answer");
    let sequential = 500.min(entries);
    let signer = LogSigningKey::read(&key_path)?;
    let start = Instant::now();
    for n in 0..sequential {
        log.append(signed_entry(&signer, n))?;
    }
    let sequential_rate = sequential as f64 / start.elapsed().as_secs_f64();

    let next = Arc::new(AtomicU64::new(sequential));
    let start = Instant::now();
    let threads: Vec<_> = (0..appenders)
        .map(|_| {
            let (log, next, key_path) = (log.clone(), next.clone(), key_path.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let signer = LogSigningKey::read(&key_path)?;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= entries {
                        return Ok(());
                    }
                    log.append(signed_entry(&signer, n))?;
                }
            })
        })
        .collect();
    while !threads.iter().all(|t| t.is_finished()) {
        let done = next.load(Ordering::Relaxed).min(entries);
        progress(&format!("filling the log: {done} of {entries} entries"));
        std::thread::sleep(Duration::from_millis(200));
    }
    for t in threads {
        t.join().expect("appender thread")?;
    }
    let filled = entries - sequential;
    let rate = filled as f64 / start.elapsed().as_secs_f64();

    progress("timing proofs");
    let size = log.checkpoint().0;
    anyhow::ensure!(
        size == entries,
        "the log holds {size} entries, expected {entries}"
    );
    let root = {
        let note = log.checkpoint().1;
        log.verifier_key().verify_checkpoint(&note)?.root
    };
    let samples = 1000;
    let mut pick = {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        }
    };
    let (mut inclusion, mut consistency, mut verify_inc, mut verify_con) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..samples {
        let index = pick(size);
        let (proof, us) = timed(|| log.inclusion_proof(index, size));
        let proof = proof?;
        inclusion.push(us);
        let leaf = leaf_hash(&log.entry(index)?.expect("entry exists")).0;
        let (ok, us) = timed(|| verify_inclusion(&leaf, index, size, &root, &proof));
        ok?;
        verify_inc.push(us);

        let from = 1 + pick(size - 1);
        let (proof, us) = timed(|| log.consistency_proof(from, size));
        let proof = proof?;
        consistency.push(us);
        let old_root = sealroom_ledger_store::LogStore::open(&path)?.root(from)?;
        let (ok, us) = timed(|| verify_consistency(from, size, &old_root, &root, &proof));
        ok?;
        verify_con.push(us);
    }
    let database_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    Ok(LogBench {
        entries,
        appenders,
        appends_per_second: rate,
        sequential_appends_per_second: sequential_rate,
        inclusion_proof_us: percentiles(inclusion),
        consistency_proof_us: percentiles(consistency),
        verify_inclusion_us: percentiles(verify_inc).0,
        verify_consistency_us: percentiles(verify_con).0,
        database_bytes,
    })
}
