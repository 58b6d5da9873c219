#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod audio;
pub mod axon;
pub mod chassis;
pub mod file;
pub mod internet;
pub mod protocol;
pub mod testing;
pub mod util;

pub use axon::{Component, Cx, Inbox, Outbox, Scheduler, Signal, Step};
