//! Commands that publish agreements, start runs and open their results.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Publish { host, agreement } => {
            let signed = agreement_file::load(&agreement)?;
            HostClient::new(&host).publish(&signed)?;
            if json {
                print_json(&serde_json::json!({ "agreement_id": signed.id }))?;
            } else {
                println!("the host holds agreement {}", signed.id);
            }
        }
        Command::Program(ProgramCommand::Publish {
            host,
            key,
            name,
            doc,
            source,
            module,
        }) => {
            let identity = Identity::read_key_file(&key)?;
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read {}", module.display()))?;
            let documentation = std::fs::read_to_string(&doc)
                .with_context(|| format!("cannot read {}", doc.display()))?;
            let (signed, index) = sealroom_party::programs::publish_program(
                &HostClient::new(&host),
                &identity,
                &name,
                bytes,
                documentation,
                source.as_deref(),
                &SystemClock,
            )?;
            let p = &signed.publication;
            if json {
                print_json(&serde_json::json!({
                    "module": p.module, "size": p.size, "documentation": p.documentation,
                    "source": p.source, "log_index": index,
                }))?;
            } else {
                println!(
                    "published {} ({} bytes) as log entry {index}",
                    p.name, p.size
                );
                println!("module        {}", p.module);
                println!("documentation {}", p.documentation);
                if let Some(source) = &p.source {
                    println!("source tree   {source}");
                }
                println!(
                    "agreements name it as [program] id = \"wasm\", params.module = \"{}\"",
                    p.module
                );
            }
        }
        Command::Run {
            host,
            agreement,
            key,
            no_wait,
        } => {
            let signed = agreement_file::load(&agreement)?;
            let identity = Identity::read_key_file(&key)?;
            let client = HostClient::new(&host);
            let queued = runs::request_run(&client, &identity, signed.id, &SystemClock)?;
            if no_wait {
                if json {
                    print_json(&queued)?;
                } else {
                    println!("job {} is {:?}", queued.job_id, queued.status);
                }
                return Ok(());
            }
            let bar = spinner(json);
            bar.set_message(format!(
                "job {} is {:?}; waiting for it in a fresh isolate",
                queued.job_id.short(),
                queued.status
            ));
            let record = runs::wait_for_job(&client, &identity, &queued.job_id);
            bar.finish_and_clear();
            let record = record?;
            if json {
                print_json(&record)?;
            }
            if let Some(failure) = runs::failed(&record) {
                return Err(failure.into());
            }
            if !json {
                println!(
                    "job {} finished; outputs sealed to {}",
                    record.job_id,
                    record
                        .outputs
                        .iter()
                        .map(|o| o.reader.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Command::Open(a) => {
            let identity = Identity::read_key_file(&a.key)?;
            let agreement = agreement_file::load(&a.agreement)?;
            let mut verifier = EvidenceVerifier::new();
            if let Some(key) = &a.accept_simulator_evidence {
                eprintln!(
                    "warning: accepting SIMULATOR evidence: the simulator protects nothing from the operator"
                );
                verifier = verifier.accept_simulator_evidence(platform_key(key)?);
            }
            let log_key = log_key(&a.log_key)?;
            let bundle = HostClient::new(&a.host).outputs(&identity, &a.job)?;
            let opened =
                reader::open_outputs(&identity, &agreement, &a.job, &bundle, &verifier, &log_key)?;
            if json {
                print_json(&opened)?;
            } else {
                print_opened(&opened);
            }
        }
        _ => bail!("this command is not one of jobs's"),
    }
    Ok(())
}
