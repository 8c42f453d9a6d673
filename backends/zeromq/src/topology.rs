//! The topology a configuration describes: every endpoint once, whether this process binds
//! it, the groups declared on it, and which endpoint serves each listed topic.

use zeromq::Endpoint;

use crate::config::{ZmqConfig, parse_endpoint};

/// One endpoint of the configuration.
#[derive(Debug)]
pub(crate) struct PlannedEndpoint {
    parsed: Endpoint,
    /// As written in the configuration.
    pub(crate) configured: String,
    /// Whether this process binds it.
    pub(crate) bind: bool,
    /// `(topic, group)` pairs whose outbox exists from start-up.
    pub(crate) groups: Vec<(String, String)>,
}

/// Every endpoint once; the default route and the listed topics' routes as indexes into it.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) endpoints: Vec<PlannedEndpoint>,
    pub(crate) default: usize,
    pub(crate) topics: Vec<(String, usize)>,
}

impl Plan {
    /// The plan of a configuration (validated by the caller).
    ///
    /// # Errors
    /// The problem with an endpoint that does not parse.
    pub(crate) fn of(config: &ZmqConfig) -> Result<Self, String> {
        let mut plan = Self {
            endpoints: Vec::new(),
            default: 0,
            topics: Vec::new(),
        };
        plan.default = plan.add(&config.endpoint, config.bind)?;
        for (topic, settings) in &config.topics {
            let (endpoint, bind) = config.route(topic);
            let index = plan.add(endpoint, bind)?;
            plan.topics.push((topic.clone(), index));
            for group in &settings.groups {
                plan.endpoints[index]
                    .groups
                    .push((topic.clone(), group.clone()));
            }
        }
        Ok(plan)
    }

    /// The index of `endpoint`, added when new. Two spellings of one address are one socket.
    fn add(&mut self, endpoint: &str, bind: bool) -> Result<usize, String> {
        let parsed = parse_endpoint(endpoint)?;
        if let Some(index) = self.endpoints.iter().position(|e| e.parsed == parsed) {
            return Ok(index);
        }
        self.endpoints.push(PlannedEndpoint {
            parsed,
            configured: endpoint.to_owned(),
            bind,
            groups: Vec::new(),
        });
        Ok(self.endpoints.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TopicConfig;

    #[test]
    fn endpoints_are_shared_and_groups_attached() {
        let mut config = ZmqConfig::default();
        config.topics.insert(
            "a".into(),
            TopicConfig {
                groups: vec!["g".into()],
                ..TopicConfig::default()
            },
        );
        config.topics.insert(
            "b".into(),
            TopicConfig {
                endpoint: Some("tcp://127.0.0.1:5601".into()),
                bind: Some(false),
                ..TopicConfig::default()
            },
        );
        let plan = Plan::of(&config).unwrap();
        assert_eq!(plan.endpoints.len(), 2);
        assert_eq!(plan.default, 0);
        assert_eq!(plan.topics, vec![("a".into(), 0), ("b".into(), 1)]);
        assert_eq!(plan.endpoints[0].groups, vec![("a".into(), "g".into())]);
        assert!(plan.endpoints[0].bind && !plan.endpoints[1].bind);
    }
}
