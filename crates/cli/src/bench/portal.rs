//! `sealroom bench portal`: how long the owner's portal and the public log pages take to
//! render over HTTP when the log holds many entries and the broker as many releases.
//!
//! A host and a broker with `--portal` run in this process on loopback, as the real commands
//! serve them. The log is filled with signed key-release entries of one owner (appended as the
//! log API appends them, from many threads so the writer groups commits); the broker's records
//! hold the same releases, with their exact entry bytes and log indexes, so every proof the
//! processing log checks is real. Each page is then fetched by a signed-in client, after a
//! warm-up, and timed from request to last byte.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use sealroom_broker::{Broker, BrokerConfig, BrokerStore};
use sealroom_core::attestation::Platform;
use sealroom_core::clock::{Clock, SystemClock, Timestamp};
use sealroom_core::ids::{Digest, JobId};
use sealroom_crypto::Identity;
use sealroom_host::{Host, HostConfig};
use sealroom_ledger::{CheckedEntry, KeyRelease, LogEntry, Statement};
use sealroom_party::agreement_file;
use serde::Serialize;

use crate::demo::{DemoPrivacy, agreement_toml};
use crate::services::Executables;

/// Time to render one page.
#[derive(Debug, Clone, Serialize)]
pub struct PageTime {
    /// The page's path.
    pub page: String,
    /// Median over the samples, in milliseconds.
    pub median_ms: f64,
    /// Slowest sample, in milliseconds.
    pub max_ms: f64,
    /// Bytes of HTML.
    pub bytes: usize,
}

/// Figures of one `bench portal` run.
#[derive(Debug, Clone, Serialize)]
pub struct PortalBench {
    /// Entries in the log.
    pub log_entries: u64,
    /// Releases the broker recorded (each also in the log).
    pub releases: u64,
    /// Refusals the broker recorded.
    pub refusals: u64,
    /// Samples per page.
    pub samples: usize,
    /// Per page.
    pub pages: Vec<PageTime>,
}

/// Fills a log and a broker's records with `entries` releases in `dir`, serves them, and times
/// every page `samples` times.
pub fn portal(
    entries: u64,
    samples: usize,
    dir: &Path,
    executables: &Executables,
    progress: &dyn Fn(&str),
) -> anyhow::Result<PortalBench> {
    anyhow::ensure!(entries >= 2, "fill the log with at least 2 entries");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The broker's address is in the owner's card, as agreements require; nothing calls it here.
    let owner = Identity::generate("adplatform", Some("http://127.0.0.1:9".into()))?;
    let reader = Identity::generate("advertiser", Some("http://127.0.0.1:9".into()))?;
    let key_file = dir.join("adplatform.key");
    owner.write_key_file(&key_file)?;

    progress("starting a host");
    let host = Host::open(
        &HostConfig {
            data_dir: dir.join("host"),
            isolate: executables.isolate.clone(),
            max_upload_bytes: 1 << 20,
            job_timeout: Duration::from_secs(60),
            limits: sealroom_host::runner::JobLimits::for_this_machine(),
            log_origin: None,
            tee_collateral: None,
        },
        Arc::new(SystemClock),
    )?;
    let host_url = serve(
        &runtime,
        host.clone()
            .router()
            .merge(sealroom_portal::public_log::router(host.clone())),
    )?;

    let measurement = sealroom_attest::measure_file(&executables.isolate)?;
    let toml_path = dir.join("agreement.toml");
    std::fs::write(
        &toml_path,
        agreement_toml(&owner, &reader, &measurement, DemoPrivacy::default()),
    )?;
    let mut signed = agreement_file::load(&toml_path)?;
    agreement_file::sign(&mut signed, &owner)?;
    agreement_file::sign(&mut signed, &reader)?;
    let dataset = signed
        .agreement
        .datasets
        .iter()
        .find(|d| d.owner == owner.name())
        .context("the owner's dataset")?
        .name
        .clone();

    // The releases, signed by the owner as its broker signs them.
    let card = owner.card();
    let fingerprint = card.fingerprint()?;
    let started = SystemClock.now().0 - entries as i64;
    let release = |n: u64| -> anyhow::Result<Vec<u8>> {
        let mut job = [0u8; 16];
        job[..8].copy_from_slice(&n.to_be_bytes());
        let statement = Statement::KeyRelease(KeyRelease {
            owner: card.name.clone(),
            owner_fingerprint: fingerprint,
            dataset: dataset.clone(),
            envelope: Digest([1; 32]),
            agreement: signed.id,
            job: JobId(job),
            requested_by: reader.name().into(),
            platform: Platform::Sim,
            measurement,
            epsilon: signed.agreement.privacy.epsilon_per_run,
            nonce: [2; 32],
            at: Timestamp(started + n as i64),
        });
        Ok(LogEntry::sign(statement, card.signing_key, |l, b| owner.sign(l, b))?.to_bytes())
    };

    let log = host.log();
    let next = AtomicU64::new(0);
    let placed = std::sync::Mutex::new(Vec::with_capacity(entries as usize));
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..64)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= entries {
                            return Ok(());
                        }
                        let bytes = release(n)?;
                        let appended = log.append(CheckedEntry::parse(bytes.clone())?)?;
                        placed
                            .lock()
                            .expect("placed")
                            .push((n, appended.index, bytes));
                    }
                })
            })
            .collect();
        while !workers.iter().all(|w| w.is_finished()) {
            let done = next.load(Ordering::Relaxed).min(entries);
            progress(&format!("filling the log: {done} of {entries} releases"));
            std::thread::sleep(Duration::from_millis(200));
        }
        for w in workers {
            w.join().expect("appender")?;
        }
        Ok(())
    })?;
    let mut placed = placed.into_inner().expect("placed");
    placed.sort_unstable_by_key(|(n, _, _)| *n);

    progress("recording the releases in the broker's store");
    let broker_dir = dir.join("broker");
    std::fs::create_dir_all(&broker_dir)?;
    let refusals = entries / 10;
    {
        let store = BrokerStore::open(&broker_dir.join("broker.sqlite"))?;
        store.put_agreement(&signed, SystemClock.now())?;
    }
    {
        let mut db = rusqlite::Connection::open(broker_dir.join("broker.sqlite"))?;
        let tx = db.transaction()?;
        let per_run = signed.agreement.privacy.epsilon_per_run.micros() as i64;
        for (n, index, bytes) in &placed {
            let mut job = [0u8; 16];
            job[..8].copy_from_slice(&n.to_be_bytes());
            tx.execute(
                "INSERT INTO releases (at, agreement, dataset, job, platform, measurement, epsilon_micros, log_index, envelope, requested_by, entry)
                 VALUES (?1, ?2, ?3, ?4, 'sim', ?5, ?6, ?7, ?8, ?9, ?10)",
                rusqlite::params![
                    started + *n as i64,
                    signed.id.to_string(),
                    dataset,
                    JobId(job).to_string(),
                    measurement.to_string(),
                    per_run,
                    *index as i64,
                    Digest([1; 32]).to_string(),
                    reader.name(),
                    bytes,
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO budgets (agreement, dataset, total_micros, spent_micros, releases) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                signed.id.to_string(),
                dataset,
                signed.agreement.privacy.total_epsilon_per_dataset.micros() as i64,
                per_run * entries as i64,
                entries as i64
            ],
        )?;
        for n in 0..refusals {
            tx.execute(
                "INSERT INTO refusals (at, agreement, dataset, job, code, detail) VALUES (?1, ?2, ?3, NULL, 'measurement-revoked', 'the owner revoked this runtime')",
                rusqlite::params![started + n as i64, signed.id.to_string(), dataset],
            )?;
        }
        tx.commit()?;
    }

    progress("starting the broker with its portal");
    let broker = Broker::open(
        &BrokerConfig {
            key_file,
            data_dir: broker_dir.clone(),
            accept_simulator_evidence: None,
            challenge_ttl_seconds: 60,
            log_url: host_url.clone(),
            log_key: log.verifier_key(),
            evidence_time: None,
        },
        Arc::new(SystemClock),
    )?;
    let (portal, _) = sealroom_portal::owner::router(
        broker.clone(),
        &broker_dir,
        sealroom_portal::PortalConfig::default(),
    )?;
    let broker_url = serve(&runtime, broker.router().merge(portal))?;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let secret = sealroom_portal::PortalSecret::read(&broker_dir)?;
    let signed_in = agent
        .post(format!("{broker_url}/portal/sign-in"))
        .send_form([("secret", secret.reveal())])?;
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("signing in to the portal gave no session")?
        .to_string();

    let size = log.checkpoint().0;
    let deep = size / 2 / sealroom_portal::public_log::PAGE_SIZE;
    let pages = [
        (true, "/portal/agreements".to_string()),
        (true, format!("/portal/agreements/{}", signed.id)),
        (
            true,
            format!(
                "/portal/agreements/{}/runtimes/sim/{measurement}",
                signed.id
            ),
        ),
        (true, "/portal/budget".into()),
        (true, "/portal/log".into()),
        (
            true,
            format!(
                "/portal/log?page={}&refusals={}",
                entries / 2 / sealroom_portal::owner::processing::PAGE_SIZE,
                refusals / 2 / sealroom_portal::owner::processing::PAGE_SIZE
            ),
        ),
        (false, "/log".into()),
        (false, format!("/log?page={deep}")),
        (false, format!("/log/entries/{}", size / 2)),
        (
            false,
            format!("/log/consistency?from={}&to={size}", size / 3),
        ),
    ];
    let mut times = Vec::new();
    for (owner_page, path) in pages {
        progress(&format!("timing {path}"));
        let base = if owner_page { &broker_url } else { &host_url };
        let fetch = || -> anyhow::Result<(f64, String)> {
            let start = Instant::now();
            let mut response = agent
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .call()?;
            let body = response.body_mut().read_to_string()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(
                response.status() == 200,
                "{path} answered {}",
                response.status()
            );
            Ok((ms, body))
        };
        // What is timed must be the real page: a processing log whose proofs all verified.
        let (_, first) = fetch()?;
        if path.starts_with("/portal/log") {
            anyhow::ensure!(
                first.matches("proof verified").count()
                    == sealroom_portal::owner::processing::PAGE_SIZE as usize
                    && !first.contains("ALARM"),
                "{path} did not prove every release on it"
            );
        }
        let mut samples_ms = Vec::with_capacity(samples);
        let mut bytes = 0;
        for _ in 0..samples {
            let (ms, body) = fetch()?;
            samples_ms.push(ms);
            bytes = body.len();
        }
        samples_ms.sort_by(f64::total_cmp);
        times.push(PageTime {
            page: abbreviated(&path),
            median_ms: samples_ms[samples_ms.len() / 2],
            max_ms: *samples_ms.last().expect("samples"),
            bytes,
        });
    }
    runtime.shutdown_background();
    Ok(PortalBench {
        log_entries: size,
        releases: entries,
        refusals,
        samples,
        pages: times,
    })
}

/// `path` with each 64-digit id cut to its first 8 digits, for the table.
fn abbreviated(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.len() == 64 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                format!("{}…", &part[..8])
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Serves `router` on a loopback port of the kernel's choosing, as `sealroom` serves it.
fn serve(runtime: &tokio::runtime::Runtime, router: axum::Router) -> anyhow::Result<String> {
    let (listener, addr) = runtime.block_on(sealroom_service::bind("127.0.0.1:0"))?;
    runtime.spawn(sealroom_service::serve_until_stopped(listener, router));
    Ok(format!("http://{addr}"))
}
