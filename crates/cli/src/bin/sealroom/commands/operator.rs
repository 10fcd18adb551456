//! Commands that run services: the host, a broker, and the host's onboarding.

use crate::*;

/// Runs one of this module's commands.
pub(crate) fn run(command: Command, json: bool) -> anyhow::Result<()> {
    match command {
        Command::Platform { host } => {
            let p = HostClient::new(&host).platform()?;
            if json {
                print_json(&p)?;
            } else {
                println!(
                    "simulator platform key  {}",
                    bytes::encode(&p.simulator_platform_key.0)
                );
                println!("isolate measurement     {}", p.isolate_measurement);
                println!("log verifier key        {}", p.log_key);
            }
        }
        Command::Broker(a) => {
            let config = sealroom_broker::BrokerConfig {
                key_file: a.key,
                data_dir: a.data,
                accept_simulator_evidence: a
                    .accept_simulator_evidence
                    .as_deref()
                    .map(platform_key)
                    .transpose()?,
                challenge_ttl_seconds: a.challenge_ttl,
                log_url: a.log,
                log_key: log_key(&a.log_key)?,
                evidence_time: a.evidence_time,
            };
            let broker = sealroom_broker::Broker::open(&config, Arc::new(SystemClock))?;
            let mut router = broker.clone().router();
            if a.portal {
                let (portal, new_secret) = sealroom_portal::owner::router(
                    broker,
                    &config.data_dir,
                    sealroom_portal::PortalConfig {
                        allow_remote: a.portal_remote,
                        secure_cookies: a.portal_secure_cookie,
                        installed_isolate: installed_isolate(),
                    },
                )?;
                router = router.merge(portal);
                if let Some(secret) = new_secret {
                    eprintln!(
                        "portal secret (shown once; `sealroom portal secret --data {}` shows it again): {secret}",
                        config.data_dir.display()
                    );
                }
                tracing::info!("serving the owner's portal under /portal");
            }
            // Paths neither router knows are answered with a problem document too.
            serve(
                &a.listen,
                sealroom_service::with_problem_details(router, "broker"),
                "broker",
            )?;
        }
        Command::Portal(PortalCommand::Secret { data }) => {
            let secret = sealroom_portal::PortalSecret::read(&data)?;
            if json {
                print_json(&serde_json::json!({ "secret": secret.reveal() }))?;
            } else {
                println!("{}", secret.reveal());
            }
        }
        Command::Host(args::HostArgs {
            command: Some(HostCommand::Party(cmd)),
            ..
        }) => host_party_command(cmd, json)?,
        Command::Host(args::HostArgs {
            command: None,
            run: a,
        }) => {
            let isolate = match a.isolate {
                Some(p) => p,
                None => executables()?.isolate,
            };
            let defaults = sealroom_host::runner::JobLimits::for_this_machine();
            let config = sealroom_host::HostConfig {
                data_dir: a
                    .data
                    .context("pass --data DIR: where the host keeps its data")?,
                isolate,
                max_upload_bytes: a.max_upload,
                job_timeout: Duration::from_secs(a.job_timeout),
                limits: sealroom_host::runner::JobLimits {
                    max_isolates: a.max_isolates.unwrap_or(defaults.max_isolates),
                    max_queued_jobs: a.max_queued_jobs.unwrap_or(defaults.max_queued_jobs),
                    max_jobs_per_agreement: a
                        .max_jobs_per_agreement
                        .unwrap_or(defaults.max_jobs_per_agreement),
                },
                log_origin: a.log_origin,
                tee_collateral: a.tee_collateral,
            };
            let host = sealroom_host::Host::open(&config, Arc::new(SystemClock))?;
            let router = host
                .clone()
                .router()
                .merge(sealroom_portal::public_log::router(host));
            serve(
                &a.listen,
                sealroom_service::with_problem_details(router, "host"),
                "host",
            )?;
        }
        _ => bail!("this command is not one of operator's"),
    }
    Ok(())
}

fn host_party_command(cmd: HostPartyCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        HostPartyCommand::Add { data, card } => {
            let card = read_card(&card)?;
            sealroom_cli::services::onboard(&data, std::slice::from_ref(&card))?;
            if json {
                print_json(&card)?;
            } else {
                println!(
                    "the host serves {} ({})",
                    card.name,
                    card.fingerprint()?.short()
                );
            }
        }
        HostPartyCommand::Remove { data, name } => {
            let store = host_store(&data)?;
            if !store.remove_party(&name)? {
                bail!(CommandRefusal::NotServed(name));
            }
            if !json {
                println!("the host no longer serves {name}");
            }
        }
        HostPartyCommand::List { data } => {
            let parties = host_store(&data)?.parties()?;
            if json {
                print_json(&parties)?;
            } else if parties.is_empty() {
                println!("the host serves no party yet: add them with `sealroom host party add`");
            } else {
                for p in parties {
                    println!("{:<24} {}", p.name, p.fingerprint()?.short());
                }
            }
        }
    }
    Ok(())
}

fn host_store(data: &Path) -> anyhow::Result<sealroom_host::HostStore> {
    let path = data.join(sealroom_host::api::HOST_DATABASE);
    if !path.exists() {
        bail!("{} holds no host data", data.display());
    }
    Ok(sealroom_host::HostStore::open(&path)?)
}

pub(crate) fn serve(listen: &str, router: axum::Router, what: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (listener, addr) = sealroom_service::bind(listen).await?;
        tracing::info!("{what} listening on http://{addr}");
        // The address on standard output, for whoever started the service (it may have asked
        // for port 0).
        println!("{what}{}http://{addr}", sealroom_cli::services::LISTENING);
        std::io::Write::flush(&mut std::io::stdout())?;
        sealroom_service::serve_until_stopped(listener, router).await?;
        Ok(())
    })
}

/// The measurement of the `sealroom-isolate` beside this program, if there is one: the portal's
/// binary review says whether a simulator runtime is this very build.
fn installed_isolate() -> Option<sealroom_core::ids::Measurement> {
    let isolate = executables().ok()?.isolate;
    sealroom_attest::measure_file(&isolate).ok()
}
