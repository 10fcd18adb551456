//! Text output of `sealroom` (what `--json` replaces).

use std::path::Path;

use sealroom_cli::demo;
use sealroom_core::output::NoiseAnnotation;
use sealroom_ledger::audit::AuditReport;
use serde::Serialize;

pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn print_opened(opened: &sealroom_party::reader::OpenedOutputs) {
    let r = &opened.receipt;
    if r.simulator {
        println!(
            "!! produced under the SIMULATOR: the operator could have read or altered everything !!"
        );
    }
    println!(
        "job {} under agreement {} on {} runtime {}",
        r.job_id,
        r.agreement_id.short(),
        r.platform,
        r.measurement.short()
    );
    for t in &opened.tables {
        print_table(t);
    }
    println!();
    for i in &r.inputs {
        println!(
            "key release of {}/{} proven in the transparency log (entry {})",
            i.owner, i.dataset, i.release_log.index
        );
    }
}

pub fn print_audit(r: &AuditReport, state: &Path) {
    match r.previous_size {
        Some(old) => println!(
            "log {}: checkpoint of {} entries verified; it extends the one of {old} entries saved by your last audit",
            r.log, r.size
        ),
        None => println!(
            "log {}: checkpoint of {} entries verified (first audit: nothing saved to compare with)",
            r.log, r.size
        ),
    }
    println!(
        "read {} new entries; together they produce the checkpoint's root, so none is hidden",
        r.entries_read
    );
    print_audit_body(r);
    println!("checkpoint saved to {}", state.display());
}

/// The releases and events of an audit, as the CLI and the demo print them.
pub fn print_audit_body(r: &AuditReport) {
    if !r.forged.is_empty() {
        println!(
            "!! {} entries claim to speak for {} but are not signed by it: {:?}",
            r.forged.len(),
            r.party,
            r.forged
        );
    }
    println!(
        "
{} release(s) of {}'s data, each inclusion proof verified:",
        r.releases.len(),
        r.party
    );
    for logged in &r.releases {
        let x = &logged.release;
        println!(
            "  #{:<5} {}  {:<14} header {}  agreement {}  job {} by {}  {} {}  ε {}",
            logged.index,
            x.at,
            x.dataset,
            x.envelope.short(),
            x.agreement.short(),
            x.job.short(),
            x.requested_by,
            x.platform,
            x.measurement.short(),
            x.epsilon
        );
    }
    if !r.events.is_empty() {
        println!("other entries concerning {}:", r.party);
        for e in &r.events {
            println!(
                "  #{:<5} {:<17} agreement {}  {}",
                e.index,
                e.kind,
                e.agreement.short(),
                e.detail
            );
        }
    }
}

/// What protects a table, in one line a reader can judge the numbers by.
pub fn describe_noise(n: &NoiseAnnotation) -> String {
    let parameter = match n.mechanism.as_str() {
        "discrete-gaussian" => format!("σ² {}", n.scale),
        _ => format!("scale {}", n.scale),
    };
    let mut text = format!(
        "{} noise, {parameter}, ε {}{}{}{}, sensitivity {} (L1) / {} (L2); 95% of values within ±{}",
        n.mechanism,
        n.epsilon,
        if n.epsilon_share == "1/1" {
            String::new()
        } else {
            format!(" × {}", n.epsilon_share)
        },
        if n.delta > 0.0 {
            format!(", δ {:e}", n.delta)
        } else {
            String::new()
        },
        n.rho.map(|r| format!(", ρ {r:.5}")).unwrap_or_default(),
        n.sensitivity,
        n.l2_sensitivity,
        n.error_bound_95
    );
    if n.units != 1 {
        text.push_str(&format!("; values in 1/{} units", n.units));
    }
    if let Some(tau) = n.threshold {
        text.push_str(&format!(
            "; groups not declared in the agreement are shown only if their noisy value reached {tau}"
        ));
    }
    text
}

pub fn print_demo(r: &demo::DemoReport) {
    let t = &r.table;
    println!(
        "sealroom demo — an ad platform, an advertiser and two publishers measure ads without sharing rows\n"
    );
    println!("isolate    sim measurement {}", r.measurement);
    print_ad_story(&r.ads);
    println!(
        "\nThe overlap room: people who saw each campaign and later bought, with the refusals and audits"
    );
    println!("agreement  {}", r.agreement_id);
    println!(
        "job        {} finished in {} ms\n",
        r.job.job_id, r.job_millis
    );
    println!(
        "People who saw each campaign and later bought (opened by the advertiser, receipt verified):"
    );
    println!(
        "  {:<16} {:>10} {:>14}",
        "campaign", "released", "exact (demo)"
    );
    for c in &r.cells {
        println!("  {:<16} {:>10} {:>14}", c.group, c.released, c.exact);
    }
    for c in &t.columns {
        println!("  noise on {}: {}", c.name, describe_noise(&c.noise));
    }
    if t.simulator {
        println!(
            "  SIMULATOR: this ran in the software simulator, which protects nothing from the operator."
        );
    }
    if let Some(receipt) = &r.job.receipt {
        println!("\nReceipt signed by the isolate's ephemeral key:");
        for i in &receipt.receipt.inputs {
            println!(
                "  read  {}/{} (envelope {}, owner-signed header {}) debiting ε {}",
                i.owner,
                i.dataset,
                i.envelope_digest.short(),
                i.header_digest.short(),
                i.epsilon_debited
            );
        }
        for o in &receipt.receipt.outputs {
            println!(
                "  wrote {} (digest {}) for {}",
                o.output,
                o.digest.short(),
                o.readers.join(", ")
            );
        }
    }
    println!("\nRefused, as they should be:");
    for f in &r.refusals {
        println!("  - {}\n    [{}] {}", f.attempt, f.code, f.message);
    }
    println!("\nTransparency log {}:", r.log_key);
    for a in &r.audits {
        println!(
            "\n{}'s audit: checkpoint of {} entries verified; consistent with the one of {} entries it saved earlier; every entry read, none hidden",
            a.party,
            a.size,
            a.previous_size
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into())
        );
        print_audit_body(a);
    }
    println!(
        "\ndone in {} ms; working directory {}",
        r.total_millis,
        r.dir.display()
    );
}

/// The ad studies: each table's released values with their 95% error bars, and the truth.
fn print_ad_story(story: &demo::ads::AdStory) {
    println!(
        "synthetic population of {} people; every value below is released with noise (± its 95% error bar), the exact value in [brackets] is known only to this demo, which made the data",
        story.people
    );
    for study in &story.studies {
        println!("\n{} — {}", study.program, study.question);
        println!(
            "  room {} over {}; job {} finished in {} ms; opened by the advertiser, receipt verified",
            study.agreement_id,
            study.inputs.join(", "),
            study.job_id,
            study.job_millis
        );
        for table in &study.tables {
            print_study_table(table);
        }
        if study.program == "lift" {
            println!(
                "  the data was generated with a true lift of {:.1}%{}",
                story.true_lift_percent,
                story
                    .sample_lift_percent
                    .map(|l| format!("; the people drawn show {l:.1}% exactly"))
                    .unwrap_or_default()
            );
        }
    }
}

fn print_study_table(table: &demo::ads::StudyTable) {
    let show = |value: i64, units: u64| {
        if units > 1 {
            format!("{:.2}", value as f64 / units as f64)
        } else {
            value.to_string()
        }
    };
    let bound = |value: u64, units: u64| show(i64::try_from(value).unwrap_or(i64::MAX), units);
    println!("  {}:", table.output);
    let key_header = if table.key_columns.is_empty() {
        vec![String::new()]
    } else {
        table.key_columns.clone()
    };
    let mut lines: Vec<Vec<String>> = vec![
        key_header
            .into_iter()
            .chain(table.columns.iter().map(|c| c.name.clone()))
            .collect(),
    ];
    for row in &table.rows {
        let key = if row.key.is_empty() {
            vec!["(all)".to_string()]
        } else {
            row.key.clone()
        };
        let cells = table.columns.iter().enumerate().map(|(i, c)| {
            format!(
                "{}±{} [{}]",
                show(row.released[i], c.units),
                bound(c.error_bound_95, c.units),
                show(row.truth[i], c.units)
            )
        });
        lines.push(key.into_iter().chain(cells).collect());
    }
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("    {}", cells.join("  ").trim_end());
    }
    for figure in &table.derived {
        let value = figure
            .value
            .map_or_else(|| "undefined".to_string(), |v| format!("{v:.1}"));
        match (figure.low_95, figure.high_95) {
            (Some(low), Some(high)) => println!(
                "    {} {value} (95% interval: {low:.1} to {high:.1})",
                figure.name
            ),
            _ => println!("    {} {value}", figure.name),
        }
    }
}

/// A released table: its key and value columns, then each value column's noise.
fn print_table(t: &sealroom_core::output::ReleasedTable) {
    println!("\n{}:", t.output);
    let header: Vec<&str> = t
        .key_columns
        .iter()
        .map(String::as_str)
        .chain(t.columns.iter().map(|c| c.name.as_str()))
        .collect();
    println!("  {}", header.join("\t"));
    for row in &t.rows {
        let cells: Vec<String> = row
            .key
            .iter()
            .cloned()
            .chain(row.values.iter().map(i64::to_string))
            .collect();
        println!("  {}", cells.join("\t"));
    }
    for c in &t.columns {
        println!("  noise on {}: {}", c.name, describe_noise(&c.noise));
    }
    if let Some(w) = &t.wasm {
        println!("  program: {}", describe_wasm_run(w));
    }
}

/// Who guarantees a Wasm program's figures, in one line.
pub fn describe_wasm_run(w: &sealroom_core::output::WasmRunFacts) -> String {
    let module = w.module.get(..16).unwrap_or(&w.module);
    if w.mode != "per_person" && w.mode != "vetted" {
        return format!(
            "Wasm {} ({module}…) in a mode this version does not know ({:?}): do not rely on it",
            w.program, w.mode
        );
    }
    if w.mode == "vetted" {
        format!(
            "Wasm {} ({module}…) in the VETTED mode: it saw the whole tables; the noise rests on \
             the sensitivity the agreement states, reviewed by {}",
            w.program,
            w.reviewed_by.join(", ")
        )
    } else {
        format!(
            "Wasm {} ({module}…) in the per-person mode: each person's contribution bounded by the \
             platform, private whatever the program does",
            w.program
        )
    }
}

pub fn print_dap_demo(r: &sealroom_cli::dap::demo::DapDemoReport) {
    println!(
        "Split aggregation: {} browsers report their page-load time bucket. Each report is split",
        r.browsers
    );
    println!("between a leader and a helper (two processes): neither sees any browser's time.");
    println!(
        "{} more clients sent reports that carry no valid measurement.",
        r.invalid_clients
    );
    println!();
    println!(
        "The collector's histogram of the hour ({} reports):",
        r.report_count
    );
    let most = r.collected.iter().copied().max().unwrap_or(1).max(1);
    for ((label, count), truth) in r.buckets.iter().zip(&r.collected).zip(&r.truth) {
        let bar = "█".repeat((count * 40 / most) as usize);
        println!("  {label:>13}  {count:>6}  {bar}  [true {truth}]");
    }
    println!(
        "{}",
        if r.exact {
            "Exact: the histogram equals the browsers' true histogram; the invalid reports were rejected by the proof."
        } else {
            "NOT EXACT: the histogram differs from the truth."
        }
    );
    println!();
    println!("Refused, as the protocol requires:");
    println!("  a replayed report                    {}", r.replay);
    println!(
        "  a second, overlapping collection     {}",
        r.second_collection
    );
    println!("  a collector without the token        {}", r.wrong_token);
    println!();
    println!("{:.1} s end to end.", r.seconds);
}
