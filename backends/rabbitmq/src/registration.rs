//! How the config crate knows this backend: [`BackendConfig`] for [`RabbitMqConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Broker, InvalidSetting, Result, backend::BackendConfig};

use crate::{RabbitMqBroker, RabbitMqConfig};

#[async_trait]
impl BackendConfig for RabbitMqConfig {
    fn validate(&self) -> std::result::Result<(), InvalidSetting> {
        RabbitMqConfig::validate(self)
    }

    async fn connect(&self) -> Result<Arc<dyn Broker>> {
        Ok(Arc::new(RabbitMqBroker::connect(self.clone()).await?))
    }
}
