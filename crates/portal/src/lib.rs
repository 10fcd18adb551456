//! sealroom's web pages, rendered on the server from compiled templates, with no script.
//!
//! - [`owner`]: each data owner's portal, served by the owner's own broker (it holds the
//!   owner's keys; the operator never sees them): agreements, binary review with Approve and
//!   Revoke, budgets, and the processing log with every release proven to be in the
//!   transparency log.
//! - [`public_log`]: the transparency log for anyone, served by the host.
//! - [`session`]: the portal secret, session cookies and CSRF tokens.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chart;
pub mod owner;
pub mod page;
pub mod public_log;
pub mod session;

pub use owner::{OwnerPortal, PortalConfig};
pub use session::{PortalSecret, SecretError};
