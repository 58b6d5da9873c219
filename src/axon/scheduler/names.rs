//! Finding things by name: boxes of a component, links made by name,
//! services, and the snapshot of the whole system for introspection.

use crate::axon::boxes::{BoxRef, Dir, LinkError, LinkErrorKind, LinkKind};
use crate::axon::component::BoxSet;
use crate::axon::introspect::{BoxInfo, ComponentInfo, LinkInfo, RunState, Snapshot};
use crate::axon::proc::{Id, DEAD, RUNNING, SLEEPING};

use super::Inner;

/// A registered service: a component and one of its inboxes, found by name.
#[derive(Clone, Debug)]
pub struct Service {
    /// The component providing the service.
    pub component: Id,
    /// The inbox requests go to.
    pub inbox: BoxRef,
}

/// Why a service call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// A service of that name is already registered.
    AlreadyExists(String),
    /// No service of that name is registered.
    NotFound(String),
    /// The component is not alive (or the box belongs to none).
    BadComponent,
    /// The box is not an inbox, or the component has no inbox of that name.
    BadInbox(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::AlreadyExists(n) => write!(f, "service '{n}' already exists"),
            ServiceError::NotFound(n) => write!(f, "no service named '{n}'"),
            ServiceError::BadComponent => f.write_str("service component is not alive"),
            ServiceError::BadInbox(n) => write!(f, "'{n}' is not an inbox of the component"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl Inner {
    pub(crate) fn name_of(&self, id: Id) -> Option<String> {
        if !self.is_alive(id) {
            return None;
        }
        self.component_of(&self.slots[id.index as usize])
            .map(|c| c.name().to_string())
    }

    pub(crate) fn find_box(&self, id: Id, name: &str) -> Result<BoxRef, LinkError> {
        if !self.is_alive(id) {
            return Err(LinkError::lookup(LinkErrorKind::NoSuchComponent(id)));
        }
        let Some(comp) = self.component_of(&self.slots[id.index as usize]) else {
            // The caller itself is running and cannot be searched by name:
            // it should use its own typed handles.
            return Err(LinkError::lookup(LinkErrorKind::NoSuchBox {
                component: format!("{}{id} (running)", self.spawn_name(id)),
                name: name.to_string(),
            }));
        };
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        set.find(name).cloned().ok_or_else(|| {
            LinkError::lookup(LinkErrorKind::NoSuchBox {
                component: format!("{}{id}", comp.name()),
                name: name.to_string(),
            })
        })
    }

    pub(crate) fn link_by_name(
        &mut self,
        src: (Id, &str),
        dst: (Id, &str),
    ) -> Result<LinkKind, LinkError> {
        let s = self.find_box(src.0, src.1)?;
        let d = self.find_box(dst.0, dst.1)?;
        let sname = self.name_of(src.0).map(|n| format!("{n}{}", src.0));
        let dname = self.name_of(dst.0).map(|n| format!("{n}{}", dst.0));
        crate::axon::boxes::link_refs(&s, &d)
            .map_err(|e| e.with_names(sname.as_deref(), dname.as_deref()))
    }

    pub(crate) fn register_service(
        &mut self,
        name: &str,
        inbox: BoxRef,
    ) -> Result<(), ServiceError> {
        if self.services.contains_key(name) {
            return Err(ServiceError::AlreadyExists(name.to_string()));
        }
        let Some(owner) = inbox.owner().filter(|id| self.is_alive(*id)) else {
            return Err(ServiceError::BadComponent);
        };
        if inbox.direction() != Dir::In {
            return Err(ServiceError::BadInbox(inbox.name().to_string()));
        }
        self.services.insert(
            name.to_string(),
            Service {
                component: owner,
                inbox,
            },
        );
        Ok(())
    }

    pub(crate) fn lookup_service(&self, name: &str) -> Result<Service, ServiceError> {
        self.services
            .get(name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(name.to_string()))
    }

    pub(crate) fn deregister_service(&mut self, name: &str) -> Result<Service, ServiceError> {
        self.services
            .remove(name)
            .ok_or_else(|| ServiceError::NotFound(name.to_string()))
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut components = Vec::new();
        let mut links = Vec::new();
        for p in &self.slots {
            let state = match p.state.get() {
                DEAD => continue,
                SLEEPING => RunState::Sleeping,
                RUNNING => RunState::Running,
                _ => RunState::Runnable,
            };
            let id = p.id;
            let mut boxes = Vec::new();
            let name = match self.component_of(p) {
                Some(c) => {
                    let mut set = BoxSet::default();
                    c.boxes(&mut set);
                    for b in set.iter() {
                        boxes.push(BoxInfo {
                            name: b.name().to_string(),
                            description: b.description().to_string(),
                            dir: b.direction(),
                            type_name: b.type_name(),
                            len: b.len(),
                            limit: b.limit(),
                        });
                        if let Some(d) = b.destination() {
                            links.push(LinkInfo {
                                from: (Some(id), b.name().to_string()),
                                to: (d.owner(), d.name().to_string()),
                                kind: link_kind(b.direction(), d.direction()),
                            });
                        }
                    }
                    c.name().to_string()
                }
                // Running (the caller of `Cx::snapshot`, or one that
                // handed off to it): it is borrowed by its step, so its
                // boxes cannot be listed; its name was kept at spawn.
                None => self.spawn_name(id),
            };
            components.push(ComponentInfo {
                id,
                name,
                state,
                parent: self.parents.get(&id).copied(),
                pending: p.pending.get() as usize,
                boxes,
            });
        }
        Snapshot {
            round: self.round,
            components,
            links,
        }
    }
}

pub(super) fn link_kind(a: Dir, b: Dir) -> LinkKind {
    match (a, b) {
        (Dir::In, _) => LinkKind::PassIn,
        (Dir::Out, Dir::Out) => LinkKind::PassOut,
        (Dir::Out, Dir::In) => LinkKind::Normal,
    }
}
