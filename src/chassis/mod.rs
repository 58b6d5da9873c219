//! Containers that wire components together: [`Pipeline`], [`Graphline`],
//! [`Carousel`], [`Seq`] and [`Par`].
//!
//! Containers link their children when they are built, so a wrong box name
//! or a type mismatch is an error returned by the constructor, naming the
//! child and the box. They start their children when they first run, and
//! end when every child has ended.

mod carousel;
mod error;
mod graphline;
mod par;
mod pipeline;
mod seq;

pub use carousel::Carousel;
pub use error::BuildError;
pub use graphline::{Graphline, GraphlineBuilder};
pub use par::Par;
pub use pipeline::Pipeline;
pub use seq::{Seq, SeqItem};

use crate::axon::{BoxRef, BoxSet, Component};

/// Finds a box of a not-yet-spawned component by name.
pub(crate) fn box_of(c: &dyn Component, name: &str) -> Option<BoxRef> {
    let mut set = BoxSet::default();
    c.boxes(&mut set);
    set.find(name).cloned()
}
