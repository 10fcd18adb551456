//! End-to-end measurements behind `sealroom bench`.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::ids::{Digest, Measurement};
use sealroom_crypto::envelope::{DEFAULT_CHUNK_SIZE, HeaderParams, new_header, read_header};
use sealroom_crypto::{DataKey, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, Identity};
use sealroom_host::JobStatus;
use serde::Serialize;

use crate::demo::{DemoOptions, DemoPrivacy, Deployment, data};

mod ads;
mod log;
mod portal;
mod sources;
mod wasm;
pub use ads::{AdsBench, ads};
pub use log::{LogBench, log};
pub use portal::{PageTime, PortalBench, portal};
pub use sources::{SourcesBench, sources};
pub use wasm::{WasmBench, WasmBenchJob, wasm};

/// Throughputs of one `bench seal` run, in bytes per second, measured in the same process.
#[derive(Debug, Clone, Serialize)]
pub struct SealBench {
    /// Plaintext size.
    pub bytes: u64,
    /// Raw AES-256-GCM in place over a buffer of the input's size (up to 256 MiB, cycled), in 64 KiB chunks.
    pub raw_aead: f64,
    /// The same in place with RustCrypto's pure-Rust `aes-gcm`, the alternative to aws-lc in the
    /// isolate (see `crates/isolate/README.md`).
    pub raw_aead_pure_rust: f64,
    /// Raw AES-256-GCM out of place (plaintext left intact, ciphertext into a second buffer): the same work a streaming sealer does.
    pub raw_aead_out_of_place: f64,
    /// The envelope writer, memory to memory.
    pub envelope_seal: f64,
    /// The envelope reader, memory to memory.
    pub envelope_open: f64,
    /// `sealroom seal` on files: read, CSV schema check of every row, encrypt, write.
    pub seal_file: f64,
    /// Opening that envelope file and reading it to the end.
    pub open_file: f64,
    /// Peak resident memory (VmHWM) after the file phases, in bytes; it must not grow with the input.
    pub peak_rss: u64,
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64()
}

/// Largest buffer the memory-to-memory phases use; larger inputs cycle through it.
const MEMORY_PHASE_BUFFER: u64 = 256 << 20;

/// Runs `seal(nonce, chunk)` over `data` in envelope-sized chunks, each with a fresh nonce,
/// cycling until `bytes` are done; returns the rate.
fn chunked_rate(data: &mut [u8], bytes: u64, mut seal: impl FnMut([u8; 12], &mut [u8])) -> f64 {
    let chunk = DEFAULT_CHUNK_SIZE as usize;
    let (mut done, mut counter) = (0u64, 0u64);
    let start = Instant::now();
    while done < bytes {
        for piece in data.chunks_mut(chunk) {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            counter += 1;
            seal(nonce, piece);
            done += piece.len() as u64;
            if done >= bytes {
                break;
            }
        }
    }
    rate(done, start.elapsed())
}

fn aws_lc_key() -> aws_lc_rs::aead::LessSafeKey {
    use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, DataKey::generate().expose()).expect("key"))
}

/// In-place AES-256-GCM (aws-lc): every byte read from memory, encrypted and written back once,
/// which is the least any sealing can do.
fn raw_aead(data: &mut [u8], bytes: u64) -> f64 {
    use aws_lc_rs::aead::{Aad, Nonce};
    let key = aws_lc_key();
    chunked_rate(data, bytes, |nonce, piece| {
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(b"aad"),
                piece,
            )
            .expect("seals");
        let _ = std::hint::black_box(tag);
    })
}

/// [`raw_aead`] with RustCrypto's pure-Rust `aes-gcm` instead of aws-lc.
fn raw_aead_pure_rust(data: &mut [u8], bytes: u64) -> f64 {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use aes_gcm::{Aes256Gcm, Nonce};
    let key = Aes256Gcm::new_from_slice(DataKey::generate().expose()).expect("a 32-byte key");
    chunked_rate(data, bytes, |nonce, piece| {
        let tag = key
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"aad", piece)
            .expect("seals");
        let _ = std::hint::black_box(tag);
    })
}

/// Out-of-place AES-256-GCM (aws-lc) from each chunk of `data` into a second buffer, leaving
/// `data` as it was: the same work a streaming sealer does.
fn raw_aead_out_of_place(data: &mut [u8], bytes: u64) -> f64 {
    use aws_lc_rs::aead::{Aad, Nonce};
    let key = aws_lc_key();
    let mut out = vec![0u8; DEFAULT_CHUNK_SIZE as usize + 16];
    chunked_rate(data, bytes, |nonce, piece| {
        let (ciphertext, tag) = out[..piece.len() + 16].split_at_mut(piece.len());
        key.seal_out_of_place_scatter(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(b"aad"),
            piece,
            ciphertext,
            &[],
            tag,
        )
        .expect("seals");
        std::hint::black_box(&out);
    })
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
        let line = format!(
            "u{:09},{}\n",
            i % 10_000_000,
            data::CAMPAIGNS[(i % 4) as usize]
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    out.flush()?;
    Ok(())
}

fn bench_agreement(owner: &Identity, other: &Identity) -> anyhow::Result<SignedAgreement> {
    let toml =
        crate::demo::agreement_toml(owner, other, &Measurement([0; 32]), DemoPrivacy::default());
    Ok(SignedAgreement::unsigned(
        sealroom_party::authoring::compile(&toml, &sealroom_programs::BuiltinCatalog)?,
    ))
}

/// Opens an envelope file with its owner's key and reads it to the end; returns plaintext bytes.
fn open_file(owner: &Identity, path: &Path) -> anyhow::Result<u64> {
    let mut file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let (header, digest) = read_header(&mut file)?;
    let key = sealroom_crypto::envelope::unwrap_own_key(owner, &header)?;
    let mut reader = EnvelopeReader::new(file, &header, digest, &key);
    Ok(std::io::copy(&mut reader, &mut std::io::sink())?)
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// The envelope writer over `data`, cycled until `bytes` are sealed, into a sink.
fn envelope_seal(
    data: &[u8],
    bytes: u64,
    header: &EnvelopeHeader,
    key: &DataKey,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut writer = EnvelopeWriter::new(std::io::sink(), header, key)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(data.len() as u64) as usize;
        writer.write_all(&data[..n])?;
        left -= n as u64;
    }
    writer.finish()?;
    Ok(rate(bytes, start.elapsed()))
}

/// The envelope reader over `sealed`, reopened until `bytes` are read, in 64 KiB reads.
fn envelope_open(sealed: &[u8], bytes: u64, key: &DataKey) -> anyhow::Result<f64> {
    let mut chunk = vec![0u8; DEFAULT_CHUNK_SIZE as usize];
    let mut opened = 0u64;
    let start = Instant::now();
    while opened < bytes {
        let mut input = std::io::Cursor::new(sealed);
        let (h, digest) = read_header(&mut input)?;
        let mut reader = EnvelopeReader::new(input, &h, digest, key);
        loop {
            let n = reader.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            opened += n as u64;
        }
    }
    Ok(rate(opened, start.elapsed()))
}

/// Measures sealing and opening `bytes` of CSV, in `dir`; `progress` is told the phase.
pub fn seal(bytes: u64, dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<SealBench> {
    let owner = Identity::generate("adplatform", Some("http://127.0.0.1:1".into()))?;
    let other = Identity::generate("advertiser", Some("http://127.0.0.1:2".into()))?;
    let agreement = bench_agreement(&owner, &other)?;

    progress("writing the CSV input");
    let csv = dir.join("bench-input.csv");
    write_csv(&csv, bytes)?;
    let plain_size = std::fs::metadata(&csv)?.len();
    progress("sealroom seal on files");
    let out = dir.join("bench-input.envelope");
    let start = Instant::now();
    sealroom_party::owner::seal_dataset(
        &owner,
        &agreement,
        "exposures",
        &csv,
        &out,
        &sealroom_party::owner::SealOptions::default(),
        SystemClock.now_millis(),
        Box::new(|_| {}),
    )?;
    let seal_file = rate(plain_size, start.elapsed());
    std::fs::remove_file(&csv)?;
    progress("opening the envelope file");
    let start = Instant::now();
    let opened = open_file(&owner, &out)?;
    let open_file = rate(opened, start.elapsed());
    std::fs::remove_file(&out)?;
    // Taken before the memory-to-memory phases, which hold whole buffers on purpose.
    let peak = peak_rss();

    progress(
        "raw AES-256-GCM (aws-lc and pure Rust) against the envelope, memory to memory, 7 interleaved rounds",
    );
    let mut data = vec![0x5au8; bytes.min(MEMORY_PHASE_BUFFER) as usize];
    let params = HeaderParams {
        owner: &owner,
        agreement: agreement.id,
        dataset: "exposures",
        schema_digest: Digest([0; 32]),
        chunk_size: DEFAULT_CHUNK_SIZE,
        sealed_at_ms: SystemClock.now_millis(),
    };
    let key = DataKey::generate();
    let header = new_header(&params, &key)?;
    let mut sealed = Vec::with_capacity(data.len() + data.len() / 1000 + 4096);
    let mut writer = EnvelopeWriter::new(&mut sealed, &header, &key)?;
    writer.write_all(&data)?;
    writer.finish()?;
    let (mut raw, mut raw_oop, mut seal, mut open) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut pure_rust = Vec::new();
    for _ in 0..7 {
        raw.push(raw_aead(&mut data, bytes));
        pure_rust.push(raw_aead_pure_rust(&mut data, bytes));
        raw_oop.push(raw_aead_out_of_place(&mut data, bytes));
        seal.push(envelope_seal(&data, bytes, &header, &key)?);
        open.push(envelope_open(&sealed, bytes, &key)?);
    }
    Ok(SealBench {
        bytes: plain_size,
        raw_aead: median(raw),
        raw_aead_pure_rust: median(pure_rust),
        raw_aead_out_of_place: median(raw_oop),
        envelope_seal: median(seal),
        envelope_open: median(open),
        seal_file,
        open_file,
        peak_rss: peak,
    })
}

/// Latency of jobs over two datasets, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct JobBench {
    /// Rows per dataset.
    pub rows: u32,
    /// Runs measured.
    pub runs: usize,
    /// The median latency, in milliseconds.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// The fastest run, in milliseconds.
    pub min_ms: f64,
}

/// Runs `runs` jobs (after 3 warm-up runs) over two datasets of `rows` rows each and measures
/// each from the run request to the stored sealed output.
pub fn jobs(
    options: &DemoOptions,
    rows: u32,
    runs: usize,
    progress: &dyn Fn(&str),
) -> anyhow::Result<JobBench> {
    let privacy = DemoPrivacy {
        epsilon_per_run: 0.001,
        total_epsilon: 1000.0,
        ..DemoPrivacy::default()
    };
    let d = Deployment::start(
        options,
        privacy,
        data::generate_rows(rows, options.seed),
        progress,
    )?;
    progress("measuring jobs");
    let mut millis = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let start = Instant::now();
        let record = d.run_job()?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        if record.status != JobStatus::Finished {
            return Err(sealroom_party::runs::failed(&record)
                .map_or_else(|| anyhow::anyhow!("the job did not finish"), Into::into));
        }
        if i >= 3 {
            millis.push(elapsed);
        }
    }
    millis.sort_by(f64::total_cmp);
    let at =
        |q: f64| millis[((millis.len() as f64 * q).ceil() as usize).clamp(1, millis.len()) - 1];
    Ok(JobBench {
        rows,
        runs,
        median_ms: at(0.5),
        p95_ms: at(0.95),
        min_ms: millis[0],
    })
}
