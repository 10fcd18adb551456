//! The agreements an owner is party to, as the portal shows them: the list, one agreement in
//! full, and the binary review of one of its runtimes.
//!
//! The broker learns an agreement's id when its owner registers an envelope, decides about a
//! runtime or spends budget under it. It fetches the signed agreement from the host once (a
//! request signed by the owner, as any party reads it), keeps it only if its id, every
//! signature and the owner's place among its parties check out, and from then on shows its own
//! copy: the host cannot change what the owner reviews.

use sealroom_broker::Broker;
use sealroom_broker::store::CurrentDecision;
use sealroom_core::agreement::{NoiseMechanism, RuntimeTerms, SignedAgreement};
use sealroom_core::attestation::Platform;
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::statement::Decision;
use sealroom_host::client::HostClient;

use super::programs::ProgramReview;
use crate::page::{Fact, PageError, short, time};

/// An agreement the broker knows of, or why it cannot be shown.
pub struct Known {
    /// Its id.
    pub id: AgreementId,
    /// The checked agreement, or what went wrong fetching or checking it.
    pub signed: Result<SignedAgreement, String>,
}

/// Every agreement the broker knows of, by id.
pub fn known(broker: &Broker) -> Result<Vec<Known>, PageError> {
    Ok(broker
        .store()
        .agreement_ids()?
        .into_iter()
        .map(|id| Known {
            id,
            signed: load(broker, &id),
        })
        .collect())
}

/// The broker's copy of agreement `id`, fetched from the host and checked the first time.
pub fn load(broker: &Broker, id: &AgreementId) -> Result<SignedAgreement, String> {
    if let Some(kept) = broker
        .store()
        .stored_agreement(id)
        .map_err(|e| e.to_string())?
    {
        return Ok(kept);
    }
    let fetched = HostClient::new(broker.host_url())
        .agreement(broker.identity(), id)
        .map_err(|e| format!("the host did not give it: {e}"))?;
    if fetched.id != *id {
        return Err(format!("the host answered with agreement {}", fetched.id));
    }
    // At its own start the window is open, so this checks the id, every signature and that
    // every party signed, whatever the time is now.
    fetched
        .check_in_force(fetched.agreement.valid_from)
        .map_err(|e| format!("the host's copy does not check out: {e}"))?;
    let me = broker.card();
    if !fetched
        .agreement
        .parties
        .iter()
        .any(|p| p.name == me.name && p.signing_key == me.signing_key)
    {
        return Err(format!("{} is not a party to it", me.name));
    }
    broker
        .store()
        .put_agreement(&fetched, broker.clock().now())
        .map_err(|e| e.to_string())?;
    Ok(fetched)
}

/// Whether an agreement is in force now, in words and as a status class.
pub fn standing(broker: &Broker, signed: &SignedAgreement) -> (String, &'static str) {
    match signed.check_in_force(broker.clock().now()) {
        Ok(()) => ("in force".into(), "ok"),
        Err(e) => (e.to_string(), "bad"),
    }
}

/// A row of the agreement list.
pub struct AgreementRow {
    /// Link to the agreement.
    pub href: String,
    /// Its name, or the id when it cannot be shown.
    pub name: String,
    /// The short id.
    pub short_id: String,
    /// Program id and version.
    pub program: String,
    /// Every party.
    pub parties: String,
    /// The owner's datasets in it.
    pub mine: String,
    /// Standing, in words.
    pub standing: String,
    /// `ok` or `bad`.
    pub class: &'static str,
}

/// The list of agreements.
pub fn rows(broker: &Broker, known: Vec<Known>) -> Vec<AgreementRow> {
    let me = broker.card().name;
    known
        .into_iter()
        .map(|k| match k.signed {
            Ok(signed) => {
                let (standing, class) = standing(broker, &signed);
                let a = &signed.agreement;
                AgreementRow {
                    href: format!("/portal/agreements/{}", k.id),
                    name: a.name.clone(),
                    short_id: short(&k.id),
                    program: format!("{} v{}", a.program.id, a.program.version),
                    parties: a
                        .parties
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    mine: a
                        .datasets
                        .iter()
                        .filter(|d| d.owner == me)
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    standing,
                    class,
                }
            }
            Err(why) => AgreementRow {
                href: format!("/portal/agreements/{}", k.id),
                name: k.id.to_string(),
                short_id: short(&k.id),
                program: String::new(),
                parties: String::new(),
                mine: String::new(),
                standing: why,
                class: "bad",
            },
        })
        .collect()
}

/// A party of an agreement, with its roles and whether it signed.
pub struct PartyRow {
    /// Its name.
    pub name: String,
    /// What it does in the agreement.
    pub roles: String,
    /// Its key's fingerprint.
    pub fingerprint: String,
    /// Whether its signature is there (and verified: the broker keeps only checked copies).
    pub signed: bool,
}

/// A dataset and its schema.
pub struct DatasetRow {
    /// `owner/name`.
    pub name: String,
    /// Whether the owner of this portal owns it.
    pub mine: bool,
    /// The person column.
    pub person: String,
    /// `name: type` per column.
    pub columns: Vec<Fact>,
}

/// A runtime the agreement accepts, with this owner's decision about it.
pub struct RuntimeRow {
    /// Its platform.
    pub platform: String,
    /// Its id (what the owner approves).
    pub id: String,
    /// The binary review page.
    pub href: String,
    /// The decision, in words.
    pub decision: String,
    /// `ok`, `bad` or `none`.
    pub class: &'static str,
}

/// One agreement in full.
pub struct AgreementView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Standing, in words.
    pub standing: String,
    /// Its class.
    pub class: &'static str,
    /// The validity window.
    pub window: String,
    /// Parties.
    pub parties: Vec<PartyRow>,
    /// Datasets.
    pub datasets: Vec<DatasetRow>,
    /// Program id and version.
    pub program: String,
    /// What the program computes (its built-in documentation).
    pub program_summary: String,
    /// Its parameters, as JSON.
    pub params: String,
    /// Outputs and readers.
    pub outputs: Vec<Fact>,
    /// Runtimes.
    pub runtimes: Vec<RuntimeRow>,
    /// Privacy terms.
    pub privacy: Vec<Fact>,
    /// Who may run, how often.
    pub runs: Vec<Fact>,
}

/// The built-in documentation of a program: what it computes and its parameters.
pub fn program_doc(id: &str, version: u32) -> (String, String) {
    sealroom_programs::REGISTRY
        .iter()
        .map(|p| p.info())
        .find(|i| i.id == id && i.version == version)
        .map_or_else(
            || {
                (
                    format!("{id} v{version} is not a program this sealroom knows"),
                    String::new(),
                )
            },
            |i| (i.summary.to_string(), i.params.to_string()),
        )
}

/// This owner's current decision, in words and as a status class.
pub fn decision_words(current: Option<&CurrentDecision>) -> (String, &'static str) {
    match current {
        Some(d) if d.decision == Decision::Approve => {
            (format!("approved {}", time(d.issued_at)), "ok")
        }
        Some(d) => (format!("revoked {}", time(d.issued_at)), "bad"),
        None => ("not approved".into(), "none"),
    }
}

/// One agreement in full, with this owner's decisions.
pub fn view(broker: &Broker, signed: &SignedAgreement) -> Result<AgreementView, PageError> {
    let a = &signed.agreement;
    let me = broker.card().name;
    let decisions = broker.store().decisions_of(&signed.id)?;
    let (standing, class) = standing(broker, signed);
    let parties = a
        .parties
        .iter()
        .map(|p| {
            let mut roles = Vec::new();
            let owned: Vec<&str> = a
                .datasets
                .iter()
                .filter(|d| d.owner == p.name)
                .map(|d| d.name.as_str())
                .collect();
            if !owned.is_empty() {
                roles.push(format!("owns {}", owned.join(", ")));
            }
            let reads: Vec<&str> = a
                .outputs
                .iter()
                .filter(|o| o.readers.contains(&p.name))
                .map(|o| o.name.as_str())
                .collect();
            if !reads.is_empty() {
                roles.push(format!("reads {}", reads.join(", ")));
            }
            if a.runs.requesters.contains(&p.name) {
                roles.push("may start runs".into());
            }
            PartyRow {
                name: if p.name == me {
                    format!("{} (you)", p.name)
                } else {
                    p.name.clone()
                },
                roles: roles.join("; "),
                fingerprint: p.fingerprint().map(|f| f.to_string()).unwrap_or_default(),
                signed: signed.signatures.iter().any(|s| s.party == p.name),
            }
        })
        .collect();
    let datasets = a
        .datasets
        .iter()
        .map(|d| DatasetRow {
            name: d.qualified_name(),
            mine: d.owner == me,
            person: d.schema.person_column.clone(),
            columns: d
                .schema
                .columns
                .iter()
                .map(|c| {
                    let mut kind = serde_json::to_value(c.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    if let Some(scale) = c.scale {
                        kind.push_str(&format!(" (scale {scale})"));
                    }
                    if c.optional {
                        kind.push_str(", optional");
                    }
                    Fact::new(c.name.clone(), kind)
                })
                .collect(),
        })
        .collect();
    let mut runtimes = Vec::new();
    for terms in &a.runtimes {
        for id in terms.runtime_ids() {
            let current = decisions
                .iter()
                .find(|d| d.platform == terms.platform && d.measurement == id)
                .map(|d| &d.current);
            let (decision, class) = decision_words(current);
            runtimes.push(RuntimeRow {
                platform: terms.platform.to_string(),
                id: id.to_string(),
                href: review_href(&signed.id, terms.platform, &id),
                decision,
                class,
            });
        }
    }
    let p = &a.privacy;
    let privacy = vec![
        Fact::new("ε per run", p.epsilon_per_run.to_string()),
        Fact::new("δ per run", p.delta_per_run.to_string()),
        Fact::new(
            "total ε per dataset",
            p.total_epsilon_per_dataset.to_string(),
        ),
        Fact::new(
            "noise",
            match p.noise {
                NoiseMechanism::DiscreteLaplace => "discrete Laplace".to_string(),
                NoiseMechanism::DiscreteGaussian => "discrete Gaussian".to_string(),
                NoiseMechanism::None => "NONE: outputs are exact, not private".to_string(),
            },
        ),
        Fact::new("groups per person", p.max_groups_per_person.to_string()),
        Fact::new(
            "rows per person per group",
            p.max_rows_per_person_per_group.to_string(),
        ),
        Fact::new("rows per person", p.max_rows_per_person.to_string()),
        Fact::new(
            "minimum for a group not declared",
            p.min_aggregation.to_string(),
        ),
    ];
    let runs = vec![
        Fact::new("who may start runs", a.runs.requesters.join(", ")),
        Fact::new(
            "runs per 24 hours",
            a.runs
                .max_runs_per_day
                .map_or_else(|| "no limit".to_string(), |n| n.to_string()),
        ),
    ];
    let (program_summary, _) = program_doc(&a.program.id, a.program.version);
    Ok(AgreementView {
        id: signed.id.to_string(),
        name: a.name.clone(),
        standing,
        class,
        window: format!("from {} until {}", time(a.valid_from), time(a.valid_until)),
        parties,
        datasets,
        program: format!("{} v{}", a.program.id, a.program.version),
        program_summary,
        params: serde_json::to_string_pretty(&a.program.params).unwrap_or_default(),
        outputs: a
            .outputs
            .iter()
            .map(|o| Fact::new(o.name.clone(), o.readers.join(", ")))
            .collect(),
        runtimes,
        privacy,
        runs,
    })
}

/// The binary review page of a runtime.
pub fn review_href(agreement: &AgreementId, platform: Platform, runtime: &Measurement) -> String {
    format!("/portal/agreements/{agreement}/runtimes/{platform}/{runtime}")
}

/// What an owner reviews before approving a runtime.
pub struct Review {
    /// The agreement's id.
    pub agreement_id: String,
    /// The agreement's name.
    pub agreement_name: String,
    /// The agreement's page.
    pub agreement_href: String,
    /// The platform.
    pub platform: String,
    /// The runtime id.
    pub runtime: String,
    /// Whether it is the simulator.
    pub simulator: bool,
    /// What the id identifies.
    pub what: String,
    /// Which build it is, as far as this broker can tell.
    pub version: String,
    /// Registers accepted (hardware), by name.
    pub registers: Vec<Fact>,
    /// TCB policy (hardware).
    pub tcb: Vec<Fact>,
    /// Program id and version.
    pub program: String,
    /// What it computes.
    pub program_summary: String,
    /// Its parameters' documentation.
    pub program_params_doc: String,
    /// The agreement's parameters, as JSON.
    pub params: String,
    /// The published program, checked, when a party wrote it (`wasm`).
    pub published: Option<ProgramReview>,
    /// The current decision, in words.
    pub decision: String,
    /// Its class.
    pub class: &'static str,
    /// Whether the current decision is an approval.
    pub approved: bool,
    /// Where the forms post.
    pub action: String,
}

/// The terms under which `signed` accepts runtime `runtime` on `platform`, or not found.
pub fn accepted<'a>(
    signed: &'a SignedAgreement,
    platform: Platform,
    runtime: &Measurement,
) -> Result<&'a RuntimeTerms, PageError> {
    signed
        .agreement
        .runtime_terms(platform)
        .filter(|t| t.runtime_ids().contains(runtime))
        .ok_or_else(|| {
            PageError::not_found(format!(
                "agreement {} accepts no {platform} runtime {runtime}",
                signed.id
            ))
        })
}

/// Which build a simulator runtime is, compared with the isolate installed with this broker.
fn isolate_version(runtime: &Measurement, installed: Option<&Measurement>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match installed {
        Some(m) if m == runtime => format!(
            "sealroom-isolate {version}: the isolate installed with this broker measures the same"
        ),
        Some(m) => format!(
            "not the isolate installed with this broker (sealroom {version}'s measures {m}): \
             rebuild the commit the operator says it runs, below, and compare"
        ),
        None => "unknown: no isolate is installed with this broker to compare with; rebuild \
                 the commit the operator says it runs, below, and compare"
            .into(),
    }
}

/// The review of runtime `runtime` on `platform` of `signed`, if the agreement accepts it;
/// `installed` is the measurement of the isolate installed with this broker, if any.
pub fn review(
    broker: &Broker,
    signed: &SignedAgreement,
    platform: Platform,
    runtime: &Measurement,
    installed: Option<&Measurement>,
) -> Result<Review, PageError> {
    let a = &signed.agreement;
    let terms = accepted(signed, platform, runtime)?;
    let current = broker.store().decision(&signed.id, platform, runtime)?;
    let (decision, class) = decision_words(current.as_ref());
    let (registers, what, version) = if platform == Platform::Sim {
        (
            Vec::new(),
            "the SHA-256 of the sealroom-isolate executable the host runs as a process (the simulator: no hardware protection)".to_string(),
            isolate_version(runtime, installed),
        )
    } else {
        let fields = terms
            .accept
            .iter()
            .find(|f| sealroom_core::runtime::hardware_runtime_id(platform, f) == *runtime)
            .cloned()
            .unwrap_or_default();
        (
            fields.into_iter().map(|(k, v)| Fact::new(k, v)).collect(),
            format!("the labeled digest of these {platform} measurement registers"),
            "the image these registers measure: rebuild it as docs/deploy.md says and compare"
                .to_string(),
        )
    };
    let mut tcb = Vec::new();
    if !terms.accept_tcb_status.is_empty() {
        tcb.push(Fact::new(
            "TCB statuses accepted besides UpToDate",
            terms
                .accept_tcb_status
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    for (component, minimum) in &terms.min_tcb {
        tcb.push(Fact::new(
            format!("minimum {component}"),
            minimum.to_string(),
        ));
    }
    let (program_summary, program_params_doc) = program_doc(&a.program.id, a.program.version);
    Ok(Review {
        agreement_id: signed.id.to_string(),
        agreement_name: a.name.clone(),
        agreement_href: format!("/portal/agreements/{}", signed.id),
        platform: platform.to_string(),
        runtime: runtime.to_string(),
        simulator: platform == Platform::Sim,
        what,
        version,
        registers,
        tcb,
        program: format!("{} v{}", a.program.id, a.program.version),
        program_summary,
        program_params_doc,
        params: serde_json::to_string_pretty(&a.program.params).unwrap_or_default(),
        published: super::programs::review(broker, signed),
        approved: current.is_some_and(|c| c.decision == Decision::Approve),
        decision,
        class,
        action: review_href(&signed.id, platform, runtime),
    })
}
