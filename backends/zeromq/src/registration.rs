//! How the config crate knows this backend: [`BackendConfig`] for [`ZmqConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Broker, InvalidSetting, Result, backend::BackendConfig};

use crate::{ZmqBroker, ZmqConfig};

#[async_trait]
impl BackendConfig for ZmqConfig {
    fn validate(&self) -> std::result::Result<(), InvalidSetting> {
        ZmqConfig::validate(self)
    }

    async fn connect(&self) -> Result<Arc<dyn Broker>> {
        Ok(Arc::new(ZmqBroker::connect(self.clone()).await?))
    }
}
