//! One module per area of commands; each runs the commands of its area and prints their results.

pub(crate) mod authoring;
pub(crate) mod dap;
pub(crate) mod evidence;
pub(crate) mod jobs;
pub(crate) mod operator;
pub(crate) mod owner;
pub(crate) mod showcase;
pub(crate) mod transparency;
