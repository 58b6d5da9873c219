//! # kamaelia
//!
//! Kamaelia, BBC R&D's framework for concurrent networked multimedia
//! systems, rebuilt in Rust: small components with named, typed inboxes and
//! outboxes, each a hand-written state machine whose `step()` returns
//! `Yield`, `Pause` or `Done`, run round-robin by a single-threaded
//! scheduler on a `mio` poll loop. No async runtime.
//!
//! * [`axon`]: the core (components, boxes, links, scheduler, services,
//!   timers, threaded components, introspection).
//! * [`testing`]: drive components step by step with virtual time.

#![warn(missing_docs)]

pub mod axon;
pub mod testing;

pub use axon::{Component, Cx, Inbox, Outbox, Scheduler, Signal, Step};
