//! The saga with the three real binaries as separate processes, on a broker named by its
//! `[broker]` config section: [`run_processes`], and the [`Cluster`] it drives.
//!
//! The binaries are found in `COURIER_BIN_DIR` when set; otherwise they are built with
//! `cargo build` into the target directory of the running test, for its profile.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use courier_contracts::{Catalog, CatalogItem, OrderIntake, SagaTopics};
use courier_outbox::{Store, StoreSettings};
use futures::{StreamExt, stream};
use payment_service::{Charge, SimulatedGateway};
use serde_json::Value;
use tokio::process::{Child, Command};

use super::orders::{DECLINE_ABOVE_MINOR, SagaOrder, saga_catalog, saga_orders};

/// The three service binaries.
#[derive(Clone, Debug)]
pub struct ServiceBinaries {
    /// `order-service`.
    pub order: PathBuf,
    /// `inventory-service`.
    pub inventory: PathBuf,
    /// `payment-service`.
    pub payment: PathBuf,
}

impl ServiceBinaries {
    /// The binaries in `COURIER_BIN_DIR`, or else built by cargo for the profile of the
    /// running test into its target directory.
    ///
    /// # Errors
    /// When the build fails or a binary is missing afterwards.
    pub async fn locate_or_build() -> Result<Self, String> {
        // One build per test process, however many tests ask at once.
        static BUILT: tokio::sync::OnceCell<Result<PathBuf, String>> =
            tokio::sync::OnceCell::const_new();
        let dir = match std::env::var_os("COURIER_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => BUILT
                .get_or_init(|| async {
                    tokio::task::spawn_blocking(build)
                        .await
                        .map_err(|e| format!("the build task failed: {e}"))?
                })
                .await
                .clone()?,
        };
        let bins = Self {
            order: dir.join("order-service"),
            inventory: dir.join("inventory-service"),
            payment: dir.join("payment-service"),
        };
        for bin in [&bins.order, &bins.inventory, &bins.payment] {
            if !bin.is_file() {
                return Err(format!("{} does not exist", bin.display()));
            }
        }
        Ok(bins)
    }
}

/// Builds the service binaries for the profile of this test executable
/// (`<target>/<profile>/deps/<test>`); returns `<target>/<profile>`.
fn build() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("no current executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test executable is not in <target>/<profile>/deps")?
        .to_owned();
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => return Err("cannot tell the build profile".into()),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--profile", &profile])
        .args([
            "-p",
            "shop",
            "--bin",
            "order-service",
            "--bin",
            "inventory-service",
            "--bin",
            "payment-service",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(workspace)
        .status()
        .map_err(|e| format!("running cargo build failed: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build of the service binaries failed: {status}"
        ));
    }
    Ok(profile_dir)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Which service process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `order-service`.
    Order,
    /// `inventory-service`.
    Inventory,
    /// `payment-service`.
    Payment,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Order => "order-service",
            Self::Inventory => "inventory-service",
            Self::Payment => "payment-service",
        }
    }
}

/// The catalog of the process runs: the saga catalog with stock that never runs short, so
/// each order's outcome is known in advance (see [`expected_status`]).
pub fn process_catalog() -> Vec<CatalogItem> {
    saga_catalog()
        .into_iter()
        .map(|mut item| {
            if item.stock > 0 {
                item.stock = 1_000_000;
            }
            item
        })
        .collect()
}

/// The status and cancel cause an order must end with on [`process_catalog`]: `cancelled`
/// (`stock`) when it names a product out of stock, else `cancelled` (`payment`) when its
/// total exceeds [`DECLINE_ABOVE_MINOR`], else `confirmed`.
pub fn expected_status(intake: &OrderIntake) -> (&'static str, Option<&'static str>) {
    let catalog = Catalog::new(process_catalog());
    let request = intake
        .clone()
        .into_request(String::new)
        .expect("test orders are valid");
    if request
        .lines
        .iter()
        .any(|l| catalog.get(&l.sku).is_none_or(|i| i.stock < l.quantity))
    {
        return ("cancelled", Some("stock"));
    }
    let placed = catalog.price(&request).expect("test orders are priced");
    if placed.total_minor > DECLINE_ABOVE_MINOR {
        ("cancelled", Some("payment"))
    } else {
        ("confirmed", None)
    }
}

/// The three service processes on one config file, with an HTTP client for the order API.
pub struct Cluster {
    dir: tempfile::TempDir,
    bins: ServiceBinaries,
    config: PathBuf,
    /// The services' store URL (`{service}` replaced by each name).
    pub store_url: String,
    payment_store: tokio::sync::OnceCell<Store>,
    /// `http://127.0.0.1:<port>`, the order API.
    pub base_url: String,
    /// The topics of this run.
    pub topics: SagaTopics,
    http: reqwest::Client,
    children: BTreeMap<String, Child>,
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
        };
        for service in [Service::Inventory, Service::Payment, Service::Order] {
            cluster.spawn(service)?;
        }
        cluster.wait_healthy(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    fn spawn(&mut self, service: Service) -> Result<(), String> {
        self.spawn_instance(service, service.name().to_owned(), &[])
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

    async fn open_store(
        &self,
        prefix: &str,
        migrations: &[courier_outbox::Migration],
    ) -> Result<Store, String> {
        Store::open(
            &self.store_url,
            prefix,
            migrations,
            StoreSettings::default(),
        )
        .await
        .map_err(|e| format!("opening the {prefix} store failed: {e}"))
    }

    /// Free stock per SKU, read from the inventory service's store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn stock(&self) -> Result<BTreeMap<String, i64>, String> {
        let store = self
            .open_store(
                inventory_service::STORE_PREFIX,
                inventory_service::MIGRATIONS,
            )
            .await?;
        let mut conn = store.pool().acquire().await.map_err(|e| e.to_string())?;
        let levels = inventory_service::repository::levels(&mut conn, store.prefix())
            .await
            .map_err(|e| e.to_string())?;
        drop(conn);
        store.close().await;
        Ok(levels
            .into_iter()
            .map(|l| (l.sku, i64::from(l.available)))
            .collect())
    }

    /// Every charge the payment service's gateway made, in order, read from its store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn charges(&self) -> Result<Vec<Charge>, String> {
        let store = self
            .payment_store
            .get_or_try_init(|| {
                self.open_store(payment_service::STORE_PREFIX, payment_service::MIGRATIONS)
            })
            .await?;
        SimulatedGateway::journal(store)
            .await
            .map_err(|e| format!("reading the gateway's charges failed: {e}"))
    }

    /// The approved charges by order id, and how many charges the gateway made in all.
    ///
    /// # Errors
    /// When the store cannot be read, or an order was charged twice.
    pub async fn approved_charges(&self) -> Result<(BTreeMap<String, i64>, usize), String> {
        let charges = self.charges().await?;
        let mut seen = BTreeSet::new();
        let mut approved = BTreeMap::new();
        for charge in &charges {
            if !seen.insert(charge.order_id.as_str()) {
                return Err(format!("order {} was charged twice", charge.order_id));
            }
            if charge.is_approved() {
                approved.insert(charge.order_id.clone(), charge.amount_minor);
            }
        }
        Ok((approved, charges.len()))
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

    /// `POST /orders` with `body`: the status code and the JSON answer.
    ///
    /// # Errors
    /// When the request fails or the answer is not JSON.
    pub async fn post(&self, body: &str) -> Result<(u16, Value), String> {
        let r = self
            .http
            .post(format!("{}/orders", self.base_url))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| format!("POST /orders failed: {e}"))?;
        let status = r.status().as_u16();
        let json = r
            .json()
            .await
            .map_err(|e| format!("POST /orders answered no JSON: {e}"))?;
        Ok((status, json))
    }

    /// `GET <path>`: the status code and the body.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn get(&self, path: &str) -> Result<(u16, String), String> {
        let r = self
            .http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .map_err(|e| format!("GET {path} failed: {e}"))?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(|e| e.to_string())?))
    }

    /// Polls `GET /orders/{id}` for every id until none is pending or `timeout` passes;
    /// returns the last answer per id.
    pub async fn wait_settled(&self, ids: &[String], timeout: Duration) -> BTreeMap<String, Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut views: BTreeMap<String, Value> = BTreeMap::new();
        let mut pending: Vec<String> = ids.to_vec();
        while !pending.is_empty() && tokio::time::Instant::now() < deadline {
            let answers: Vec<(String, Option<Value>)> = stream::iter(pending.clone())
                .map(|id| async move {
                    let view = match self.get(&format!("/orders/{id}")).await {
                        Ok((200, body)) => serde_json::from_str::<Value>(&body).ok(),
                        _ => None,
                    };
                    (id, view)
                })
                .buffer_unordered(16)
                .collect()
                .await;
            pending.clear();
            for (id, view) in answers {
                let settled = view.as_ref().is_some_and(|v| v["status"] != "pending");
                if !settled {
                    pending.push(id.clone());
                }
                if let Some(view) = view {
                    views.insert(id, view);
                }
            }
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        views
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

fn config_toml(
    broker_section: &str,
    topics: &SagaTopics,
    port: u16,
    store_url: &str,
    catalog: &[CatalogItem],
) -> String {
    let mut toml = format!(
        "{broker_section}\n\n[store]\nurl = {store_url:?}\nrelay_poll_ms = 200\nmax_connections = 4\n\n[topics]\norder_intake = {:?}\norder_placed = {:?}\n\
         stock_reserved = {:?}\nstock_rejected = {:?}\npayment_succeeded = {:?}\n\
         payment_failed = {:?}\n\n[runtime]\nbackoff_initial_ms = 20\nbackoff_max_ms = 1000\n\
         shutdown_deadline_ms = 5000\n\n[services.order]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [services.payment]\ndecline_above_minor = {DECLINE_ABOVE_MINOR}\n",
        topics.order_intake,
        topics.order_placed,
        topics.stock_reserved,
        topics.stock_rejected,
        topics.payment_succeeded,
        topics.payment_failed,
    );
    for item in catalog {
        let _ = write!(
            toml,
            "\n[[services.inventory.catalog]]\nsku = {:?}\nname = {:?}\nprice_minor = {}\nstock = {}\n",
            item.sku, item.name, item.price_minor, item.stock
        );
    }
    toml
}

/// How [`run_processes`] runs.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// Orders to post over HTTP.
    pub orders: usize,
    /// Kill this service with SIGKILL once the gateway has charged
    /// [`kill_after_charges`](Self::kill_after_charges) orders, then start it again.
    pub kill: Option<Service>,
    /// Charges the gateway makes before [`kill`](Self::kill) strikes (0: as soon as posting
    /// begins, so the victim's events wait for it while it is down).
    pub kill_after_charges: usize,
    /// How long every order may take to settle.
    pub settle_timeout: Duration,
    /// The services' store URL (`{service}` replaced by each name); `None`: a SQLite file
    /// per service in the run's temporary folder.
    pub store_url: Option<String>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            orders: 120,
            kill: None,
            kill_after_charges: 5,
            settle_timeout: Duration::from_secs(90),
            store_url: None,
        }
    }
}

/// What a process run ended with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Orders posted.
    pub orders: usize,
    /// Orders confirmed.
    pub confirmed: usize,
    /// Orders cancelled for stock.
    pub cancelled_stock: usize,
    /// Orders cancelled for payment.
    pub cancelled_payment: usize,
    /// Charges in the gateway's journal.
    pub charges: usize,
    /// Whether orders were still being posted when the service was killed.
    pub posting_when_killed: bool,
    /// Charges in the journal right after the kill (0 without a kill).
    pub charges_before_kill: usize,
}

impl ProcessReport {
    /// Checks that every order settled and that the gateway charged each order that reached
    /// payment exactly once.
    ///
    /// # Panics
    /// When either does not hold.
    pub fn assert_reconciled(&self) {
        assert_eq!(
            self.confirmed + self.cancelled_stock + self.cancelled_payment,
            self.orders,
            "every order settles: {self:?}"
        );
        assert_eq!(
            self.charges,
            self.confirmed + self.cancelled_payment,
            "one charge per order that reached payment: {self:?}"
        );
    }

    /// Checks that the run saw every outcome (confirmed, cancelled for stock, cancelled for
    /// payment) and [reconciled](Self::assert_reconciled).
    ///
    /// # Panics
    /// When an outcome is missing or the run does not reconcile.
    pub fn assert_every_outcome(&self) {
        assert!(
            self.confirmed > 0 && self.cancelled_stock > 0 && self.cancelled_payment > 0,
            "an outcome is missing: {self:?}"
        );
        self.assert_reconciled();
    }

    /// Checks, after a run that killed the payment process, that the kill came after some
    /// charges and that the restarted process charged more, each order once.
    ///
    /// # Panics
    /// When any of that does not hold.
    pub fn assert_payment_restarted(&self) {
        assert!(
            self.charges_before_kill > 0,
            "the kill came before any charge: {self:?}"
        );
        assert!(
            self.charges > self.charges_before_kill,
            "the restarted payment process charged nothing: {self:?}"
        );
        self.assert_reconciled();
    }
}

/// Starts the three binaries on the broker of `broker_section`, checks the HTTP API's
/// answers to bad input, posts the orders over HTTP (killing and restarting a service
/// half-way when asked), polls `GET /orders/{id}` until all settle, and checks that each
/// ended as [`expected_status`] says, that the gateway's charges charged no order twice and
/// charged exactly the confirmed orders their totals, and that every process stops
/// gracefully on SIGTERM.
///
/// # Panics
/// When any of that fails; the message carries the tail of each process's log.
pub async fn run_processes(broker_section: &str, options: ProcessOptions) -> ProcessReport {
    let topics = super::fresh_topics();
    let mut cluster = Cluster::start(broker_section, topics, options.store_url.as_deref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fail = |cluster: &Cluster, msg: String| -> ! { panic!("{msg}\n{}", cluster.logs()) };

    check_api_errors(&cluster)
        .await
        .unwrap_or_else(|e| fail(&cluster, e));

    let orders: Vec<SagaOrder> = saga_orders(options.orders, 7);
    let mut report_kill = ProcessReport::default();
    let poster = tokio::spawn(post_all(
        cluster.http.clone(),
        cluster.base_url.clone(),
        orders.clone(),
    ));
    if let Some(victim) = options.kill {
        // Kill mid-run: once the gateway has charged a few orders (orders may still be coming
        // in, or all be posted and waiting to settle).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            let charged = cluster.charges().await.map_or(0, |j| j.len());
            if charged >= options.kill_after_charges {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster
            .kill(victim)
            .await
            .unwrap_or_else(|e| fail(&cluster, e));
        report_kill.charges_before_kill = cluster.charges().await.map_or(0, |j| j.len());
        report_kill.posting_when_killed = !poster.is_finished();
        cluster
            .restart(victim)
            .await
            .unwrap_or_else(|e| fail(&cluster, e));
    }
    poster
        .await
        .unwrap_or_else(|e| fail(&cluster, format!("the posting task failed: {e}")))
        .unwrap_or_else(|e| fail(&cluster, e));

    let ids: Vec<String> = orders.iter().map(|o| o.id().to_owned()).collect();
    let views = cluster.wait_settled(&ids, options.settle_timeout).await;
    let mut report = ProcessReport {
        orders: orders.len(),
        ..report_kill
    };
    let mut confirmed_totals = BTreeMap::new();
    for order in &orders {
        let view = views
            .get(order.id())
            .unwrap_or_else(|| fail(&cluster, format!("order {} unknown", order.id())));
        let (status, cause) = expected_status(&order.intake);
        if view["status"] != status || view["cancelled_by"].as_str() != cause {
            fail(
                &cluster,
                format!(
                    "order {} should be {status} ({cause:?}), is {view}",
                    order.id()
                ),
            );
        }
        match cause {
            None => {
                report.confirmed += 1;
                confirmed_totals.insert(
                    order.id().to_owned(),
                    view["total_minor"].as_i64().unwrap_or(-1),
                );
            }
            Some("stock") => report.cancelled_stock += 1,
            Some(_) => report.cancelled_payment += 1,
        }
        if status == "cancelled" && view["reason"].as_str().is_none_or(str::is_empty) {
            fail(
                &cluster,
                format!("cancelled order {} has no reason: {view}", order.id()),
            );
        }
    }

    let (charged, charges) = cluster
        .approved_charges()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    if charged != confirmed_totals {
        fail(
            &cluster,
            format!(
                "charges {charged:?} differ from the confirmed orders' totals {confirmed_totals:?}"
            ),
        );
    }
    report.charges = charges;
    let held = confirmed_units(views.values());
    let stock = cluster.stock().await.unwrap_or_else(|e| fail(&cluster, e));
    for item in process_catalog() {
        let moved = i64::from(item.stock) - stock.get(&item.sku).copied().unwrap_or(-1);
        let expected = held.get(&item.sku).copied().unwrap_or(0);
        if moved != expected {
            fail(
                &cluster,
                format!(
                    "stock of {} moved by {moved}, the confirmed orders hold {expected}",
                    item.sku
                ),
            );
        }
    }

    let (status, metrics) = cluster
        .get("/metrics")
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    if status != 200 || !metrics.contains("courier_messages_acked_total") {
        fail(
            &cluster,
            format!("GET /metrics answered {status}: {metrics}"),
        );
    }
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
    report
}

/// Units per SKU held by the confirmed orders among `views` (`GET /orders/{id}` answers).
fn confirmed_units<'a>(views: impl Iterator<Item = &'a Value>) -> BTreeMap<String, i64> {
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    for view in views.filter(|v| v["status"] == "confirmed") {
        for line in view["lines"].as_array().into_iter().flatten() {
            let sku = line["sku"].as_str().unwrap_or_default().to_owned();
            *held.entry(sku).or_default() += line["quantity"].as_i64().unwrap_or(0);
        }
    }
    held
}

/// What [`run_scale_out`] saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleOutReport {
    /// Orders posted, half to each order instance.
    pub orders: usize,
    /// Orders confirmed.
    pub confirmed: usize,
    /// Orders cancelled.
    pub cancelled: usize,
    /// Units of the scarce product confirmed, and its stock.
    pub scarce_confirmed: i64,
    /// The scarce product's initial stock.
    pub scarce_stock: i64,
}

/// Two instances of every service on the broker of `broker_section`, sharing the stores at
/// `store_url` (PostgreSQL): `orders` orders posted across both order instances, for a
/// catalog with a product of less stock than ordered. Checks that every order settles,
/// that either order instance answers for any order, that confirmed quantities never
/// exceed the stock and equal what left it, and that no order is charged twice.
///
/// # Panics
/// When any of that fails; the message carries the tail of the logs.
pub async fn run_scale_out(broker_section: &str, store_url: &str, orders: usize) -> ScaleOutReport {
    let catalog = super::saga_catalog();
    let mut cluster = Cluster::start_with_catalog(
        broker_section,
        super::fresh_topics(),
        Some(store_url),
        &catalog,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let fail = |cluster: &Cluster, msg: String| -> ! { panic!("{msg}\n{}", cluster.logs()) };
    let second = cluster
        .add_instances()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    let placed = saga_orders(orders, 11);
    let (first_half, second_half) = placed.split_at(placed.len() / 2);
    let (a, b) = tokio::join!(
        post_all(
            cluster.http.clone(),
            cluster.base_url.clone(),
            first_half.to_vec()
        ),
        post_all(cluster.http.clone(), second.clone(), second_half.to_vec()),
    );
    a.and(b).unwrap_or_else(|e| fail(&cluster, e));
    let ids: Vec<String> = placed.iter().map(|o| o.id().to_owned()).collect();
    let views = cluster.wait_settled(&ids, Duration::from_secs(120)).await;
    let mut report = ScaleOutReport {
        orders: placed.len(),
        ..ScaleOutReport::default()
    };
    let mut confirmed_totals = BTreeMap::new();
    for id in &ids {
        let view = views
            .get(id)
            .unwrap_or_else(|| fail(&cluster, format!("order {id} unknown")));
        match view["status"].as_str() {
            Some("confirmed") => {
                report.confirmed += 1;
                confirmed_totals.insert(id.clone(), view["total_minor"].as_i64().unwrap_or(-1));
            }
            Some("cancelled") => report.cancelled += 1,
            _ => fail(&cluster, format!("order {id} did not settle: {view}")),
        }
    }
    // The other order instance answers for every order the same way.
    for id in ids.iter().step_by(7) {
        let url = format!("{second}/orders/{id}");
        let other: Option<Value> = match cluster.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        if other.as_ref() != views.get(id) {
            fail(
                &cluster,
                format!("the second order instance answers {other:?} for {id}"),
            );
        }
    }
    let held = confirmed_units(views.values());
    let stock = cluster.stock().await.unwrap_or_else(|e| fail(&cluster, e));
    for item in &catalog {
        let left = stock.get(&item.sku).copied().unwrap_or(-1);
        let confirmed = held.get(&item.sku).copied().unwrap_or(0);
        if confirmed > i64::from(item.stock) || i64::from(item.stock) - left != confirmed {
            fail(
                &cluster,
                format!(
                    "{}: stock {}, {left} left, {confirmed} confirmed",
                    item.sku, item.stock
                ),
            );
        }
        if item.sku == "scarce" {
            report.scarce_confirmed = confirmed;
            report.scarce_stock = i64::from(item.stock);
        }
    }
    let (approved, _) = cluster
        .approved_charges()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    if approved != confirmed_totals {
        fail(
            &cluster,
            "charges differ from the confirmed orders' totals".into(),
        );
    }
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
    report
}

/// Posts every order over HTTP, 16 at a time; each must be accepted (202). A request the
/// service could not answer (it was killed, or is restarting) is sent again with the same
/// order id, as a client of an idempotent API does, for up to 90 s.
async fn post_all(
    http: reqwest::Client,
    base_url: String,
    orders: Vec<SagaOrder>,
) -> Result<(), String> {
    let url = format!("{base_url}/orders");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(90);
    let answers: Vec<Result<u16, String>> = stream::iter(orders)
        .map(|o| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                loop {
                    let answer = http.post(&url).json(&o.intake).send().await;
                    match answer {
                        Ok(r) if r.status().as_u16() < 500 => return Ok(r.status().as_u16()),
                        Ok(_) | Err(_) if tokio::time::Instant::now() < give_up => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Ok(r) => return Ok(r.status().as_u16()),
                        Err(e) => return Err(format!("POST /orders of {} failed: {e}", o.id())),
                    }
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for answer in answers {
        let status = answer?;
        if status != 202 {
            return Err(format!("POST /orders answered {status}"));
        }
    }
    Ok(())
}

/// Bad input gets 400 with a JSON error, an unknown order 404, health 200.
async fn check_api_errors(cluster: &Cluster) -> Result<(), String> {
    for (body, says) in [
        ("{not json", "invalid order JSON"),
        (
            r#"{"order_id": "x1", "product_id": "plenty", "quantity": 0}"#,
            "must be positive",
        ),
        (
            r#"{"order_id": "x2", "product_id": "no-such-sku", "quantity": 1}"#,
            "unknown sku",
        ),
        (r#"{"order_id": "x3", "lines": []}"#, "has no lines"),
    ] {
        let (status, json) = cluster.post(body).await?;
        let error = json["error"].as_str().unwrap_or_default();
        if status != 400 || !error.contains(says) {
            return Err(format!(
                "POST {body} answered {status} {json}, expected 400 saying {says:?}"
            ));
        }
    }
    let (status, _) = cluster.get("/orders/no-such-order").await?;
    if status != 404 {
        return Err(format!(
            "GET of an unknown order answered {status}, expected 404"
        ));
    }
    let (status, body) = cluster.get("/healthz").await?;
    if status != 200 {
        return Err(format!("GET /healthz answered {status}: {body}"));
    }
    Ok(())
}
