//! Ttl: children it cannot wrap. (Its behaviour over time is tested with
//! the sketches, in tests/sketches.rs.)

use std::time::Duration;

use kamaelia::axon::{link, Component, Inbox, LinkError, LinkErrorKind, Signal};
use kamaelia::chassis::BuildError;
use kamaelia::util::{PassThrough, Ttl};

fn refusal(child: PassThrough<u32>) -> LinkError {
    match Ttl::new(child, Duration::from_secs(1)) {
        Err(BuildError::Link(e)) => e,
        Err(other) => panic!("expected a link error, got {other:?}"),
        Ok(_) => panic!("a child with a box linked elsewhere was accepted"),
    }
}

fn ends(e: &LinkError) -> (String, String) {
    let name = |l: &Option<Box<kamaelia::axon::BoxLabel>>| {
        let l = l.as_ref().expect("both ends named");
        format!("{}.{}", l.component.as_deref().unwrap_or("?"), l.name)
    };
    (name(&e.src), name(&e.dst))
}

#[test]
fn a_child_whose_outbox_is_already_linked_is_refused_naming_both_ends() {
    let child = PassThrough::<u32>::new();
    let elsewhere: Inbox<u32> = Inbox::inbox();
    link(&child.outbox, &elsewhere).unwrap();
    let e = refusal(child);
    assert!(matches!(e.kind, LinkErrorKind::AlreadyLinked { .. }), "{e}");
    let child_name = PassThrough::<u32>::new().name().to_string();
    assert_eq!(
        ends(&e),
        (format!("{child_name}.outbox"), "TTL.outbox".to_string()),
        "the child's outbox is the source: {e}"
    );
}

#[test]
fn a_child_whose_signal_is_already_linked_is_refused_naming_both_ends() {
    let child = PassThrough::<u32>::new();
    let elsewhere: Inbox<Signal> = Inbox::control();
    link(&child.signal, &elsewhere).unwrap();
    let e = refusal(child);
    assert!(matches!(e.kind, LinkErrorKind::AlreadyLinked { .. }), "{e}");
    let child_name = PassThrough::<u32>::new().name().to_string();
    assert_eq!(
        ends(&e),
        (
            format!("{child_name}.signal"),
            "TTL._child_signal".to_string()
        ),
        "the child's signal is the source: {e}"
    );
}

#[test]
fn a_child_with_inboxes_fed_elsewhere_is_accepted() {
    // An inbox may have many sources: the Ttl's pass-through is one more.
    let child = PassThrough::<u32>::new();
    let feeder = kamaelia::axon::Outbox::<u32>::new("feeder", "test");
    link(&feeder, &child.inbox).unwrap();
    assert!(Ttl::new(child, Duration::from_secs(1)).is_ok());
}
