//! The two aggregators of split aggregation, DAP draft 18: the leader (report upload, collection
//! jobs, and the driver that runs aggregation jobs with the helper) and the helper (aggregation
//! jobs and aggregate shares), each an axum service over its own SQLite [`store`].
//!
//! Neither aggregator alone learns a measurement: each opens only its own input share, and the
//! aggregate shares they release are sealed to the collector.

#![forbid(unsafe_code)]

pub mod driver;
pub mod error;
pub mod helper;
pub mod http;
pub mod leader;
pub mod noise;
pub mod prepare;
pub mod provision;
pub mod store;
pub mod task;

use std::path::Path;

use sealroom_dap::messages::Role;
use sealroom_service::ServiceError;

pub use http::Aggregator;
pub use store::Store;
pub use task::AggregatorTask;

/// An aggregator's routes for `role`, with every error a problem document.
pub fn router(role: Role, aggregator: Aggregator) -> axum::Router {
    let (routes, limit) = match role {
        Role::Leader => (leader::router(aggregator), http::MAX_UPLOAD_BODY),
        _ => (helper::router(aggregator), http::MAX_HELPER_BODY),
    };
    routes.layer(axum::extract::DefaultBodyLimit::max(limit))
}

/// Serves `role` from the store at `db` on `listen` until stopped (ctrl-c or SIGTERM); calls
/// `ready` with the bound address once listening. The leader also runs its driver.
pub async fn serve(
    role: Role,
    db: &Path,
    listen: &str,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServiceError> {
    let store = Store::open(db)?;
    let aggregator = Aggregator::new(store)
        .map_err(|e| ServiceError::Serve(std::io::Error::other(e.to_string())))?;
    let (listener, addr) = sealroom_service::bind(listen).await?;
    let _driver = (role == Role::Leader).then(|| driver::start(aggregator.clone()));
    ready(addr);
    sealroom_service::serve_until_stopped(listener, router(role, aggregator)).await
}
