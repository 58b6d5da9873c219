#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod axon;
pub mod testing;

pub use axon::{Component, Cx, Inbox, Outbox, Scheduler, Signal, Step};
