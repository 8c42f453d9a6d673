//! The registry of topics and their groups that a [`MemoryBroker`](crate::MemoryBroker), its
//! producers and its consumers share.

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use courier_core::{Error, Result, key_routing::KeyHasher};

use crate::{BACKEND, config::MemoryConfig, group::Group};

/// State shared by the broker, its producers and its consumers.
pub(crate) struct Shared {
    pub(crate) config: MemoryConfig,
    /// Topic name to its groups, in creation order (the order senders lock them in).
    topics: RwLock<HashMap<String, Arc<[Arc<Group>]>>>,
    closed: AtomicBool,
    key_hasher: KeyHasher,
}

impl Shared {
    /// An empty registry with `config`.
    pub(crate) fn new(config: MemoryConfig) -> Self {
        Self {
            config,
            topics: RwLock::new(HashMap::new()),
            closed: AtomicBool::new(false),
            key_hasher: KeyHasher::new(),
        }
    }

    /// The groups of `topic`, if it has any.
    pub(crate) fn groups(&self, topic: &str) -> Option<Arc<[Arc<Group>]>> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        topics
            .get(topic)
            .filter(|groups| !groups.is_empty())
            .cloned()
    }

    /// The routing hash of a message key.
    pub(crate) fn hash_key(&self, key: &str) -> u64 {
        self.key_hasher.hash(key.as_bytes())
    }

    /// # Errors
    /// [`ErrorKind::Closed`](courier_core::ErrorKind::Closed) once the broker is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the broker"));
        }
        Ok(())
    }

    /// The group `group` of `topic`, created when missing.
    pub(crate) fn declare(&self, topic: &str, group: &str) -> Result<Arc<Group>> {
        self.check_open()?;
        if let Some(found) = self.find(topic, group) {
            return Ok(found);
        }
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        // Checked again under the lock `close` reads the registry with, so every group created
        // is either refused here or closed there.
        self.check_open()?;
        let groups = topics
            .entry(topic.to_owned())
            .or_insert_with(|| Arc::from([]));
        if let Some(found) = groups.iter().find(|g| g.name == group) {
            return Ok(found.clone());
        }
        let created = Arc::new(Group::new(Arc::from(topic), group, self.config.capacity));
        let mut extended = groups.to_vec();
        extended.push(created.clone());
        *groups = Arc::from(extended);
        Ok(created)
    }

    /// Removes `group` from its topic, if it is still there: later sends skip it (a send that
    /// already holds it finishes into it).
    pub(crate) fn remove(&self, group: &Arc<Group>) {
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        let Some(groups) = topics.get_mut(&*group.topic) else {
            return;
        };
        let kept: Vec<Arc<Group>> = groups
            .iter()
            .filter(|g| !Arc::ptr_eq(g, group))
            .cloned()
            .collect();
        if kept.is_empty() {
            topics.remove(&*group.topic);
        } else {
            *groups = Arc::from(kept);
        }
    }

    pub(crate) fn find(&self, topic: &str, group: &str) -> Option<Arc<Group>> {
        self.groups(topic)?
            .iter()
            .find(|g| g.name == group)
            .cloned()
    }

    /// How many topics have groups.
    pub(crate) fn topic_count(&self) -> usize {
        self.topics.read().map_or(0, |topics| topics.len())
    }

    /// Whether the broker is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Every group of every topic.
    pub(crate) fn all_groups(&self) -> Vec<Arc<Group>> {
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        topics.values().flat_map(|g| g.iter().cloned()).collect()
    }

    /// Closes the registry and every group in it: new work is refused, consumers end.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for group in self.all_groups() {
            group.close();
        }
    }
}
