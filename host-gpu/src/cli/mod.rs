//! Subcommands built on the shared flag parser.

pub mod args;
pub mod embed;
pub mod langid;

pub(crate) use crate::{json_str, read_capped, usage, write_atomic, Fail};
