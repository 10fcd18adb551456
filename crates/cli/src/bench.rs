//! End-to-end measurements behind `sealroom bench`.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::ids::{Digest, Measurement};
use sealroom_crypto::envelope::{DEFAULT_CHUNK_SIZE, HeaderParams};
use sealroom_crypto::{DataKey, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, Identity};
use sealroom_host::JobStatus;
use serde::Serialize;

use crate::demo::{DemoOptions, DemoPrivacy, Deployment, data};

/// Throughputs of one `bench seal` run, in bytes per second, measured in the same process.
#[derive(Debug, Clone, Serialize)]
pub struct SealBench {
    /// Plaintext size.
    pub bytes: u64,
    /// Raw AES-256-GCM over 64 KiB buffers in place: the physical limit.
    pub raw_aead: f64,
    /// The envelope writer, memory to memory.
    pub envelope_seal: f64,
    /// The envelope reader, memory to memory.
    pub envelope_open: f64,
    /// `sealroom seal` on files: read, CSV schema check of every row, encrypt, write.
    pub seal_file: f64,
    /// Opening that envelope file and reading it to the end.
    pub open_file: f64,
    /// Peak resident memory of this process (VmHWM), in bytes.
    pub peak_rss: u64,
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64()
}

fn raw_aead(bytes: u64) -> f64 {
    let cipher = Aes256Gcm::new(DataKey::generate().expose().into());
    let mut buf = vec![7u8; DEFAULT_CHUNK_SIZE as usize];
    let chunks = bytes.div_ceil(buf.len() as u64);
    let start = Instant::now();
    for i in 0..chunks {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&i.to_be_bytes());
        let tag = cipher.encrypt_in_place_detached(Nonce::from_slice(&nonce), b"aad", &mut buf).expect("encrypts");
        std::hint::black_box(tag);
    }
    rate(chunks * buf.len() as u64, start.elapsed())
}

fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Writes a CSV of about `bytes` bytes for the demo's exposures schema, streaming.
fn write_csv(path: &Path, bytes: u64) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"user_id,campaign\n")?;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < bytes {
        let line = format!("u{:09},{}\n", i % 10_000_000, data::CAMPAIGNS[(i % 4) as usize]);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    out.flush()?;
    Ok(())
}

fn bench_agreement(owner: &Identity, other: &Identity) -> anyhow::Result<SignedAgreement> {
    let toml = crate::demo::agreement_toml(owner, other, &Measurement([0; 32]), DemoPrivacy::default());
    Ok(SignedAgreement::unsigned(sealroom_core::agreement::Agreement::from_toml(&toml, &sealroom_programs::BuiltinCatalog)?))
}

/// Measures sealing and opening `bytes` of CSV, in `dir`; `progress` is told the phase.
pub fn seal(bytes: u64, dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<SealBench> {
    let owner = Identity::generate("adplatform", Some("http://127.0.0.1:1".into()))?;
    let other = Identity::generate("advertiser", Some("http://127.0.0.1:2".into()))?;
    let agreement = bench_agreement(&owner, &other)?;

    progress("raw AES-256-GCM");
    let raw = raw_aead(bytes.min(2 << 30));

    progress("envelope, memory to memory");
    let card = owner.card();
    let params = HeaderParams { owner: &card, dataset: "exposures", schema_digest: Digest([0; 32]), chunk_size: DEFAULT_CHUNK_SIZE };
    let key = DataKey::generate();
    let header = EnvelopeHeader::new(&params, &key)?;
    let block = vec![b'x'; 8 << 20];
    let in_memory = bytes.min(1 << 30);
    let mut sealed = Vec::with_capacity(in_memory as usize + (in_memory as usize / DEFAULT_CHUNK_SIZE as usize + 1) * 16 + 4096);
    let start = Instant::now();
    let mut writer = EnvelopeWriter::new(&mut sealed, &header, &key)?;
    let mut left = in_memory;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        writer.write_all(&block[..n])?;
        left -= n as u64;
    }
    writer.finish()?;
    let envelope_seal = rate(in_memory, start.elapsed());
    let start = Instant::now();
    let mut input = std::io::Cursor::new(&sealed);
    let (h, digest) = EnvelopeHeader::read_from(&mut input)?;
    let opened = std::io::copy(&mut EnvelopeReader::new(input, &h, digest, &key), &mut std::io::sink())?;
    let envelope_open = rate(opened, start.elapsed());
    drop(sealed);

    progress("writing the CSV input");
    let csv = dir.join("bench-input.csv");
    write_csv(&csv, bytes)?;
    let plain_size = std::fs::metadata(&csv)?.len();
    progress("sealroom seal on files");
    let out = dir.join("bench-input.envelope");
    let start = Instant::now();
    crate::owner::seal_dataset(&owner, &agreement, "exposures", &csv, &out, None, Box::new(|_| {}))?;
    let seal_file = rate(plain_size, start.elapsed());
    std::fs::remove_file(&csv)?;

    progress("opening the envelope file");
    let start = Instant::now();
    let mut file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&out)?);
    let (h, digest) = EnvelopeHeader::read_from(&mut file)?;
    let mut wrapped = sealroom_crypto::open_sealed(
        owner.hpke_secret(),
        &h.wrapped_key,
        sealroom_core::labels::ENVELOPE_KEY,
        &sealroom_crypto::envelope::wrap_aad(&h.owner_fingerprint, &h.dataset, &h.schema_digest),
    )?;
    let file_key = DataKey::from_bytes(wrapped.as_slice().try_into().context("key length")?);
    zeroize::Zeroize::zeroize(&mut *wrapped);
    let mut reader = EnvelopeReader::new(file, &h, digest, &file_key);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let open_file = rate(total, start.elapsed());
    std::fs::remove_file(&out)?;
    Ok(SealBench { bytes: plain_size, raw_aead: raw, envelope_seal, envelope_open, seal_file, open_file, peak_rss: peak_rss() })
}

/// Latency of jobs over two datasets, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct JobBench {
    /// Rows per dataset.
    pub rows: u32,
    /// Runs measured.
    pub runs: usize,
    /// Median.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Fastest.
    pub min_ms: f64,
}

/// Runs `runs` jobs (after 3 warm-up runs) over two datasets of `rows` rows each and measures
/// each from the run request to the stored sealed output.
pub fn jobs(options: &DemoOptions, rows: u32, runs: usize, progress: &dyn Fn(&str)) -> anyhow::Result<JobBench> {
    let privacy = DemoPrivacy { epsilon_per_run: 0.001, total_epsilon: 1000.0 };
    let d = Deployment::start(options, privacy, data::generate_rows(rows, options.seed), progress)?;
    progress("measuring jobs");
    let mut millis = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let start = Instant::now();
        let record = d.run_job()?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if record.status != JobStatus::Finished {
            return Err(crate::remote::job_failed(&record));
        }
        if i >= 3 {
            millis.push(elapsed);
        }
    }
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() as f64 * q).ceil() as usize).clamp(1, millis.len()) - 1];
    Ok(JobBench { rows, runs, median_ms: at(0.5), p95_ms: at(0.95), min_ms: millis[0] })
}
