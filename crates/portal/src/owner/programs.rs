//! The binary review of a program a party wrote (a `wasm` agreement): the provider's published
//! module, its documentation and source digest, checked by the broker before the owner sees them.
//!
//! The host stores publications; the owner does not trust it. Each view fetches the publication
//! and the module's bytes and checks that the bytes hash to the digest the agreement names, that
//! the documentation hashes to the digest the provider signed, and that the provider is a party
//! to the agreement whose key made the signature. Whatever fails is shown as failed.

use std::time::Duration;

use sealroom_broker::Broker;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::program::{MAX_MODULE_BYTES, sha256_hex};
use sealroom_host::client::HostClient;
use sealroom_programs::wasm::{Mode, WasmParams};

use crate::page::{Fact, time};

/// How long a page waits for the host.
const HOST_TIMEOUT: Duration = Duration::from_secs(5);

/// A check of the published program, in words, with its status class (`ok` or `bad`).
pub struct Check {
    /// What was checked and what came out.
    pub words: String,
    /// `ok` or `bad`.
    pub class: &'static str,
}

impl Check {
    fn new(ok: bool, words: String) -> Self {
        Self {
            words,
            class: if ok { "ok" } else { "bad" },
        }
    }
}

/// What an owner reviews of a party's program before approving a runtime that will run it.
pub struct ProgramReview {
    /// The module's SHA-256, as the agreement names it.
    pub module: String,
    /// How the agreement runs it, and who then answers for the privacy of its outputs.
    pub mode: String,
    /// The publication's facts (name, provider, size, digests, time, log entry), when published.
    pub facts: Vec<Fact>,
    /// Whether the facts are the provider's (its signature verified, the agreement's module
    /// named) rather than only the host's word.
    pub facts_verified: bool,
    /// The checks, in the order made.
    pub checks: Vec<Check>,
    /// The documentation, as published (Markdown, shown as text).
    pub documentation: Option<String>,
    /// How to fetch the module and compare it with a build of the source.
    pub reproduce: String,
}

/// The review of `signed`'s program if it is one a party wrote, checked against the host's
/// publication.
pub fn review(broker: &Broker, signed: &SignedAgreement) -> Option<ProgramReview> {
    let program = &signed.agreement.program;
    if program.id != sealroom_programs::wasm::ID {
        return None;
    }
    let params: WasmParams = serde_json::from_value(program.params.clone()).ok()?;
    let host = HostClient::with_timeout(broker.host_url(), HOST_TIMEOUT);
    let reproduce = format!(
        "curl -s {base}/v1/programs/{m}/module | sha256sum\n\
         # then build the module from the source you reviewed (for sealroom's examples:\n\
         # scripts/build-examples.sh) and compare its SHA-256 with {m}",
        base = host.base(),
        m = params.module
    );
    let mode = match params.mode {
        Mode::PerPerson => {
            "Per person: the platform calls it once per person in a fresh instance, \
                            bounds each contribution and adds the noise, so its outputs are \
                            differentially private whatever it does."
                .to_string()
        }
        Mode::Vetted => format!(
            "VETTED: it sees every person's rows at once, and the platform noises its answer at \
             the sensitivity this agreement states ({} {}). The outputs are private only if that \
             statement is true: by signing this agreement, {} state that they reviewed the \
             program.",
            params.norm_name(),
            params.bound,
            params.reviewed_by.join(", ")
        ),
    };
    let mut review = ProgramReview {
        module: params.module.clone(),
        mode,
        facts: Vec::new(),
        facts_verified: false,
        checks: Vec::new(),
        documentation: None,
        reproduce,
    };
    let published = match host.program(&params.module) {
        Ok(published) => published,
        Err(e) => {
            review.checks.push(Check::new(
                false,
                format!("the host has no publication of this module: {e}"),
            ));
            return Some(review);
        }
    };
    let p = &published.publication.publication;
    let provider = signed
        .agreement
        .parties
        .iter()
        .find(|card| card.fingerprint().ok() == Some(p.provider));
    review.facts = vec![
        Fact::new("Name", p.name.clone()),
        Fact::new(
            "Provider",
            provider.map_or_else(
                || format!("{} (not a party to this agreement)", p.provider),
                |card| format!("{} ({})", card.name, p.provider),
            ),
        ),
        Fact::new("Size", format!("{} bytes", p.size)),
        Fact::new("Documentation SHA-256", p.documentation.clone()),
        Fact::new(
            "Source tree digest",
            p.source
                .clone()
                .unwrap_or_else(|| "not given by the provider".into()),
        ),
        Fact::new("Published", time(p.published_at)),
        Fact::new(
            "Log entry",
            format!("{} (as the host says)", published.log_index),
        ),
    ];
    let signed_by_party = match provider {
        Some(card) => match published.publication.verify(card) {
            Ok(()) => Check::new(true, format!("signed by {}, verified", card.name)),
            Err(_) => Check::new(
                false,
                format!("the signature is not {}'s: do not approve", card.name),
            ),
        },
        None => Check::new(
            false,
            "the provider is not a party to this agreement: its signature cannot be checked".into(),
        ),
    };
    let names_module = p.module == params.module;
    // Until both hold, every digest above is only the host's word.
    let trusted = signed_by_party.class == "ok" && names_module;
    review.facts_verified = trusted;
    review.checks.push(signed_by_party);
    review.checks.push(if names_module {
        Check::new(true, "the publication names the agreement's module".into())
    } else {
        Check::new(
            false,
            format!("the host answered with the publication of {}", p.module),
        )
    });
    let documented = trusted && sha256_hex(published.documentation.as_bytes()) == p.documentation;
    review.checks.push(Check::new(
        documented,
        if documented {
            "the documentation below is the one the provider signed".into()
        } else if trusted {
            "the documentation the host serves is not the one the provider signed".into()
        } else {
            "the documentation cannot be checked without the provider's signature: not shown".into()
        },
    ));
    // At most the size the provider signed (the largest module otherwise) is read.
    let most = if trusted { p.size } else { MAX_MODULE_BYTES };
    review.checks.push(match host.program_module(&params.module, most) {
        Ok(bytes) if sha256_hex(&bytes) == params.module => Check::new(
            true,
            format!(
                "the host serves the module's {} bytes, and they hash to the agreement's digest",
                bytes.len()
            ),
        ),
        Ok(bytes) => Check::new(
            false,
            format!(
                "the module the host serves hashes to {}, not the agreement's digest: the isolate will refuse it",
                sha256_hex(&bytes)
            ),
        ),
        Err(e) if trusted => Check::new(
            false,
            format!(
                "the host did not serve the module's {} bytes the provider signed: {e}",
                p.size
            ),
        ),
        Err(e) => Check::new(false, format!("the host did not serve the module: {e}")),
    });
    if documented {
        review.documentation = Some(published.documentation);
    }
    Some(review)
}
