//! How the config crate knows this backend: [`BackendConfig`] for [`MemoryConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Broker, InvalidSetting, Result, backend::BackendConfig};

use crate::{MemoryBroker, MemoryConfig};

#[async_trait]
impl BackendConfig for MemoryConfig {
    fn validate(&self) -> std::result::Result<(), InvalidSetting> {
        MemoryConfig::validate(self)
    }

    async fn connect(&self) -> Result<Arc<dyn Broker>> {
        Ok(Arc::new(MemoryBroker::new(self.clone())))
    }
}
