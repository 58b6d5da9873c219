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

use crate::axon::{link_refs, BoxRef, BoxSet, Component};

/// Finds a box of a not-yet-spawned component by name.
pub(crate) fn box_of(c: &dyn Component, name: &str) -> Option<BoxRef> {
    let mut set = BoxSet::default();
    c.boxes(&mut set);
    set.find(name).cloned()
}

/// Wires a child that stands in for its container (Carousel, Seq): the
/// container's `inbox` and a control outbox go into the child's `inbox` and
/// `control`, and the child's `outbox` comes out as the container's. A box
/// the child lacks is skipped; a mismatched one is logged, and the child
/// runs unlinked on that side.
pub(crate) fn wire_stand_in(
    who: &str,
    child: &dyn Component,
    inbox: BoxRef,
    control: BoxRef,
    outbox: BoxRef,
) {
    let mut set = BoxSet::default();
    child.boxes(&mut set);
    let links = [
        set.find("inbox").map(|b| (inbox, b.clone())),
        set.find("control").map(|b| (control, b.clone())),
        set.find("outbox").map(|b| (b.clone(), outbox)),
    ];
    for (src, dst) in links.into_iter().flatten() {
        if let Err(e) = link_refs(&src, &dst) {
            log::error!("{who}: cannot link child {}: {e}", child.name());
        }
    }
}
