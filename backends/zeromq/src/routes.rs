//! What producers and consumers of one [`ZmqBroker`](crate::ZmqBroker) share: the route of
//! every topic (a hub this process binds, or a link to the process that does) and the
//! broker's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use courier_core::Result;
use futures::future::try_join_all;
use tokio_util::sync::CancellationToken;

use crate::config::ZmqConfig;
use crate::hub::Hub;
use crate::link::Link;
use crate::session::Access;

/// Where a topic's messages go.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    /// This process binds the topic's endpoint.
    Local(Arc<Hub>),
    /// Another process does; this one connects.
    Remote(Arc<Link>),
}

impl Route {
    /// Where a consumer of the topic connects.
    pub(crate) fn connect_to(&self) -> &str {
        match self {
            Self::Local(hub) => &hub.connect_to,
            Self::Remote(link) => &link.endpoint,
        }
    }
}

/// What producers and consumers of one broker share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: ZmqConfig,
    pub(crate) default_route: Route,
    pub(crate) topic_routes: HashMap<String, Route>,
    pub(crate) hubs: Vec<Arc<Hub>>,
    pub(crate) links: Vec<Arc<Link>>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) closed: AtomicBool,
    /// How consumers and links reach binding sides.
    pub(crate) access: Access,
}

impl Inner {
    /// The route of `topic`.
    pub(crate) fn route(&self, topic: &str) -> &Route {
        self.topic_routes.get(topic).unwrap_or(&self.default_route)
    }

    /// Waits until every hub has handled what came before and every link has its answers.
    pub(crate) async fn barrier(&self) -> Result<()> {
        try_join_all(self.hubs.iter().map(|hub| hub.barrier())).await?;
        try_join_all(self.links.iter().map(|link| link.barrier())).await?;
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
