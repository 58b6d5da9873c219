//! The scheduler's counters.

/// Counters kept by the scheduler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Component steps run.
    pub steps: u64,
    /// Rounds begun.
    pub rounds: u64,
    /// Components spawned.
    pub spawned: u64,
    /// Components that finished (including panicked ones).
    pub finished: u64,
    /// Components removed after a panic.
    pub panicked: u64,
    /// Messages left in the boxes of finished components: counted and
    /// logged, never silently lost. (Removing a run-time box returns its
    /// count to the caller instead.)
    pub undelivered: u64,
    /// Times the scheduler blocked in `mio::Poll` waiting for an event.
    pub waits: u64,
    /// Steps run as hand-offs ([`Cx::run_receiver`](crate::axon::Cx::run_receiver)); also in `steps`.
    pub hand_offs: u64,
}
