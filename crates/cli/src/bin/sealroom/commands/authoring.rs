//! Commands that create identities and write agreements.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Party(PartyCommand::New {
            name,
            broker_url,
            dir,
        }) => {
            let identity = Identity::generate(&name, broker_url)?;
            let key = dir.join(format!("{name}.key"));
            let card_path = dir.join(format!("{name}.card.json"));
            if card_path.exists() {
                bail!(
                    "{} already exists; refusing to overwrite",
                    card_path.display()
                );
            }
            identity.write_key_file(&key)?;
            let card = identity.card();
            std::fs::write(&card_path, serde_json::to_string_pretty(&card)? + "\n")?;
            if json {
                print_json(
                    &serde_json::json!({ "key_file": key, "card_file": card_path, "fingerprint": card.fingerprint()? }),
                )?;
            } else {
                println!(
                    "wrote {} (private, mode 0600) and {} (public)",
                    key.display(),
                    card_path.display()
                );
                println!("fingerprint {}", card.fingerprint()?);
            }
        }
        Command::Party(PartyCommand::Show { file, toml }) => {
            let card = read_card(&file)?;
            if json {
                print_json(
                    &serde_json::json!({ "card": card, "fingerprint": card.fingerprint()? }),
                )?;
            } else if toml {
                print!("{}", sealroom_party::authoring::party_block(&card));
            } else {
                println!("name         {}", card.name);
                println!("fingerprint  {}", card.fingerprint()?);
                println!("signing key  {}", bytes::encode(&card.signing_key.0));
                println!("hpke key     {}", bytes::encode(&card.hpke_key.0));
                println!(
                    "broker       {}",
                    card.broker_url.as_deref().unwrap_or("(none)")
                );
            }
        }
        Command::Agreement(cmd) => agreement_command(cmd, json)?,
        Command::Programs => {
            let list = sealroom_programs::BuiltinCatalog.list();
            if json {
                print_json(&list.iter().map(|p| serde_json::json!({"id": p.id, "version": p.version, "summary": p.summary, "params": p.params})).collect::<Vec<_>>())?;
            } else {
                for p in list {
                    println!(
                        "{} v{}: {}\n  params: {}",
                        p.id, p.version, p.summary, p.params
                    );
                }
            }
        }
        Command::Measure { path } => {
            let path = match path {
                Some(p) => p,
                None => executables()?.isolate,
            };
            let m = sealroom_attest::measure_file(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if json {
                print_json(
                    &serde_json::json!({ "path": path, "platform": "sim", "measurement": m }),
                )?;
            } else {
                println!("{m}");
            }
        }
        _ => bail!("this command is not one of authoring's"),
    }
    Ok(())
}

fn agreement_command(cmd: AgreementCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        AgreementCommand::Check { file } => {
            let signed = agreement_file::load(&file)?;
            let plan = sealroom_isolate::release::plan_agreement_noise(&signed.agreement)
                .map_err(|e| CommandRefusal::NoiseCannotBeSized(e.to_string()))?;
            let thresholds: Vec<u64> = plan.thresholds.iter().flatten().map(|t| t.0).collect();
            let missing = signed.missing_signers();
            if json {
                let noise: Vec<_> = plan
                    .measures
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "mechanism": p.mechanism.as_ref().map_or("none", |m| m.name()),
                            "parameter": p.mechanism.as_ref().map(|m| m.parameter()),
                            "epsilon_share": format!("{}/{}", p.epsilon_share.0, p.epsilon_share.1),
                        })
                    })
                    .collect();
                print_json(&serde_json::json!({
                    "valid": true,
                    "agreement_id": signed.id,
                    "missing_signatures": missing,
                    "noise": noise,
                    "thresholds": thresholds,
                }))?;
            } else {
                println!("valid agreement {}", signed.id);
                for p in &plan.measures {
                    let (num, den) = p.epsilon_share;
                    match &p.mechanism {
                        Some(m) => println!(
                            "noise: {} with parameter {} ({num}/{den} of ε)",
                            m.name(),
                            m.parameter()
                        ),
                        None => println!("noise: none (outputs are exact and say so)"),
                    }
                }
                for tau in thresholds {
                    println!("undeclared keys need a noisy value of at least {tau}");
                }
                if !missing.is_empty() {
                    println!("not yet signed by {}", missing.join(", "));
                }
            }
        }
        AgreementCommand::Id { file } => {
            let signed = agreement_file::load(&file)?;
            if json {
                print_json(&serde_json::json!({ "agreement_id": signed.id }))?;
            } else {
                println!("{}", signed.id);
            }
        }
        AgreementCommand::Sign { file, key, out } => {
            let identity = Identity::read_key_file(&key)?;
            let mut signed = agreement_file::load(&file)?;
            agreement_file::sign(&mut signed, &identity)?;
            let out = out.unwrap_or_else(|| {
                if file.extension().is_some_and(|e| e == "json") {
                    file.clone()
                } else {
                    file.with_extension("signed.json")
                }
            });
            agreement_file::save(&signed, &out)?;
            let missing = signed.missing_signers();
            if json {
                print_json(
                    &serde_json::json!({ "agreement_id": signed.id, "file": out, "missing_signatures": missing }),
                )?;
            } else {
                println!(
                    "{} signed agreement {} into {}",
                    identity.name(),
                    signed.id.short(),
                    out.display()
                );
                if missing.is_empty() {
                    println!(
                        "every party has signed: the agreement is in force within its validity window"
                    );
                } else {
                    println!("still to sign: {}", missing.join(", "));
                }
            }
        }
        AgreementCommand::Show { file } => {
            let signed = agreement_file::load(&file)?;
            if json {
                return print_json(&signed);
            }
            let a = &signed.agreement;
            println!("agreement {} ({})", signed.id, a.name);
            println!("valid {} to {}", a.valid_from, a.valid_until);
            for p in &a.parties {
                let signed_by = signed.signatures.iter().any(|s| s.party == p.name);
                println!(
                    "  party {:<16} {}  {}",
                    p.name,
                    p.fingerprint()?.short(),
                    if signed_by { "signed" } else { "NOT SIGNED" }
                );
            }
            for d in &a.datasets {
                let cols: Vec<String> = d
                    .schema
                    .columns
                    .iter()
                    .map(|c| format!("{}:{}", c.name, c.kind.name()))
                    .collect();
                println!(
                    "  dataset {} [{}] person column {}",
                    d.qualified_name(),
                    cols.join(", "),
                    d.schema.person_column
                );
            }
            println!(
                "  program {} v{} {}",
                a.program.id, a.program.version, a.program.params
            );
            for r in &a.runtimes {
                for m in &r.measurements {
                    println!("  runtime {} {}", r.platform, m);
                }
                for (id, fields) in r.runtime_ids().iter().zip(&r.accept) {
                    let named: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    println!("  runtime {} {} ({})", r.platform, id, named.join(", "));
                }
                if !r.accept_tcb_status.is_empty() {
                    let statuses: Vec<&str> =
                        r.accept_tcb_status.iter().map(|s| s.name()).collect();
                    println!(
                        "    {} TCB statuses accepted besides UpToDate: {}",
                        r.platform,
                        statuses.join(", ")
                    );
                }
                for (component, minimum) in &r.min_tcb {
                    println!("    {} minimum {component} version {minimum}", r.platform);
                }
            }
            for o in &a.outputs {
                println!("  output {} -> {}", o.name, o.readers.join(", "));
            }
            let p = &a.privacy;
            let noise = serde_json::to_value(p.noise)?;
            println!(
                "  privacy ε {} per run, δ {}, total ε {} per dataset, ≤ {} groups per person, noise {}",
                p.epsilon_per_run,
                p.delta_per_run,
                p.total_epsilon_per_dataset,
                p.max_groups_per_person,
                noise.as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}
