//! Commands that audit and check the transparency log.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Audit(a) => {
            let party = read_card(&a.party)?;
            let key = log_key(&a.log_key)?;
            let state = a
                .state
                .unwrap_or_else(|| auditor::default_state_path(&a.party, &party));
            let bar = spinner(json);
            let report = auditor::run_audit(&a.host, &key, &party, &state, |done, total| {
                bar.set_message(format!("reading the log: {done} of {total} new entries"))
            });
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&report)?;
            } else {
                print_audit(&report, &state);
            }
        }
        Command::Log(LogCommand::Checkpoint {
            host,
            log_key: key,
            out,
        }) => {
            let key = log_key(&key)?;
            let checkpoint = LogClient::new(&host, Duration::from_secs(30)).checkpoint(&key)?;
            if let Some(out) = &out {
                std::fs::write(out, &checkpoint.note)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            if json {
                print_json(&serde_json::json!({
                    "size": checkpoint.size,
                    "root": bytes::encode(&checkpoint.root),
                    "checkpoint": checkpoint.note,
                }))?;
            } else if out.is_none() {
                print!("{}", checkpoint.note);
            } else {
                println!(
                    "checkpoint of {} entries verified and saved",
                    checkpoint.size
                );
            }
        }
        Command::Log(LogCommand::Verify {
            host,
            log_key: key,
            entry: Some(entry),
            ..
        }) => {
            let key = log_key(&key)?;
            let client = LogClient::new(&host, Duration::from_secs(30));
            let text = std::fs::read_to_string(&entry)
                .with_context(|| format!("cannot read {}", entry.display()))?;
            let logged: sealroom_core::log::LoggedEntry = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a logged entry", entry.display()))?;
            let proven = sealroom_ledger::verify_logged_entry(&logged, &key)?;
            let latest = client.checkpoint(&key)?;
            client.check_extends(&proven, &latest)?;
            if json {
                print_json(&serde_json::json!({
                    "included": true,
                    "index": logged.index,
                    "size": proven.size,
                    "latest_size": latest.size,
                }))?;
            } else {
                println!(
                    "included: entry {} is in the log of {} entries, which the latest of {} entries extends",
                    logged.index, proven.size, latest.size
                );
            }
        }
        Command::Log(LogCommand::Verify {
            host,
            log_key: key,
            old,
            new,
            entry: None,
        }) => {
            let key = log_key(&key)?;
            let client = LogClient::new(&host, Duration::from_secs(30));
            let old = read_checkpoint(
                &old.context("name the older checkpoint file, or --entry")?,
                &key,
            )?;
            let new = match &new {
                Some(path) => read_checkpoint(path, &key)?,
                None => client.checkpoint(&key)?,
            };
            client.check_extends(&old, &new)?;
            if json {
                print_json(
                    &serde_json::json!({ "consistent": true, "old_size": old.size, "new_size": new.size }),
                )?;
            } else {
                println!(
                    "consistent: the log of {} entries extends the one of {} entries",
                    new.size, old.size
                );
            }
        }
        _ => bail!("this command is not one of transparency's"),
    }
    Ok(())
}
