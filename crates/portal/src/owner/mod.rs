//! The owner's portal, served by the owner's own broker under `/portal`.
//!
//! | page | shows |
//! |---|---|
//! | `GET /portal/sign-in`, `POST /portal/sign-in` | sign in with the portal secret |
//! | `POST /portal/sign-out` | end the session |
//! | `GET /portal/agreements` | the agreements the owner is party to |
//! | `GET /portal/agreements/{id}` | one agreement: parties and roles, datasets and schemas, program, runtimes and decisions, privacy, runs, signatures, window |
//! | `GET /portal/agreements/{id}/runtimes/{platform}/{runtime}` | binary review of one runtime, with Approve and Revoke |
//! | `POST /portal/agreements/{id}/runtimes/{platform}/{runtime}` | record an approval or revocation (signed by the owner's key, logged) |
//! | `GET /portal/budget` | ε spent and left per dataset, with a chart |
//! | `GET /portal/log` | every release of the owner's data with its inclusion proof checked, and every refusal |
//!
//! Every page but sign-in needs a session; every form after sign-in carries the session's CSRF token; posts
//! from another origin are refused; the portal answers only on loopback unless configured to
//! serve elsewhere.

pub mod agreements;
pub mod budget;
pub mod processing;
pub mod programs;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, Path as UrlPath, Query, Request, State};
use axum::http::header::{HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealroom_broker::Broker;
use sealroom_core::attestation::Platform;
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::statement::Decision;
use serde::Deserialize;

use crate::page::{self, Banner, Chrome, NavLink, PageError, render};
use crate::session::{PortalSecret, SecretError, Session, Sessions, csrf_matches};
use agreements::{AgreementRow, AgreementView, Review};
use budget::BudgetView;
use processing::{LogHealth, RefusalRow, ReleaseRow};

/// How the portal is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortalConfig {
    /// Answer requests from other machines too (put it behind TLS); by default only loopback.
    pub allow_remote: bool,
    /// Mark the session cookie `Secure`: the portal is reached over TLS.
    pub secure_cookies: bool,
    /// The measurement of the `sealroom-isolate` installed with this broker, if there is one:
    /// the binary review says whether a simulator runtime is that very build.
    pub installed_isolate: Option<Measurement>,
}

/// The portal's state.
pub struct OwnerPortal {
    broker: Arc<Broker>,
    sessions: Sessions,
    secret: PortalSecret,
    config: PortalConfig,
}

/// The portal's routes for `broker`, whose data directory keeps the portal secret; and the
/// secret if it was just created (to be shown to the owner once).
pub fn router(
    broker: Arc<Broker>,
    data_dir: &Path,
    config: PortalConfig,
) -> Result<(Router, Option<String>), SecretError> {
    let (secret, created) = PortalSecret::open_or_create(data_dir)?;
    let shown = created.then(|| secret.reveal().to_string());
    let tag: String = broker
        .card()
        .fingerprint()
        .map(|f| f.to_string())
        .unwrap_or_default()
        .chars()
        .take(16)
        .collect();
    let portal = Arc::new(OwnerPortal {
        sessions: Sessions::new(&tag, config.secure_cookies),
        broker,
        secret,
        config,
    });
    let router = Router::new()
        .route("/portal", get(home))
        .route("/portal/", get(home))
        .route("/portal/style.css", get(|| async { page::stylesheet() }))
        .route("/portal/sign-in", get(sign_in_form).post(sign_in))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/agreements", get(agreement_list))
        .route("/portal/agreements/{id}", get(agreement))
        .route(
            "/portal/agreements/{id}/runtimes/{platform}/{runtime}",
            get(review).post(decide),
        )
        .route("/portal/budget", get(budget))
        .route("/portal/log", get(processing_log))
        .layer(axum::middleware::from_fn_with_state(portal.clone(), guard))
        .with_state(portal);
    Ok((router, shown))
}

type Shared = State<Arc<OwnerPortal>>;

const NAV: [(&str, &str); 3] = [
    ("/portal/agreements", "Agreements"),
    ("/portal/budget", "Budget"),
    ("/portal/log", "Processing log"),
];

impl OwnerPortal {
    fn chrome(&self, title: impl Into<String>, current: &str, session: Option<&Session>) -> Chrome {
        let mut banners = Vec::new();
        if self.broker.accepts_simulator() {
            banners.push(Banner {
                class: "warning",
                text: "This broker accepts SIMULATOR evidence: the simulator protects nothing from the host's operator. Use it only with test data.".into(),
            });
        }
        Chrome {
            title: title.into(),
            stylesheet: "/portal/style.css",
            home: "/portal/agreements",
            who: format!("{}'s portal", self.broker.card().name),
            nav: if session.is_some() {
                NAV.iter()
                    .map(|(href, label)| NavLink {
                        href,
                        label,
                        current: *href == current,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            sign_out: session.map(|s| s.csrf.clone()),
            banners,
        }
    }
}

/// Loopback only (unless configured), same-origin posts only, and the protective headers.
async fn guard(State(p): Shared, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !p.config.allow_remote {
        if !peer.is_some_and(|a| a.ip().to_canonical().is_loopback()) {
            return refuse(
                &p,
                StatusCode::FORBIDDEN,
                "the portal answers on loopback only (start the broker with --portal-remote to serve it elsewhere, behind TLS)",
            );
        }
        // A page of another site whose name was made to resolve to this machine (DNS
        // rebinding) still names that site as the Host.
        if !loopback_host(request.headers()) {
            return refuse(
                &p,
                StatusCode::FORBIDDEN,
                "on loopback the portal answers only to localhost, 127.x.x.x or [::1] as the Host",
            );
        }
    }
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return refuse(
            &p,
            StatusCode::FORBIDDEN,
            "a form posted from another site is refused",
        );
    }
    let mut response = next.run(request).await;
    page::protect(&mut response);
    response
}

/// Whether the request's `Host` names this machine's loopback.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(Ok(host)) = headers.get(HOST).map(|h| h.to_str()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// A post's `Origin`, when the browser sends one, must be this very site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(HOST).map(|h| h.to_str()))
    else {
        return false;
    };
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

fn refuse(p: &OwnerPortal, status: StatusCode, message: &str) -> Response {
    let mut response = page::error_page(
        p.chrome("Refused", "", None),
        PageError {
            status,
            message: message.into(),
        },
    );
    page::protect(&mut response);
    response
}

fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

/// Runs `f` (which may block on the store or the log) for a signed-in request; without a
/// session, sends the browser to sign in.
async fn signed_in(
    p: Arc<OwnerPortal>,
    headers: &HeaderMap,
    f: impl FnOnce(&OwnerPortal, &Session) -> Result<Response, PageError> + Send + 'static,
) -> Response {
    let Some(session) = p.sessions.find(headers) else {
        return see_other("/portal/sign-in");
    };
    let shown = p.clone();
    match tokio::task::spawn_blocking(move || f(&p, &session)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => page::error_page(shown.chrome("", "", None), error),
        Err(e) => page::error_page(shown.chrome("", "", None), PageError::internal(e)),
    }
}

async fn home(State(p): Shared, headers: HeaderMap) -> Response {
    if p.sessions.find(&headers).is_some() {
        see_other("/portal/agreements")
    } else {
        see_other("/portal/sign-in")
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    failed: Option<String>,
}

async fn sign_in_form(State(p): Shared) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            chrome: p.chrome("Sign in", "", None),
            failed: None,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    secret: String,
}

async fn sign_in(State(p): Shared, Form(form): Form<SignInForm>) -> Response {
    let failed = |status, why: &str| {
        render(
            status,
            &SignInPage {
                chrome: p.chrome("Sign in", "", None),
                failed: Some(why.into()),
            },
        )
    };
    if !p.sessions.may_try() {
        return failed(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong secrets in the last minute: wait a minute, then try again.",
        );
    }
    if !p.secret.matches(&form.secret) {
        p.sessions.failed();
        tracing::warn!("portal: a sign-in with a wrong secret");
        return failed(
            StatusCode::UNAUTHORIZED,
            "That is not this portal's secret. `sealroom portal secret --data DIR` shows it.",
        );
    }
    let mut response = see_other("/portal/agreements");
    if let Ok(cookie) = HeaderValue::from_str(&p.sessions.start()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(p): Shared, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    match p.sessions.find(&headers) {
        Some(session) if csrf_matches(&session, &form.csrf) => {
            let mut response = see_other("/portal/sign-in");
            if let Ok(cookie) = HeaderValue::from_str(&p.sessions.end(&headers)) {
                response.headers_mut().insert(SET_COOKIE, cookie);
            }
            response
        }
        _ => refuse(
            &p,
            StatusCode::FORBIDDEN,
            "sign-out needs the session's form",
        ),
    }
}

#[derive(Template)]
#[template(path = "agreements.html")]
struct AgreementsPage {
    chrome: Chrome,
    rows: Vec<AgreementRow>,
}

async fn agreement_list(State(p): Shared, headers: HeaderMap) -> Response {
    signed_in(p, &headers, |p, session| {
        let known = agreements::known(&p.broker)?;
        Ok(render(
            StatusCode::OK,
            &AgreementsPage {
                chrome: p.chrome("Agreements", "/portal/agreements", Some(session)),
                rows: agreements::rows(&p.broker, known),
            },
        ))
    })
    .await
}

fn parse_agreement(id: &str) -> Result<AgreementId, PageError> {
    id.parse()
        .map_err(|_| PageError::not_found(format!("{id:?} is not an agreement id")))
}

fn known_agreement(
    p: &OwnerPortal,
    id: &AgreementId,
) -> Result<sealroom_core::agreement::SignedAgreement, PageError> {
    if !p.broker.store().agreement_ids()?.contains(id) {
        return Err(PageError::not_found(format!(
            "this broker knows no agreement {id}: register an envelope for it first"
        )));
    }
    agreements::load(&p.broker, id).map_err(|why| PageError {
        status: StatusCode::BAD_GATEWAY,
        message: format!("agreement {id} cannot be shown: {why}"),
    })
}

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    chrome: Chrome,
    a: AgreementView,
}

async fn agreement(State(p): Shared, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    signed_in(p, &headers, move |p, session| {
        let id = parse_agreement(&id)?;
        let signed = known_agreement(p, &id)?;
        let a = agreements::view(&p.broker, &signed)?;
        Ok(render(
            StatusCode::OK,
            &AgreementPage {
                chrome: p.chrome(
                    format!("Agreement {}", signed.agreement.name),
                    "/portal/agreements",
                    Some(session),
                ),
                a,
            },
        ))
    })
    .await
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    r: Review,
    csrf: String,
    recorded: Option<String>,
}

#[derive(Deserialize)]
struct ReviewQuery {
    recorded: Option<String>,
}

fn parse_runtime(platform: &str, runtime: &str) -> Result<(Platform, Measurement), PageError> {
    let platform = Platform::from_name(platform)
        .ok_or_else(|| PageError::not_found(format!("{platform:?} is not a platform")))?;
    let runtime = runtime
        .parse()
        .map_err(|_| PageError::not_found(format!("{runtime:?} is not a runtime id")))?;
    Ok((platform, runtime))
}

async fn review(
    State(p): Shared,
    headers: HeaderMap,
    UrlPath((id, platform, runtime)): UrlPath<(String, String, String)>,
    Query(query): Query<ReviewQuery>,
) -> Response {
    signed_in(p, &headers, move |p, session| {
        let id = parse_agreement(&id)?;
        let (platform, runtime) = parse_runtime(&platform, &runtime)?;
        let signed = known_agreement(p, &id)?;
        let r = agreements::review(
            &p.broker,
            &signed,
            platform,
            &runtime,
            p.config.installed_isolate.as_ref(),
        )?;
        let recorded = query.recorded.map(|what| match what.as_str() {
            "approve" => "Approved: the broker stored your signed approval and logged it.".into(),
            "revoke" => "Revoked: the broker stored your signed revocation and logged it; no key is released to this runtime from now on.".into(),
            "unlogged" => "Stored, but the log did not answer: the decision will be logged before any release.".into(),
            _ => "Nothing changed: a newer decision is already stored.".into(),
        });
        Ok(render(
            StatusCode::OK,
            &ReviewPage {
                chrome: p.chrome("Binary review", "/portal/agreements", Some(session)),
                r,
                csrf: session.csrf.clone(),
                recorded,
            },
        ))
    })
    .await
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

async fn decide(
    State(p): Shared,
    headers: HeaderMap,
    UrlPath((id, platform, runtime)): UrlPath<(String, String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let Some(session) = p.sessions.find(&headers) else {
        return refuse(
            &p,
            StatusCode::FORBIDDEN,
            "sign in first: no decision was made",
        );
    };
    if !csrf_matches(&session, &form.csrf) {
        tracing::warn!("portal: a decision posted without the session's CSRF token");
        return refuse(
            &p,
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong: no decision was made",
        );
    }
    signed_in(p, &headers, move |p, _| {
        let decision = match form.decision.as_str() {
            "approve" => Decision::Approve,
            "revoke" => Decision::Revoke,
            other => {
                return Err(PageError::bad_request(format!(
                    "{other:?} is neither approve nor revoke"
                )));
            }
        };
        let id = parse_agreement(&id)?;
        let (platform, runtime) = parse_runtime(&platform, &runtime)?;
        let signed = known_agreement(p, &id)?;
        // Only runtimes the agreement accepts can be decided on here.
        agreements::accepted(&signed, platform, &runtime)?;
        // The owner as the agreement names it: its card there may carry its broker's address,
        // which the broker's key file need not.
        let me = p.broker.identity();
        let card = signed
            .agreement
            .parties
            .iter()
            .find(|c| c.signing_key == me.card().signing_key)
            .ok_or_else(|| PageError::not_found(format!("{} is not a party to {id}", me.name())))?;
        let statement = sealroom_party::owner::decide_as(
            me,
            card,
            p.broker.clock(),
            id,
            platform,
            runtime,
            decision,
        )
        .map_err(PageError::internal)?;
        let recorded = p
            .broker
            .record_decision(&statement)
            .map_err(PageError::internal)?;
        tracing::info!(%id, %platform, %runtime, ?decision, "portal: decision recorded");
        let outcome = if !recorded.stored {
            "unchanged"
        } else if !recorded.logged {
            "unlogged"
        } else {
            &form.decision
        };
        Ok(see_other(&format!(
            "{}?recorded={outcome}",
            agreements::review_href(&id, platform, &runtime)
        )))
    })
    .await
}

#[derive(Template)]
#[template(path = "budget.html")]
struct BudgetPage {
    chrome: Chrome,
    budgets: Vec<BudgetView>,
}

async fn budget(State(p): Shared, headers: HeaderMap) -> Response {
    signed_in(p, &headers, |p, session| {
        let known = agreements::known(&p.broker)?;
        Ok(render(
            StatusCode::OK,
            &BudgetPage {
                chrome: p.chrome("Budget", "/portal/budget", Some(session)),
                budgets: budget::budgets(&p.broker, &known)?,
            },
        ))
    })
    .await
}

#[derive(Template)]
#[template(path = "processing.html")]
struct ProcessingPage {
    chrome: Chrome,
    health: String,
    health_class: &'static str,
    checkpoint_size: Option<u64>,
    checkpoint_root: String,
    releases: Vec<ReleaseRow>,
    release_page: u64,
    release_pages: u64,
    release_previous: Option<String>,
    release_next: Option<String>,
    refusals: Vec<RefusalRow>,
    refusal_page: u64,
    refusal_pages: u64,
    refusal_previous: Option<String>,
    refusal_next: Option<String>,
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    page: u64,
    #[serde(default)]
    refusals: u64,
}

async fn processing_log(
    State(p): Shared,
    headers: HeaderMap,
    Query(query): Query<LogQuery>,
) -> Response {
    signed_in(p, &headers, move |p, session| {
        // The releases first: each was proven in a checkpoint the log must still extend.
        let (records, release_pages, release_page) = processing::releases(&p.broker, query.page)?;
        let health = processing::check_log(&p.broker);
        let releases: Vec<ReleaseRow> = records
            .into_iter()
            .map(|r| processing::release_row(&p.broker, &health, r))
            .collect();
        let (refusals, refusal_pages, refusal_page) =
            processing::refusals(&p.broker, query.refusals)?;
        let mut chrome = p.chrome("Processing log", "/portal/log", Some(session));
        let (health_text, health_class, size, root) = match &health {
            LogHealth::Verified(c) => (
                format!(
                    "The log's checkpoint of {} entries is signed by the pinned key and extends every checkpoint this broker saw before.",
                    c.size
                ),
                "ok",
                Some(c.size),
                hex::encode(c.root),
            ),
            LogHealth::Unreachable(why) => (
                format!("The log did not answer, so nothing on this page could be proven: {why}"),
                "warn",
                None,
                String::new(),
            ),
            LogHealth::Alarm(why) => {
                chrome.banners.push(Banner {
                    class: "alarm",
                    text: format!("ALARM: the transparency log misbehaves: {why}"),
                });
                (why.clone(), "bad", None, String::new())
            }
        };
        let failed = releases.iter().filter(|r| r.class == "bad").count();
        if failed > 0 && matches!(health, LogHealth::Verified(_)) {
            chrome.banners.push(Banner {
                class: "alarm",
                text: format!(
                    "ALARM: {failed} release(s) of your data on this page are not in the log as your broker appended them."
                ),
            });
        }
        let (release_previous, release_next) = page::pager(
            &format!("/portal/log?refusals={refusal_page}&"),
            "page",
            release_page,
            release_pages,
        );
        let (refusal_previous, refusal_next) = page::pager(
            &format!("/portal/log?page={release_page}&"),
            "refusals",
            refusal_page,
            refusal_pages,
        );
        Ok(render(
            StatusCode::OK,
            &ProcessingPage {
                chrome,
                health: health_text,
                health_class,
                checkpoint_size: size,
                checkpoint_root: root,
                releases,
                release_page: release_page + 1,
                release_pages,
                release_previous,
                release_next,
                refusals,
                refusal_page: refusal_page + 1,
                refusal_pages,
                refusal_previous,
                refusal_next,
            },
        ))
    })
    .await
}
