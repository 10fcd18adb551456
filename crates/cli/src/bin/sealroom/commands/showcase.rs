//! The demo and the benchmarks.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Demo {
            story: args::DemoStory::Dap,
            dir,
            seed,
            ..
        } => {
            let scratch = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| scratch.path().to_path_buf());
            let sealroom = std::env::current_exe()?;
            let report = with_steps(json, |step| {
                sealroom_cli::dap::demo::run(&sealroom, &dir, 10_000, seed, step)
            })?;
            if json {
                print_json(&report)?;
            } else {
                print_dap_demo(&report);
            }
            anyhow::ensure!(
                report.exact,
                "the collected histogram differs from the truth"
            );
        }
        Command::Demo {
            story: args::DemoStory::Ml,
            dir,
            people,
            seed,
        } => {
            let options = demo::DemoOptions {
                dir,
                people: people.unwrap_or(10_000),
                seed,
                ..demo::DemoOptions::new(executables()?)
            };
            let report = with_steps(json, |step| demo::ml::run(&options, step))?;
            if json {
                print_json(&report)?;
            } else {
                print_ml_demo(&report);
            }
        }
        Command::Demo {
            dir, people, seed, ..
        } => {
            let options = demo::DemoOptions {
                dir,
                people: people.unwrap_or(20_000),
                seed,
                ..demo::DemoOptions::new(executables()?)
            };
            let report = with_steps(json, |step| demo::run(&options, step))?;
            if json {
                print_json(&report)?;
            } else {
                print_demo(&report);
            }
        }
        Command::Bench(BenchCommand::Seal { size, dir }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let r = with_steps(json, |step| bench::seal(size, scratch.path(), step))?;
            if json {
                print_json(&r)?;
            } else {
                let gb = |x: f64| x / 1e9;
                println!("plaintext            {:.0} MB", r.bytes as f64 / 1e6);
                let vs = |x: f64| {
                    format!(
                        "{:.2} GB/s  {:.2} of in-place, {:.2} of out-of-place AEAD",
                        gb(x),
                        x / r.raw_aead,
                        x / r.raw_aead_out_of_place
                    )
                };
                println!("raw AES-256-GCM in place      {:.2} GB/s", gb(r.raw_aead));
                println!(
                    "  pure Rust (aes-gcm) in place {:.2} GB/s  {:.2} of aws-lc",
                    gb(r.raw_aead_pure_rust),
                    r.raw_aead_pure_rust / r.raw_aead
                );
                println!(
                    "raw AES-256-GCM out of place  {:.2} GB/s",
                    gb(r.raw_aead_out_of_place)
                );
                println!("envelope seal (memory)        {}", vs(r.envelope_seal));
                println!("envelope open (memory)        {}", vs(r.envelope_open));
                println!(
                    "sealroom seal (files)         {}  (bounded by the CSV schema check)",
                    vs(r.seal_file)
                );
                println!("open (files)                  {}", vs(r.open_file));
                println!(
                    "peak memory after file phases {:.1} MB",
                    r.peak_rss as f64 / 1e6
                );
            }
        }
        Command::Bench(BenchCommand::Sources { rows, dir }) => {
            let dir = dir.unwrap_or_else(|| std::env::temp_dir().join("sealroom-bench"));
            std::fs::create_dir_all(&dir)?;
            let r = with_steps(json, |step| bench::sources(rows, &dir, step))?;
            if json {
                print_json(&r)?;
            } else {
                let mb = |b: u64| b as f64 / 1e6;
                println!(
                    "{} rows; CSV {:.0} MB, Parquet {:.0} MB (DuckDB {})",
                    r.rows,
                    mb(r.csv_bytes),
                    mb(r.parquet_bytes),
                    r.duckdb_version
                );
                let line = |what: &str, seconds: f64, bytes: u64| {
                    println!(
                        "{what:<34} {seconds:>7.2} s  {:>6.2} M rows/s  {:>7.1} MB/s of source  {:.2}× DuckDB's time",
                        r.rows as f64 / seconds / 1e6,
                        mb(bytes) / seconds,
                        seconds / r.duckdb_csv_to_parquet
                    );
                };
                line(
                    "DuckDB CSV → Parquet (peer)",
                    r.duckdb_csv_to_parquet,
                    r.csv_bytes,
                );
                line("sealroom seal from CSV", r.seal_csv, r.csv_bytes);
                line(
                    "sealroom seal from Parquet",
                    r.seal_parquet,
                    r.parquet_bytes,
                );
                line(
                    "open + decode (isolate side)",
                    r.open_and_decode,
                    r.parquet_bytes,
                );
                println!("peak memory {:.0} MB", r.peak_rss as f64 / 1e6);
            }
        }
        Command::Synth(SynthCommand::Ads {
            people,
            campaigns,
            publishers,
            seed,
            true_lift,
            format,
            out,
        }) => {
            let options = sealroom_cli::synth::AdsOptions {
                people,
                campaigns,
                publishers,
                seed,
                true_lift_percent: true_lift,
                format,
                out,
            };
            let summary = with_steps(json, |step| sealroom_cli::synth::ads(&options, step))?;
            if json {
                print_json(&summary)?;
            } else {
                for (file, rows) in &summary.files {
                    println!("{file:<16} {rows:>12} rows");
                }
                println!(
                    "generated in {:.1} s; exact answers in {} ({:.1} s)",
                    summary.generate_seconds,
                    summary.truth.display(),
                    summary.truth_seconds
                );
            }
        }
        Command::Bench(
            command @ (BenchCommand::Attribution(_)
            | BenchCommand::Lift(_)
            | BenchCommand::Reach(_)),
        ) => {
            let (program, args) = match command {
                BenchCommand::Attribution(a) => ("attribution", a),
                BenchCommand::Lift(a) => ("lift", a),
                BenchCommand::Reach(a) => ("reach_frequency", a),
                _ => unreachable!("matched above"),
            };
            let dir = args
                .dir
                .unwrap_or_else(|| std::env::temp_dir().join("sealroom-bench"));
            std::fs::create_dir_all(&dir)?;
            let r = with_steps(json, |step| {
                bench::ads(program, args.people, &dir, executables()?, step)
            })?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{}: inputs of {} and {} rows",
                    r.program, r.input_rows[0], r.input_rows[1]
                );
                println!(
                    "sealed job (run request → sealed outputs stored)  {:>7.2} s",
                    r.job_seconds
                );
                println!(
                    "DuckDB {} on the Parquet files, 2 threads        {:>7.2} s",
                    r.duckdb_version, r.duckdb_seconds
                );
                println!(
                    "ratio {:.2}; DuckDB's answer {} the program's noise-free answer",
                    r.job_seconds / r.duckdb_seconds,
                    if r.duckdb_agrees {
                        "equals"
                    } else {
                        "DIFFERS FROM"
                    }
                );
                println!(
                    "isolate peak memory {:.0} MB",
                    r.isolate_peak_rss as f64 / 1e6
                );
            }
            anyhow::ensure!(
                r.duckdb_agrees,
                "DuckDB's exact answer differs from the program's"
            );
        }
        Command::Bench(BenchCommand::Ml {
            people,
            features,
            rounds,
            epsilon,
            seed,
        }) => {
            anyhow::ensure!(
                (1..=1000).contains(&features),
                "--features must be 1 to 1000"
            );
            anyhow::ensure!((1..=1000).contains(&rounds), "--rounds must be 1 to 1000");
            let options = demo::DemoOptions {
                people,
                seed,
                // A million people for twenty rounds outlasts the host's default of 600 s.
                job_timeout_seconds: Some(4 * 3600),
                ..demo::DemoOptions::new(executables()?)
            };
            let model = demo::ml::Model {
                epsilon,
                ..demo::ml::Model::wide(features, rounds)
            };
            let report = with_steps(json, |step| demo::ml::train(&options, &model, step))?;
            if json {
                print_json(&report)?;
            } else {
                print_ml_demo(&report);
            }
        }
        Command::Bench(BenchCommand::Wasm { rows, seed }) => {
            let r = with_steps(json, |step| bench::wasm(rows, seed, executables()?, step))?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "overlap over {} rows a side ({} people), module {}…",
                    r.rows_per_side,
                    r.people,
                    &r.module[..16]
                );
                println!(
                    "  {:<16} {:>9} {:>8} {:>10} {:>10}",
                    "program", "job (s)", "ratio", "max error", "95% bound"
                );
                for j in &r.jobs {
                    println!(
                        "  {:<16} {:>9.2} {:>8.2} {:>10} {:>10}",
                        j.program, j.job_seconds, j.ratio_to_builtin, j.max_error, j.error_bound_95
                    );
                }
                println!(
                    "per-person calls (fresh instances) per second of the whole job: {:.0}",
                    r.per_person_calls_per_second
                );
            }
        }
        Command::Bench(BenchCommand::Dap { reports, vdaf }) => {
            let scratch = tempfile::tempdir()?;
            let sealroom = std::env::current_exe()?;
            let r = with_steps(json, |step| {
                sealroom_cli::dap::bench::run(&sealroom, scratch.path(), reports, vdaf, step)
            })?;
            if json {
                print_json(&r)?;
            } else {
                println!("vdaf                        {}", r.vdaf);
                println!("reports                     {}", r.reports);
                println!(
                    "upload to collected         {:.2} s, {:.0} reports/s",
                    r.seconds, r.reports_per_second
                );
                println!(
                    "server CPU per report       {:.1} µs (leader {:.1}, helper {:.1})",
                    r.server_cpu_us_per_report,
                    r.leader_cpu_us_per_report,
                    r.helper_cpu_us_per_report
                );
                println!(
                    "cryptography per report     {:.1} µs",
                    r.limit_us_per_report
                );
                println!("ratio to the limit          {:.2}", r.ratio_to_limit);
            }
            anyhow::ensure!(
                r.exact,
                "the collected aggregate differs from the plaintext one"
            );
        }
        Command::Bench(BenchCommand::Portal {
            entries,
            samples,
            dir,
        }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let exes = executables()?;
            let r = with_steps(json, |step| {
                bench::portal(entries, samples, scratch.path(), &exes, step)
            })?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{} log entries, {} releases and {} refusals at the broker; {} fetches per page",
                    r.log_entries, r.releases, r.refusals, r.samples
                );
                println!(
                    "{:<44} {:>10} {:>10} {:>9}",
                    "page", "median ms", "max ms", "bytes"
                );
                for p in &r.pages {
                    println!(
                        "{:<44} {:>10.2} {:>10.2} {:>9}",
                        p.page, p.median_ms, p.max_ms, p.bytes
                    );
                }
            }
        }
        Command::Bench(BenchCommand::Log {
            entries,
            appenders,
            dir,
        }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let r = with_steps(json, |step| {
                bench::log(entries, appenders, scratch.path(), step)
            })?;
            if json {
                print_json(&r)?;
            } else {
                println!("entries                          {}", r.entries);
                println!(
                    "durable appends, {} appenders    {:.0}/s",
                    r.appenders, r.appends_per_second
                );
                println!(
                    "durable appends, one at a time   {:.0}/s",
                    r.sequential_appends_per_second
                );
                println!(
                    "inclusion proof                  median {:.1} µs, p99 {:.1} µs (verify {:.1} µs)",
                    r.inclusion_proof_us.0, r.inclusion_proof_us.1, r.verify_inclusion_us
                );
                println!(
                    "consistency proof                median {:.1} µs, p99 {:.1} µs (verify {:.1} µs)",
                    r.consistency_proof_us.0, r.consistency_proof_us.1, r.verify_consistency_us
                );
                println!(
                    "database                         {:.0} MB",
                    r.database_bytes as f64 / 1e6
                );
            }
        }
        Command::Bench(BenchCommand::Job { rows, runs }) => {
            let options = demo::DemoOptions::new(executables()?);
            let r = with_steps(json, |step| bench::jobs(&options, rows, runs, step))?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{} jobs over two {}-row datasets: median {:.1} ms, p95 {:.1} ms, fastest {:.1} ms",
                    r.runs, r.rows, r.median_ms, r.p95_ms, r.min_ms
                );
            }
        }
        _ => bail!("this command is not one of showcase's"),
    }
    Ok(())
}

fn print_ml_demo(r: &demo::ml::MlReport) {
    println!(
        "pooled logistic regression: {} people × {} features, {} rounds of differentially private gradient descent (ε = {}, δ = 10⁻⁶), module {} (log entry {})",
        r.people,
        r.features,
        r.rounds,
        r.epsilon,
        &r.module[..16],
        r.published_at_log_index
    );
    println!(
        "{:<10} {:>9} {:>10} {:>7}",
        "", "private", "plaintext", "true"
    );
    for c in &r.coefficients {
        let private = c.private.map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "{:<10} {:>9} {:>10.3} {:>7.3}",
            c.name, private, c.plaintext, c.truth
        );
    }
    println!(
        "noise: σ = {:.2} on each round's summed gradients (each person clipped to norm {})",
        r.noise_sigma_per_round,
        demo::ml::CLIP
    );
    println!(
        "log loss {:.4} private, {:.4} plaintext; accuracy {:.4} private, {:.4} plaintext",
        r.log_loss.0, r.log_loss.1, r.accuracy.0, r.accuracy.1
    );
    println!(
        "training job {:.1} s ({:.0} guest calls per second, each in a fresh instance); whole run {:.1} s",
        r.job_seconds, r.calls_per_second, r.total_seconds
    );
}
