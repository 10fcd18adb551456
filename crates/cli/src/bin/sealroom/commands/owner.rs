//! Commands a data owner runs: seal, register, upload, decide, look at budgets.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Seal(a) => {
            let identity = Identity::read_key_file(&a.key)?;
            let agreement = agreement_file::load(&a.agreement)?;
            let total = std::fs::metadata(&a.input)
                .with_context(|| format!("cannot read {}", a.input.display()))?
                .len();
            let bar = byte_bar(json, total, "sealing");
            let progress_bar = bar.clone();
            let summary = owner::seal_dataset(
                &identity,
                &agreement,
                &a.dataset,
                &a.input,
                &a.out,
                &owner::SealOptions {
                    format: a.format,
                    chunk_size: a.chunk_size,
                },
                SystemClock.now_millis(),
                Box::new(move |n| progress_bar.set_position(n)),
            );
            bar.finish_and_clear();
            let summary = summary?;
            let registered = if a.no_register {
                None
            } else {
                let broker = broker_of(&identity, a.broker.as_deref())?;
                Some(broker.register(&summary.registration(&identity)).with_context(|| {
                    format!(
                        "{} was sealed but could not be registered with your broker; run `sealroom register` once it is reachable",
                        summary.output.display()
                    )
                })?)
            };
            if json {
                print_json(&serde_json::json!({ "seal": summary, "registered": registered }))?;
            } else {
                println!(
                    "sealed {} rows of {} ({} file, {} bytes) into {} ({} bytes, header {})",
                    summary.rows,
                    summary.dataset,
                    summary.format,
                    summary.source_bytes,
                    summary.output.display(),
                    summary.envelope_bytes,
                    summary.header_digest.short()
                );
                if !summary.ignored_columns.is_empty() {
                    println!(
                        "left out the columns the schema does not name: {}",
                        summary.ignored_columns.join(", ")
                    );
                }
                match registered {
                    Some(_) => println!("registered with your broker as the current version"),
                    None => println!("not registered yet: run `sealroom register` before any run"),
                }
            }
        }
        Command::Register {
            key,
            broker,
            envelope,
        } => {
            let identity = Identity::read_key_file(&key)?;
            let registration = owner::registration_of(&identity, &envelope)?;
            let header = &registration.registration.header;
            let registered = broker_of(&identity, broker.as_deref())?.register(&registration)?;
            if json {
                print_json(&registered)?;
            } else {
                println!(
                    "{} (header {}) is the current envelope of {} for agreement {}",
                    envelope.display(),
                    registered.header_digest.short(),
                    header.qualified_name(),
                    header.agreement.short()
                );
            }
        }
        Command::Upload { host, envelope } => {
            let size = std::fs::metadata(&envelope)
                .with_context(|| format!("cannot open {}", envelope.display()))?
                .len();
            let bar = byte_bar(json, size, "uploading");
            let shown = bar.clone();
            let stored = owner::upload(&HostClient::new(&host), &envelope, move |n| {
                shown.set_position(n)
            });
            bar.finish_and_clear();
            let stored = stored?;
            if json {
                print_json(&stored)?;
            } else {
                println!(
                    "uploaded {}/{}: {} bytes, digest {}",
                    stored.owner, stored.dataset, stored.size, stored.digest
                );
            }
        }
        Command::Approve(a) => decision_command(a, Decision::Approve, json)?,
        Command::Revoke(a) => decision_command(a, Decision::Revoke, json)?,
        Command::Budget { broker, key } => {
            let identity = Identity::read_key_file(&key)?;
            let budgets = broker_of(&identity, broker.as_deref())?.budgets(&identity)?;
            if json {
                print_json(&budgets)?;
            } else if budgets.is_empty() {
                println!("no budget spent yet");
            } else {
                for b in budgets {
                    let eps = |m: u64| {
                        sealroom_core::Epsilon::from_micros(m)
                            .map(|e| e.to_string())
                            .unwrap_or_else(|_| "0".into())
                    };
                    println!(
                        "{} {}: spent ε {} of {} in {} releases; ε {} left",
                        b.agreement.short(),
                        b.dataset,
                        eps(b.spent_micros),
                        eps(b.total_micros),
                        b.releases,
                        eps(b.total_micros.saturating_sub(b.spent_micros))
                    );
                }
            }
        }
        _ => bail!("this command is not one of owner's"),
    }
    Ok(())
}

/// The broker at `url`, or the one named in `identity`'s key file.
pub(crate) fn broker_of(identity: &Identity, url: Option<&str>) -> anyhow::Result<BrokerClient> {
    match url {
        Some(url) => Ok(BrokerClient::new(url)),
        None => BrokerClient::of(&identity.card())
            .context("your key file names no broker URL; pass --broker"),
    }
}

fn decision_command(a: DecisionArgs, decision: Decision, json: bool) -> anyhow::Result<()> {
    let identity = Identity::read_key_file(&a.key)?;
    let agreement = agreement_file::load(&a.agreement)?;
    let signed = owner::decide(
        &identity,
        &SystemClock,
        agreement.id,
        a.platform,
        a.measurement,
        decision,
    )?;
    let stored = broker_of(&identity, a.broker.as_deref())?.decide(&signed)?;
    let verb = if decision == Decision::Approve {
        "approved"
    } else {
        "revoked"
    };
    if json {
        print_json(&serde_json::json!({ "decision": signed.statement, "stored": stored }))?;
    } else if stored {
        println!(
            "{verb} {} measurement {} for agreement {}",
            a.platform,
            a.measurement.short(),
            agreement.id.short()
        );
    } else {
        println!("a newer decision already stands at the broker; nothing changed");
    }
    Ok(())
}
