//! `sealroom demo`: two organisations pool their data in a simulated isolate and get a private answer.
//!
//! Everything is real except the hardware: real processes (one host, two
//! brokers, one isolate per job), real HTTP on loopback, real encryption,
//! real attestation checks against the simulator platform key.

pub mod ads;
pub mod data;
pub mod ml;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sealroom_attest::EvidenceVerifier;
use sealroom_core::agreement::{AGREEMENT_FORMAT, NoiseMechanism, OutputTerms, SignedAgreement};
use sealroom_core::attestation::Platform;
use sealroom_core::bytes;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::ids::Measurement;
use sealroom_core::output::ReleasedTable;
use sealroom_core::schema::{Column, ColumnType};
use sealroom_core::statement::Decision;
use sealroom_core::wire::{JobInput, JobOutcome, JobSpec};
use sealroom_crypto::Identity;
use sealroom_host::jobs::IsolateLauncher;
use sealroom_host::{JobRecord, JobStatus};
use sealroom_party::source::csv_table;
use sealroom_programs::{BuiltinCatalog, ProgramResult};
use serde::Serialize;

use crate::services::{Executables, Pins, ServiceProcess};
use sealroom_broker::client::BrokerClient;
use sealroom_host::client::HostClient;
use sealroom_ledger::LogVerifierKey;
use sealroom_ledger::audit::AuditReport;
use sealroom_party::authoring::{
    AgreementToml, DatasetToml, PartyToml, PrivacyToml, ProgramToml, RuntimeToml, TomlTime,
};
use sealroom_party::{agreement_file, owner, reader, runs};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The executables to run.
    pub executables: Executables,
    /// Work here instead of a fresh temporary directory (kept afterwards).
    pub dir: Option<PathBuf>,
    /// Synthetic people.
    pub people: u32,
    /// Seed of the synthetic data.
    pub seed: u64,
    /// Serve each owner's web portal from its broker (`sealroom broker --portal`).
    pub portal: bool,
    /// Seconds before the host kills a job (none: the host's default, 600).
    pub job_timeout_seconds: Option<u64>,
}

impl DemoOptions {
    /// The demo's defaults: 20,000 people, seed 2026, a temporary directory.
    pub fn new(executables: Executables) -> Self {
        Self {
            executables,
            dir: None,
            people: 20_000,
            seed: 2026,
            portal: false,
            job_timeout_seconds: None,
        }
    }
}

/// One refusal the demo provoked on purpose.
#[derive(Debug, Clone, Serialize)]
pub struct DemoRefusal {
    /// What was tried.
    pub attempt: String,
    /// The stable code of the refusal.
    pub code: String,
    /// What the system said.
    pub message: String,
}

/// One released cell next to the truth (which only the demo, having made the data, can know).
#[derive(Debug, Clone, Serialize)]
pub struct DemoCell {
    /// The campaign (the output group).
    pub group: String,
    /// The released, noisy value.
    pub released: i64,
    /// The exact value of the same bounded query.
    pub exact: i64,
}

/// What the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Working directory.
    pub dir: PathBuf,
    /// The agreement id.
    pub agreement_id: String,
    /// The approved isolate measurement.
    pub measurement: Measurement,
    /// The ad-measurement studies: attribution, lift and cross-publisher reach.
    pub ads: ads::AdStory,
    /// The main job.
    pub job: JobRecord,
    /// The table the advertiser opened.
    pub table: ReleasedTable,
    /// Released next to exact values.
    pub cells: Vec<DemoCell>,
    /// Refusals provoked on purpose.
    pub refusals: Vec<DemoRefusal>,
    /// The transparency log's verifier key.
    pub log_key: String,
    /// Each owner's final audit of the log.
    pub audits: Vec<AuditReport>,
    /// Job latency of the main run, in milliseconds.
    pub job_millis: u128,
    /// Wall time of the whole demo, in milliseconds.
    pub total_millis: u128,
}

/// A party of the demo.
pub struct Party {
    /// Its private identity.
    pub identity: Identity,
    /// Its key file.
    pub key_file: PathBuf,
    /// Client of its broker.
    pub broker: BrokerClient,
}

/// A new party `name` whose key broker starts at once, on a port of the kernel's choosing; the
/// party's card names the address the broker reported. Key file and card are written to `dir`.
fn new_party(
    dir: &Path,
    name: &str,
    exes: &Executables,
    pins: &Pins,
    portal: bool,
) -> anyhow::Result<(Party, ServiceProcess)> {
    let key_file = dir.join(format!("{name}.key"));
    let identity = Identity::generate(name, None)?;
    identity.write_key_file(&key_file)?;
    let extra: &[&str] = if portal { &["--portal"] } else { &[] };
    let broker = exes.start_broker(&key_file, &dir.join(format!("{name}-broker")), pins, extra)?;
    let identity = identity.with_broker_url(broker.url.clone());
    std::fs::remove_file(&key_file)?;
    identity.write_key_file(&key_file)?;
    std::fs::write(
        dir.join(format!("{name}.card.json")),
        serde_json::to_string_pretty(&identity.card())?,
    )?;
    let party = Party {
        identity,
        key_file,
        broker: BrokerClient::new(&broker.url),
    };
    Ok((party, broker))
}

/// The demo agreement between `ad` and `shop`, as TOML, accepting `measurement`.
pub fn agreement_toml(
    ad: &Identity,
    shop: &Identity,
    measurement: &Measurement,
    privacy: DemoPrivacy,
) -> String {
    let column = Column::new;
    let dataset = |owner: &str, name: &str, value: Column| DatasetToml {
        owner: owner.into(),
        name: name.into(),
        person_column: "user_id".into(),
        columns: vec![column("user_id", ColumnType::String), value],
    };
    let extra_bounds = privacy.program == DemoProgram::PurchaseValue;
    let authored = AgreementToml {
        format: AGREEMENT_FORMAT.into(),
        name: "campaign-reach-demo".into(),
        valid_from: TomlTime::Text("2020-01-01T00:00:00Z".into()),
        valid_until: TomlTime::Text("2100-01-01T00:00:00Z".into()),
        parties: vec![
            PartyToml::from_card(&ad.card()),
            PartyToml::from_card(&shop.card()),
        ],
        datasets: vec![
            dataset(
                "adplatform",
                "exposures",
                column("campaign", ColumnType::String),
            ),
            dataset(
                "advertiser",
                "purchases",
                column("amount_cents", ColumnType::Integer),
            ),
        ],
        program: privacy.program.terms(),
        runtimes: vec![RuntimeToml::sim(vec![measurement.to_string()])],
        outputs: vec![OutputTerms {
            name: privacy.program.output().into(),
            readers: vec!["advertiser".into()],
        }],
        privacy: PrivacyToml {
            epsilon_per_run: privacy.epsilon_per_run,
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: privacy.total_epsilon,
            max_groups_per_person: i64::from(MAX_GROUPS_PER_PERSON),
            max_rows_per_person_per_group: extra_bounds.then_some(3),
            max_rows_per_person: extra_bounds.then_some(4),
            min_aggregation: extra_bounds.then_some(100),
            noise: privacy.noise,
        },
        runs: None,
    };
    format!(
        "# Which campaigns reached people who later bought? Neither side sees the other's rows.\n{}",
        authored.to_toml()
    )
}

fn failure(record: &JobRecord, attempt: &str) -> anyhow::Result<DemoRefusal> {
    if record.status != JobStatus::Failed {
        bail!(
            "{attempt}: expected a refusal but the job {:?}",
            record.status
        );
    }
    let e = record.error.clone().context("failed job without error")?;
    Ok(DemoRefusal {
        attempt: attempt.into(),
        code: e.refusal.unwrap_or(e.code),
        message: e.message,
    })
}

/// Privacy terms of the demo agreement.
#[derive(Debug, Clone, Copy)]
pub struct DemoPrivacy {
    /// ε per run.
    pub epsilon_per_run: f64,
    /// Total ε per dataset.
    pub total_epsilon: f64,
    /// How released values are protected.
    pub noise: NoiseMechanism,
    /// The program the agreement names.
    pub program: DemoProgram,
}

impl Default for DemoPrivacy {
    fn default() -> Self {
        Self {
            epsilon_per_run: 0.5,
            total_epsilon: 2.0,
            noise: NoiseMechanism::DiscreteLaplace,
            program: DemoProgram::Overlap,
        }
    }
}

/// Which question the demo agreement asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoProgram {
    /// `overlap`: people who saw each (declared) campaign and bought.
    Overlap,
    /// `sum`: purchase value of the people each campaign reached; campaigns discovered in the
    /// data behind the noisy threshold; at most 3 purchases per person and campaign, 4 in all,
    /// each clamped to [0, 200.00].
    PurchaseValue,
    /// `overlap` as the Wasm example ([`OVERLAP_MODULE`]), with the built-in's semantics:
    /// per person, or vetted by both owners (its answer's L1 sensitivity stated as the
    /// agreement's groups per person).
    WasmOverlap {
        /// Vetted rather than per person.
        vetted: bool,
    },
}

/// The `overlap` example module (built from `examples/overlap` by `scripts/build-examples.sh`,
/// which CI checks reproduces these bytes).
pub const OVERLAP_MODULE: &[u8] = include_bytes!("../../../../examples/modules/overlap.wasm");
/// Its documentation, published with it.
pub const OVERLAP_DOCUMENTATION: &str = include_str!("../../../../examples/overlap/README.md");
/// Groups one person counts towards, in the demo agreement (and the Wasm overlap's bound).
const MAX_GROUPS_PER_PERSON: u32 = 2;

impl DemoProgram {
    fn terms(self) -> ProgramToml {
        let mut params = toml::Table::new();
        let mut set = |key: &str, value: toml::Value| params.insert(key.into(), value);
        set("left", "adplatform/exposures".into());
        set("right", "advertiser/purchases".into());
        set("group_column", "campaign".into());
        let id = match self {
            DemoProgram::Overlap => {
                let campaigns = data::CAMPAIGNS.iter().map(|c| toml::Value::from(*c));
                set("groups", toml::Value::Array(campaigns.collect()));
                "overlap"
            }
            DemoProgram::PurchaseValue => {
                set("value_column", "amount_cents".into());
                set("units", 1.into());
                set("lower", 0.into());
                set("upper", 20_000.into());
                "sum"
            }
            DemoProgram::WasmOverlap { vetted } => return wasm_overlap_terms(vetted),
        };
        ProgramToml {
            id: id.into(),
            version: 1,
            params,
        }
    }

    fn output(self) -> &'static str {
        match self {
            DemoProgram::Overlap | DemoProgram::WasmOverlap { .. } => "overlap",
            DemoProgram::PurchaseValue => "sum",
        }
    }
}

/// The terms of `overlap` as the Wasm example over the demo's datasets: per person (a small
/// instance per person), or vetted by both owners (one call over everyone, with fuel and
/// memory for a million rows a side).
fn wasm_overlap_terms(vetted: bool) -> ProgramToml {
    use sealroom_programs::wasm;
    let mut params = toml::Table::new();
    let mut set = |key: &str, value: toml::Value| params.insert(key.into(), value);
    let strings = |items: &[&str]| toml::Value::Array(items.iter().map(|s| (*s).into()).collect());
    set("name", "overlap".into());
    set(
        "module",
        sealroom_core::program::sha256_hex(OVERLAP_MODULE).into(),
    );
    set("mode", if vetted { "vetted" } else { "per_person" }.into());
    set(
        "inputs",
        strings(&["adplatform/exposures", "advertiser/purchases"]),
    );
    // The campaign is the exposures' second column.
    set(
        "params",
        toml::Value::Array(vec![1.0.into(), f64::from(MAX_GROUPS_PER_PERSON).into()]),
    );
    set("groups", strings(&data::CAMPAIGNS));
    set("coordinates", strings(&["people"]));
    set("norm", "l1".into());
    set("bound", f64::from(MAX_GROUPS_PER_PERSON).into());
    set("units", 1.into());
    set("output", "overlap".into());
    if vetted {
        set("fuel_per_call", 1_000_000_000_000i64.into());
        set("memory_bytes", (1i64 << 31).into());
        set("reviewed_by", strings(&["adplatform", "advertiser"]));
    } else {
        set("fuel_per_call", 10_000_000.into());
        set("memory_bytes", (16i64 << 20).into());
    }
    ProgramToml {
        id: wasm::ID.into(),
        version: wasm::VERSION,
        params,
    }
}

/// A running two-party deployment: host, two brokers, a signed and published agreement, sealed uploads, approvals.
pub struct Deployment {
    /// Working directory.
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The ad platform (owns exposures).
    pub adplatform: Party,
    /// The advertiser (owns purchases, reads the result).
    pub advertiser: Party,
    /// The host's process (stopped on drop).
    pub host_process: ServiceProcess,
    /// The brokers' processes (stopped on drop).
    pub broker_processes: Vec<ServiceProcess>,
    /// Client of the host.
    pub host: HostClient,
    /// The host's platform.
    pub platform: sealroom_host::api::PlatformInfo,
    /// The signed agreement.
    pub agreement: SignedAgreement,
    /// The demo's synthetic data, in the clear (only the demo has it; empty for other scenarios).
    pub data: data::DemoData,
    /// The approved measurement.
    pub measurement: Measurement,
    /// Parties added after the start (say, more publishers), each with its broker.
    pub others: Vec<Party>,
    /// What every broker of this deployment trusts.
    pins: Pins,
    /// Whether brokers serve their owner's portal.
    portal: bool,
}

/// A dataset an owner seals for a room: `(owner, dataset, file)`.
pub type RoomDataset<'a> = (&'a str, &'a str, PathBuf);

/// What a deployment runs: the agreement between the two parties, and the files each owner
/// seals for it.
pub struct Scenario<'a> {
    /// The agreement TOML for the ad platform, the advertiser and the isolate's measurement.
    pub agreement: &'a dyn Fn(&Identity, &Identity, &Measurement) -> String,
    /// `(owner, dataset, file name, file contents)`; the owner is `adplatform` or `advertiser`.
    pub datasets: Vec<(&'a str, &'a str, &'a str, Vec<u8>)>,
}

impl Deployment {
    /// Sets the demo up, up to the point where a job can run.
    pub fn start(
        options: &DemoOptions,
        privacy: DemoPrivacy,
        data: data::DemoData,
        step: &dyn Fn(&str),
    ) -> anyhow::Result<Self> {
        let agreement = move |ad: &Identity, shop: &Identity, m: &Measurement| {
            agreement_toml(ad, shop, m, privacy)
        };
        let scenario = Scenario {
            agreement: &agreement,
            datasets: vec![
                (
                    "adplatform",
                    "exposures",
                    "exposures.csv",
                    data.exposures_csv.clone().into_bytes(),
                ),
                (
                    "advertiser",
                    "purchases",
                    "purchases.csv",
                    data.purchases_csv.clone().into_bytes(),
                ),
            ],
        };
        let mut deployment = Self::start_scenario(options, scenario, step)?;
        deployment.data = data;
        Ok(deployment)
    }

    /// Sets up a host, the two parties with their brokers, the scenario's agreement (signed by
    /// both, published) and its datasets (sealed, registered, uploaded), and approves the
    /// isolate, up to the point where a job can run.
    pub fn start_scenario(
        options: &DemoOptions,
        scenario: Scenario<'_>,
        step: &dyn Fn(&str),
    ) -> anyhow::Result<Self> {
        let (dir, temp) = match &options.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (d.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("sealroom-demo-")
                    .tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let exes = &options.executables;

        step("starting the host (operator) on loopback");
        let host_process = match options.job_timeout_seconds {
            Some(seconds) => {
                exes.start_host_with(&dir.join("host"), &["--job-timeout", &seconds.to_string()])?
            }
            None => exes.start_host(&dir.join("host"))?,
        };
        let host = HostClient::new(&host_process.url);
        let platform = host.platform()?;
        // A real deployment distributes these out of band; the demo takes them from its own host.
        let pins = Pins {
            sim_key: bytes::encode(&platform.simulator_platform_key.0),
            log_url: host_process.url.clone(),
            log_key: platform.log_key.clone(),
        };
        step(
            "creating parties, adplatform (ad exposures) and advertiser (purchases), each with its key broker; the host onboards both",
        );
        let (ad, ad_broker) = new_party(&dir, "adplatform", exes, &pins, options.portal)?;
        let (shop, shop_broker) = new_party(&dir, "advertiser", exes, &pins, options.portal)?;
        let broker_processes = vec![ad_broker, shop_broker];
        crate::services::onboard(
            &dir.join("host"),
            &[ad.identity.card(), shop.identity.card()],
        )?;
        let measurement = sealroom_attest::measure_file(&exes.isolate)?;
        if measurement != platform.isolate_measurement {
            bail!(
                "the host runs a different isolate than {}",
                exes.isolate.display()
            );
        }

        let mut files = Vec::with_capacity(scenario.datasets.len());
        for (owner, dataset, file, contents) in &scenario.datasets {
            let plain = dir.join(file);
            std::fs::write(&plain, contents)?;
            files.push((*owner, *dataset, plain));
        }
        let toml = (scenario.agreement)(&ad.identity, &shop.identity, &measurement);
        let site = Site {
            dir: &dir,
            host: &host,
            parties: vec![&ad, &shop],
            measurement,
        };
        let agreement = site.open_room(&toml, "agreement", &files, step)?;
        Ok(Self {
            dir,
            _temp: temp,
            adplatform: ad,
            advertiser: shop,
            host_process,
            broker_processes,
            host,
            platform,
            agreement,
            data: data::DemoData::default(),
            measurement,
            others: Vec::new(),
            pins,
            portal: options.portal,
        })
    }

    /// Adds a party `name` with its own key broker, onboarded at the host.
    pub fn add_party(&mut self, name: &str, exes: &Executables) -> anyhow::Result<()> {
        let (party, broker) = new_party(&self.dir, name, exes, &self.pins, self.portal)?;
        crate::services::onboard(&self.dir.join("host"), &[party.identity.card()])?;
        self.others.push(party);
        self.broker_processes.push(broker);
        Ok(())
    }

    fn site(&self) -> Site<'_> {
        Site {
            dir: &self.dir,
            host: &self.host,
            parties: [&self.adplatform, &self.advertiser]
                .into_iter()
                .chain(&self.others)
                .collect(),
            measurement: self.measurement,
        }
    }

    /// The party called `name`.
    pub fn party(&self, name: &str) -> anyhow::Result<&Party> {
        self.site().party(name)
    }

    /// Opens a sealed room: writes the agreement `toml` as `{name}.toml`, has every party it
    /// lists sign it, publishes it, has each owner seal its file, register it with its broker
    /// and upload it, and has each owner approve the isolate for it.
    pub fn open_room(
        &self,
        toml: &str,
        name: &str,
        datasets: &[RoomDataset<'_>],
        step: &dyn Fn(&str),
    ) -> anyhow::Result<SignedAgreement> {
        self.site().open_room(toml, name, datasets, step)
    }

    /// `party` approves or revokes the isolate for `agreement` at its broker.
    pub fn decide_for(
        &self,
        party: &Party,
        agreement: &SignedAgreement,
        decision: Decision,
    ) -> anyhow::Result<()> {
        self.site().decide(party, agreement, decision)
    }

    /// `requester` asks the host to run `agreement` once, and waits for the job's end.
    pub fn run_agreement(
        &self,
        agreement: &SignedAgreement,
        requester: &Party,
    ) -> anyhow::Result<JobRecord> {
        Ok(runs::run(
            &self.host,
            &requester.identity,
            agreement.id,
            &SystemClock,
        )?)
    }

    /// `reader` fetches the outputs of `job` and opens them, verifying the receipt and its log
    /// entry.
    pub fn open_outputs(
        &self,
        reader: &Party,
        agreement: &SignedAgreement,
        job: &JobRecord,
    ) -> anyhow::Result<Vec<ReleasedTable>> {
        let bundle = self.host.outputs(&reader.identity, &job.job_id)?;
        Ok(reader::open_outputs(
            &reader.identity,
            agreement,
            &job.job_id,
            &bundle,
            &self.verifier(),
            &self.log_key()?,
        )?
        .tables)
    }

    /// `party` approves or revokes the isolate for the agreement at its broker.
    pub fn decide(&self, party: &Party, decision: Decision) -> anyhow::Result<()> {
        self.decide_for(party, &self.agreement, decision)
    }

    /// The advertiser asks the host to run the agreement once, and waits for the job's end.
    pub fn run_job(&self) -> anyhow::Result<JobRecord> {
        self.run_agreement(&self.agreement, &self.advertiser)
    }

    /// The log key every party of this deployment pins.
    pub fn log_key(&self) -> anyhow::Result<LogVerifierKey> {
        Ok(self.platform.log_key.parse()?)
    }

    /// `party` audits the log, keeping its state in the working directory.
    pub fn audit(&self, party: &Party) -> anyhow::Result<AuditReport> {
        let state = self
            .dir
            .join(format!("{}.audit.json", party.identity.name()));
        Ok(sealroom_party::auditor::run_audit(
            &self.host_process.url,
            &self.log_key()?,
            &party.identity.card(),
            &state,
            |_, _| {},
        )?)
    }

    /// A verifier that pins this deployment's simulator platform key.
    pub fn verifier(&self) -> EvidenceVerifier {
        EvidenceVerifier::new().accept_simulator_evidence(self.platform.simulator_platform_key)
    }
}

/// What opening a room needs: the working directory, the host, the parties and the isolate.
struct Site<'a> {
    dir: &'a Path,
    host: &'a HostClient,
    parties: Vec<&'a Party>,
    measurement: Measurement,
}

impl<'a> Site<'a> {
    /// The party called `name`.
    fn party(&self, name: &str) -> anyhow::Result<&'a Party> {
        self.parties
            .iter()
            .copied()
            .find(|p| p.identity.name() == name)
            .with_context(|| format!("no party {name} in this deployment"))
    }

    /// What [`Deployment::open_room`] does, among these parties.
    fn open_room(
        &self,
        toml: &str,
        name: &str,
        datasets: &[RoomDataset<'_>],
        step: &dyn Fn(&str),
    ) -> anyhow::Result<SignedAgreement> {
        step("writing the agreement; every party signs it");
        let toml_path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&toml_path, toml)?;
        let mut signed = agreement_file::load(&toml_path)?;
        for party in &signed.agreement.parties.clone() {
            agreement_file::sign(&mut signed, &self.party(&party.name)?.identity)?;
        }
        agreement_file::save(&signed, &self.dir.join(format!("{name}.signed.json")))?;
        step("the agreement is published at the host (which logs it)");
        self.host.publish(&signed)?;

        step(
            "each owner seals its dataset for the agreement, registers it with its broker and uploads it",
        );
        for (owner_name, dataset, plain) in datasets {
            let party = self.party(owner_name)?;
            let sealed = self
                .dir
                .join(format!("{name}-{owner_name}-{dataset}.envelope"));
            let summary = owner::seal_dataset(
                &party.identity,
                &signed,
                dataset,
                plain,
                &sealed,
                &owner::SealOptions::default(),
                SystemClock.now_millis(),
                Box::new(|_| {}),
            )?;
            party
                .broker
                .register(&summary.registration(&party.identity))?;
            owner::upload(self.host, &sealed, |_| {})?;
        }

        step("each owner approves the isolate measurement");
        let mut owners: Vec<&str> = datasets.iter().map(|(owner, _, _)| *owner).collect();
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            self.decide(self.party(owner)?, &signed, Decision::Approve)?;
        }
        Ok(signed)
    }

    /// `party` approves or revokes the isolate for `agreement` at its broker.
    fn decide(
        &self,
        party: &Party,
        agreement: &SignedAgreement,
        decision: Decision,
    ) -> anyhow::Result<()> {
        party.broker.decide(&owner::decide(
            &party.identity,
            &SystemClock,
            agreement.id,
            Platform::Sim,
            self.measurement,
            decision,
        )?)?;
        Ok(())
    }
}

/// Runs the whole demo; `step` is told what is happening.
pub fn run(options: &DemoOptions, step: &dyn Fn(&str)) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let mut d = Deployment::start(
        options,
        DemoPrivacy::default(),
        data::generate(options.people, options.seed),
        step,
    )?;
    let ads = ads::run(&mut d, options, step)?;

    step("the overlap room: the host runs the job in a fresh isolate");
    let job_started = Instant::now();
    let job = d.run_job()?;
    let job_millis = job_started.elapsed().as_millis();
    if job.status != JobStatus::Finished {
        return Err(runs::failed(&job)
            .map_or_else(|| anyhow::anyhow!("the job did not finish"), Into::into));
    }

    step("the advertiser verifies the receipt and opens the result");
    let verifier = d.verifier();
    let bundle = d.host.outputs(&d.advertiser.identity, &job.job_id)?;
    let log_key = d.log_key()?;
    let opened = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &job.job_id,
        &bundle,
        &verifier,
        &log_key,
    )?;
    let table = opened.tables.into_iter().next().context("no table")?;
    let cells = exact_cells(&d.agreement, &d.data, &table)?;

    step("both owners audit the transparency log and save its checkpoint");
    d.audit(&d.adplatform)?;
    d.audit(&d.advertiser)?;

    step("what a curious operator or a non-reader gets");
    let mut refusals = Vec::new();
    let not_reader = reader::open_outputs(
        &d.adplatform.identity,
        &d.agreement,
        &job.job_id,
        &bundle,
        &verifier,
        &log_key,
    )
    .err()
    .context("adplatform, which is no reader, opened the output")?;
    refusals.push(DemoRefusal {
        attempt: "adplatform opens the advertiser's output".into(),
        code: "not-a-reader".into(),
        message: not_reader.to_string(),
    });

    refusals.push(modified_isolate(&d, &options.executables)?);

    step("what an outsider gets: a forged envelope and a run request of its own");
    refusals.extend(outsider_attempts(&d)?);

    d.decide(&d.advertiser, Decision::Revoke)?;
    refusals.push(failure(
        &d.run_job()?,
        "run after the advertiser revoked its approval",
    )?);
    // Decisions are ordered by their sequence: re-approving needs no waiting.
    d.decide(&d.advertiser, Decision::Approve)?;

    let mut extra_runs = 0;
    let exhausted = loop {
        let record = d.run_job()?;
        if record.status == JobStatus::Failed {
            break record;
        }
        extra_runs += 1;
        if extra_runs > 10 {
            bail!("the budget never ran out");
        }
    };
    refusals.push(failure(
        &exhausted,
        &format!(
            "run again after {extra_runs} more runs spent the budget (total ε 2, 0.5 per run)"
        ),
    )?);

    step("both owners audit the log again: it must extend the checkpoint they saved");
    let audits = vec![d.audit(&d.adplatform)?, d.audit(&d.advertiser)?];

    Ok(DemoReport {
        audits,
        log_key: log_key.to_string(),
        dir: if options.dir.is_some() {
            d.dir.clone()
        } else {
            PathBuf::from("(temporary, removed)")
        },
        agreement_id: d.agreement.id.to_string(),
        measurement: d.measurement,
        ads,
        job,
        table,
        cells,
        refusals,
        job_millis,
        total_millis: started.elapsed().as_millis(),
    })
}

/// The operator runs a copy of the isolate with one byte appended: a different measurement.
fn modified_isolate(d: &Deployment, exes: &Executables) -> anyhow::Result<DemoRefusal> {
    let (signed, host_dir) = (&d.agreement, d.dir.join("host"));
    let modified = d.dir.join("modified-isolate");
    let mut bytes = std::fs::read(&exes.isolate)?;
    bytes.push(0);
    std::fs::write(&modified, bytes)?;
    #[cfg(unix)]
    std::fs::set_permissions(
        &modified,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let blobs = sealroom_host::blobs::BlobStore::new(&host_dir.join("blobs"))?;
    let inputs = signed
        .agreement
        .datasets
        .iter()
        .map(|d| JobInput {
            owner: d.owner.clone(),
            dataset: d.name.clone(),
            path: blobs
                .dataset_path(&signed.id, &d.owner, &d.name)
                .display()
                .to_string(),
        })
        .collect();
    let launcher = IsolateLauncher {
        executable: modified,
        sim_platform_key: host_dir.join("sim-platform.key"),
        tee_collateral: None,
        timeout: Duration::from_secs(60),
    };
    // The operator holds a genuine, fresh run request (it receives them all) and hands it to
    // its modified isolate.
    let run_request = d
        .advertiser
        .identity
        .sign_run_request(signed.id, SystemClock.now());
    let spec = JobSpec {
        job_id: run_request.job_id()?,
        agreement: signed.clone(),
        run_request,
        inputs,
        module: None,
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(launcher.run(&spec));
    match outcome {
        JobOutcome::Failed { error } => Ok(DemoRefusal {
            attempt: "operator runs a modified isolate (one byte appended)".into(),
            code: error.refusal.unwrap_or(error.code),
            message: error.message,
        }),
        JobOutcome::Finished { .. } => bail!("a modified isolate obtained keys"),
    }
}

/// An outsider, who knows the public agreement and party cards, makes its own keys under the
/// owners' names: it seals rows of its choosing as adplatform's exposures and uploads them, and
/// signs a run request as the advertiser. The host refuses both (and so would every broker).
fn outsider_attempts(d: &Deployment) -> anyhow::Result<Vec<DemoRefusal>> {
    let forger = Identity::generate("adplatform", d.adplatform.identity.card().broker_url)?;
    let terms = d
        .agreement
        .agreement
        .dataset("adplatform", "exposures")
        .context("the demo agreement has exposures")?;
    let key = sealroom_crypto::DataKey::generate();
    let header = sealroom_crypto::envelope::new_header(
        &sealroom_crypto::envelope::HeaderParams {
            owner: &forger,
            agreement: d.agreement.id,
            dataset: "exposures",
            schema_digest: terms.schema.digest()?,
            chunk_size: sealroom_crypto::envelope::DEFAULT_CHUNK_SIZE,
            sealed_at_ms: SystemClock.now_millis(),
        },
        &key,
    )?;
    let forged = d.dir.join("forged-exposures.envelope");
    let mut writer =
        sealroom_crypto::EnvelopeWriter::new(std::fs::File::create(&forged)?, &header, &key)?;
    std::io::Write::write_all(
        &mut writer,
        b"user_id,campaign
chosen-person,spring-tv
",
    )?;
    writer.finish()?;
    let upload = owner::upload(&d.host, &forged, |_| {});
    let impostor = Identity::generate("advertiser", None)?;
    let run = d
        .host
        .request_run(&impostor.sign_run_request(d.agreement.id, SystemClock.now()));
    Ok(vec![
        refused_call(
            match upload {
                Err(sealroom_party::PartyError::Service(e)) => Err(e),
                Err(other) => bail!("the forged upload failed otherwise: {other}"),
                Ok(_) => Ok(()),
            },
            "an outsider uploads rows of its choosing as adplatform/exposures",
        )?,
        refused_call(
            run.map(|_| ()),
            "an outsider signs a run request as the advertiser",
        )?,
    ])
}

/// A call that had to be refused, as a [`DemoRefusal`] (its problem type as code).
fn refused_call(
    result: Result<(), sealroom_http::HttpError>,
    attempt: &str,
) -> anyhow::Result<DemoRefusal> {
    match result {
        Ok(()) => bail!("{attempt}: it was accepted"),
        Err(sealroom_http::HttpError::Refused(problem)) => Ok(DemoRefusal {
            attempt: attempt.into(),
            code: problem.kind,
            message: problem.detail,
        }),
        Err(other) => bail!("{attempt}: {other}"),
    }
}

/// The exact result of the demo's data (which only the demo, having made the data, can compute).
pub fn exact_result(
    signed: &SignedAgreement,
    data: &data::DemoData,
) -> anyhow::Result<ProgramResult> {
    let a = &signed.agreement;
    let schema = |owner: &str, name: &str| {
        a.dataset(owner, name)
            .map(|d| d.schema.clone())
            .context("dataset")
    };
    let left = csv_table(
        data.exposures_csv.as_bytes(),
        &schema("adplatform", "exposures")?,
    )?;
    let right = csv_table(
        data.purchases_csv.as_bytes(),
        &schema("advertiser", "purchases")?,
    )?;
    Ok(BuiltinCatalog.run(a, &|name| match name {
        "adplatform/exposures" => Some(&left),
        "advertiser/purchases" => Some(&right),
        _ => None,
    })?)
}

/// The released cells next to the exact values.
pub fn exact_cells(
    signed: &SignedAgreement,
    data: &data::DemoData,
    table: &ReleasedTable,
) -> anyhow::Result<Vec<DemoCell>> {
    let (declared, discovered) = exact_result(signed, data)?.cells();
    table
        .rows
        .iter()
        .map(|row| {
            let group = row.key.first().context("a released row without a key")?;
            let value = declared
                .iter()
                .chain(&discovered)
                .find(|(g, _)| g == group)
                .map(|(_, v)| *v)
                .context("a released group the program did not produce")?;
            Ok(DemoCell {
                group: group.clone(),
                released: *row
                    .values
                    .first()
                    .context("a released row without values")?,
                exact: value,
            })
        })
        .collect()
}
