//! How the config crate knows this backend: [`BackendConfig`] for [`KafkaConfig`].

use std::sync::Arc;

use async_trait::async_trait;
use courier_core::{Broker, InvalidSetting, Result, backend::BackendConfig};

use crate::{KafkaBroker, KafkaConfig};

#[async_trait]
impl BackendConfig for KafkaConfig {
    fn validate(&self) -> std::result::Result<(), InvalidSetting> {
        KafkaConfig::validate(self)
    }

    async fn connect(&self) -> Result<Arc<dyn Broker>> {
        Ok(Arc::new(KafkaBroker::connect(self.clone()).await?))
    }
}
