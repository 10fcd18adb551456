//! Text output of `sealroom` (what `--json` replaces).

use sealroom_cli::{demo, reader};
use serde::Serialize;

pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn print_opened(opened: &reader::OpenedOutputs) {
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
        println!(
            "\n{} ({} noise, scale {}, ε {}, sensitivity {}, 95% of values within ±{})",
            t.output,
            t.noise.mechanism,
            t.noise.scale,
            t.noise.epsilon,
            t.noise.sensitivity,
            t.noise.error_bound_95
        );
        println!("{:<20} {:>12}", t.group_column, t.value_column);
        for row in &t.rows {
            println!("{:<20} {:>12}", row.group, row.value);
        }
    }
}

pub fn print_demo(r: &demo::DemoReport) {
    let t = &r.table;
    println!(
        "sealroom demo — an ad platform and an advertiser measure campaign reach without sharing rows\n"
    );
    println!("agreement  {}", r.agreement_id);
    println!("isolate    sim measurement {}", r.measurement);
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
    println!(
        "  noise: {} with scale {} (ε {}, sensitivity {}); 95% of released values lie within ±{} of the exact ones",
        t.noise.mechanism,
        t.noise.scale,
        t.noise.epsilon,
        t.noise.sensitivity,
        t.noise.error_bound_95
    );
    if t.simulator {
        println!(
            "  SIMULATOR: this ran in the software simulator, which protects nothing from the operator."
        );
    }
    if let Some(receipt) = &r.job.receipt {
        println!("\nReceipt signed by the isolate's ephemeral key:");
        for i in &receipt.receipt.inputs {
            println!(
                "  read  {}/{} (envelope {}) debiting ε {}",
                i.owner,
                i.dataset,
                i.envelope_digest.short(),
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
    println!(
        "\ndone in {} ms; working directory {}",
        r.total_millis,
        r.dir.display()
    );
}
