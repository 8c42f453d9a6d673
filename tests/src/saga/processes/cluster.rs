//! [`Cluster`]: the three service processes on one config file. Starting them (and more
//! instances of them), waiting until the order API answers, their logs, killing and
//! restarting one, and stopping them all gracefully.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf, process::Stdio, time::Duration};

use courier_contracts::{CatalogItem, SagaTopics};
use courier_outbox::Store;
use tokio::process::{Child, Command};

use super::binaries::{Service, ServiceBinaries};
use super::config::{config_toml, free_port};
use super::expected::process_catalog;

/// The three service processes on one config file, with an HTTP client for the order API.
pub struct Cluster {
    dir: tempfile::TempDir,
    bins: ServiceBinaries,
    config: PathBuf,
    /// The services' store URL (`{service}` replaced by each name).
    pub store_url: String,
    pub(super) payment_store: tokio::sync::OnceCell<Store>,
    /// `http://127.0.0.1:<port>`, the order API.
    pub base_url: String,
    /// The topics of this run.
    pub topics: SagaTopics,
    pub(super) http: reqwest::Client,
    children: BTreeMap<String, Child>,
    /// Where the first inventory and payment instances serve `/metrics`.
    pub(super) metrics_urls: BTreeMap<&'static str, String>,
}

impl Cluster {
    /// Writes a config file with `broker_section` (the `[broker]` table and its backend
    /// table, as TOML), fresh `topics`, a free HTTP port and [`process_catalog`], then
    /// starts inventory, payment and order, and waits until the order API answers.
    ///
    /// # Errors
    /// When a process cannot start or the API does not answer within 60 s; the message
    /// carries the tail of the logs.
    pub async fn start(
        broker_section: &str,
        topics: SagaTopics,
        store_url: Option<&str>,
    ) -> Result<Self, String> {
        Self::start_with_catalog(broker_section, topics, store_url, &process_catalog()).await
    }

    /// [`start`](Self::start) with `catalog` as the inventory's initial stock.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub async fn start_with_catalog(
        broker_section: &str,
        topics: SagaTopics,
        store_url: Option<&str>,
        catalog: &[CatalogItem],
    ) -> Result<Self, String> {
        let bins = ServiceBinaries::locate_or_build().await?;
        let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
        let port = free_port()?;
        let config = dir.path().join("courier.toml");
        let store_url = store_url.map_or_else(
            || format!("sqlite://{}/{{service}}.db", dir.path().display()),
            str::to_owned,
        );
        std::fs::write(
            &config,
            config_toml(broker_section, &topics, port, &store_url, catalog),
        )
        .map_err(|e| format!("writing the config failed: {e}"))?;
        let mut cluster = Self {
            store_url,
            payment_store: tokio::sync::OnceCell::new(),
            dir,
            bins,
            config,
            base_url: format!("http://127.0.0.1:{port}"),
            topics,
            http: reqwest::Client::new(),
            children: BTreeMap::new(),
            metrics_urls: BTreeMap::new(),
        };
        for service in [Service::Inventory, Service::Payment, Service::Order] {
            cluster.spawn(service)?;
        }
        cluster.wait_healthy(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    /// Starts the first instance of `service`; inventory and payment serve `/metrics` on a
    /// free port each (a new one after a restart).
    fn spawn(&mut self, service: Service) -> Result<(), String> {
        let variable = match service {
            Service::Order => None,
            Service::Inventory => Some("COURIER_SERVICES__INVENTORY__METRICS_LISTEN"),
            Service::Payment => Some("COURIER_SERVICES__PAYMENT__METRICS_LISTEN"),
        };
        let Some(variable) = variable else {
            self.metrics_urls
                .insert(service.name(), format!("{}/metrics", self.base_url));
            return self.spawn_instance(service, service.name().to_owned(), &[]);
        };
        let listen = format!("127.0.0.1:{}", free_port()?);
        self.metrics_urls
            .insert(service.name(), format!("http://{listen}/metrics"));
        self.spawn_instance(
            service,
            service.name().to_owned(),
            &[(variable, listen.as_str())],
        )
    }

    /// Starts another instance of every service on the same config and stores, the order
    /// service listening on a port of its own; returns that instance's API base URL.
    ///
    /// # Errors
    /// When a process cannot start or the new API does not answer within 60 s.
    pub async fn add_instances(&mut self) -> Result<String, String> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let n = self.children.len() / 3 + 1;
        for service in [Service::Inventory, Service::Payment, Service::Order] {
            let name = format!("{}#{n}", service.name());
            self.spawn_instance(
                service,
                name,
                &[("COURIER_SERVICES__ORDER__LISTEN", listen.as_str())],
            )?;
        }
        let base = format!("http://{listen}");
        let saved = std::mem::replace(&mut self.base_url, base.clone());
        let healthy = self.wait_healthy(Duration::from_secs(60)).await;
        self.base_url = saved;
        healthy.map(|()| base)
    }

    fn spawn_instance(
        &mut self,
        service: Service,
        name: String,
        env: &[(&str, &str)],
    ) -> Result<(), String> {
        let bin = match service {
            Service::Order => &self.bins.order,
            Service::Inventory => &self.bins.inventory,
            Service::Payment => &self.bins.payment,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .map_err(|e| format!("cannot open the log of {name}: {e}"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(bin);
        command
            .arg("--config")
            .arg(&self.config)
            .envs(env.iter().copied());
        let child = command
            .env("RUST_LOG", "info")
            .env_remove("COURIER_CONFIG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        self.children.insert(name, child);
        Ok(())
    }

    fn log_path(&self, service: Service) -> PathBuf {
        self.dir.path().join(format!("{}.log", service.name()))
    }

    /// The last lines of every process's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for service in [Service::Order, Service::Inventory, Service::Payment] {
            let text = std::fs::read_to_string(self.log_path(service)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let _ = writeln!(out, "--- {} (last 20 lines)", service.name());
            for line in &lines[lines.len().saturating_sub(20)..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let exited = self.children.iter_mut().find_map(|(name, child)| {
                child.try_wait().ok().flatten().map(|s| (name.clone(), s))
            });
            if let Some((name, status)) = exited {
                return Err(format!("{name} exited early ({status})\n{}", self.logs()));
            }
            let url = format!("{}/healthz", self.base_url);
            if let Ok(r) = self.http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the order API did not answer within {timeout:?}\n{}",
                    self.logs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills `service` with SIGKILL (no shutdown at all) and waits for it to be gone.
    ///
    /// # Errors
    /// When the process cannot be killed.
    pub async fn kill(&mut self, service: Service) -> Result<(), String> {
        let child = self.children.get_mut(service.name()).ok_or("not running")?;
        child
            .kill()
            .await
            .map_err(|e| format!("killing {} failed: {e}", service.name()))
    }

    /// Starts `service` again with the same config (and store).
    ///
    /// # Errors
    /// When it cannot start.
    pub async fn restart(&mut self, service: Service) -> Result<(), String> {
        self.spawn(service)?;
        if service == Service::Order {
            self.wait_healthy(Duration::from_secs(60)).await?;
        }
        Ok(())
    }

    /// Stops every process with SIGTERM and checks that each exits with status 0 within
    /// 30 s (graceful shutdown).
    ///
    /// # Errors
    /// When a process does not stop, or stops with a failure.
    pub async fn stop(mut self) -> Result<(), String> {
        let mut failures = Vec::new();
        for (name, child) in &mut self.children {
            let Some(pid) = child.id() else { continue };
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => failures.push(format!("{name} exited with {status}")),
                Ok(Err(e)) => failures.push(format!("{name}: {e}")),
                Err(_) => failures.push(format!("{name} did not stop within 30 s of SIGTERM")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n{}", failures.join("; "), self.logs()))
        }
    }
}
