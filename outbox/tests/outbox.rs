//! The outbox and inbox on a real SQLite file and a real PostgreSQL database, with the
//! in-memory broker as the relay's producer.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use courier_core::{Broker, Consumer, Context, Handler, HandlerError, Message, Producer};
use courier_memory::{MemoryBroker, MemoryConfig};
use courier_outbox::{
    Dialect, Json, Migration, Relay, Round, Row, Store, StoreError, StoreSettings, Tx, TxHandler,
    scratch::ScratchDatabase,
};

const TOPIC: &str = "outbox.test";
const GROUP: &str = "reader";

/// A database to run a test on; dropped afterwards.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchDatabase),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}/svc.db", dir.path().display()),
            Self::Postgres(db) => db.url(),
        }
    }
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("COURIER_REQUIRE_BROKERS").is_ok_and(|v| v == "1")
}

/// A SQLite file, and a fresh PostgreSQL database when the server answers (required in CI).
async fn databases() -> Vec<Db> {
    let mut dbs = vec![Db::Sqlite(tempfile::tempdir().expect("tempdir"))];
    match ScratchDatabase::create().await {
        Ok(db) => dbs.push(Db::Postgres(db)),
        Err(e) if required() => panic!("PostgreSQL required (CI) but absent: {e}"),
        Err(e) => eprintln!("SKIP postgres: {e}; set COURIER_REQUIRE_BROKERS=1 to fail instead"),
    }
    dbs
}

const COUNTER: &[Migration] = &[Migration::portable(
    1,
    "a counter per name",
    "create table {prefix}_counter (name text primary key, n bigint not null)",
)];

async fn open(url: &str, settings: StoreSettings) -> Store {
    Store::open(url, "svc", COUNTER, settings)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"))
}

async fn memory_broker() -> (MemoryBroker, Box<dyn Consumer>) {
    let broker = MemoryBroker::new(MemoryConfig::default());
    broker.declare_group(TOPIC, GROUP).await.expect("declare");
    let consumer = broker
        .subscribe(courier_core::Subscription::new(TOPIC, GROUP).with_prefetch(10_000))
        .await
        .expect("subscribe");
    (broker, consumer)
}

/// Every message that arrives within `quiet` of the previous one, acked.
async fn drain(consumer: &mut Box<dyn Consumer>, quiet: Duration) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Ok(batch)) = tokio::time::timeout(quiet, consumer.recv_batch(1_000)).await {
        if batch.is_empty() {
            break;
        }
        for mut delivery in batch {
            delivery.ack().await.expect("ack");
            out.push(delivery.message);
        }
    }
    out
}

async fn enqueue(store: &Store, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let mut tx = store.begin().await.expect("begin");
    for i in 0..n {
        let message = Message::new(format!("{key}:{i}")).with_key(key);
        ids.push(message.id.to_string());
        tx.send(TOPIC, message);
    }
    tx.commit().await.expect("commit");
    ids
}

#[tokio::test]
async fn a_rolled_back_transaction_sends_nothing() {
    for db in databases().await {
        let store = open(&db.url(), StoreSettings::default()).await;
        let (broker, mut consumer) = memory_broker().await;
        let relay = Relay::new(store.clone(), broker.producer().await.expect("producer"));
        let mut tx = store.begin().await.expect("begin");
        tx.send(TOPIC, Message::new("rolled back"));
        tx.rollback().await.expect("rollback");
        let mut tx = store.begin().await.expect("begin");
        tx.send(TOPIC, Message::new("dropped"));
        drop(tx);
        let kept = enqueue(&store, "k", 1).await;
        assert_eq!(relay.drain().await.expect("drain"), 1, "{}", db.url());
        let got = drain(&mut consumer, Duration::from_millis(300)).await;
        assert_eq!(
            got.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
            kept,
            "only the committed message is sent on {}",
            store.dialect().name()
        );
        assert_eq!(store.unsent().await.expect("count"), 0);
    }
}

/// Confirms every send on the broker, then never returns: a relay that dies between the
/// broker's confirm and marking its rows.
struct ConfirmThenHang(Arc<dyn Producer>);

#[async_trait]
impl Producer for ConfirmThenHang {
    async fn send(&self, topic: &str, message: Message) -> courier_core::Result<()> {
        self.0.send(topic, message).await?;
        std::future::pending().await
    }
    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> courier_core::Result<()> {
        self.0.send_batch(topic, messages).await?;
        std::future::pending().await
    }
    async fn flush(&self) -> courier_core::Result<()> {
        self.0.flush().await
    }
    async fn close(&self) -> courier_core::Result<()> {
        self.0.close().await
    }
}

#[tokio::test]
async fn a_relay_killed_between_send_and_mark_sends_again_and_loses_nothing() {
    for db in databases().await {
        let store = open(&db.url(), StoreSettings::default()).await;
        let (broker, mut consumer) = memory_broker().await;
        let producer = broker.producer().await.expect("producer");
        let ids = enqueue(&store, "k", 50).await;
        let dying = Relay::new(store.clone(), Arc::new(ConfirmThenHang(producer.clone())));
        let round = tokio::time::timeout(Duration::from_millis(500), dying.round()).await;
        assert!(round.is_err(), "the dying relay never marks: {round:?}");
        drop(dying);
        assert_eq!(
            store.unsent().await.expect("count"),
            50,
            "nothing was marked"
        );
        // A new process: a new pool on the same database.
        let restarted = open(&db.url(), StoreSettings::default()).await;
        let relay = Relay::new(restarted.clone(), producer);
        assert_eq!(relay.drain().await.expect("drain"), 50);
        let got = drain(&mut consumer, Duration::from_millis(300)).await;
        let mut times: HashMap<String, usize> = HashMap::new();
        for m in &got {
            *times.entry(m.id.to_string()).or_default() += 1;
        }
        for id in &ids {
            assert_eq!(
                times.get(id),
                Some(&2),
                "{id} sent before the crash and again after"
            );
        }
        assert_eq!(got.len(), 100, "{}", store.dialect().name());
        assert_eq!(restarted.unsent().await.expect("count"), 0);
    }
}

/// Counts the batches in flight across every relay that uses it.
struct InFlight {
    inner: Arc<dyn Producer>,
    now: AtomicUsize,
    most: AtomicUsize,
}

#[async_trait]
impl Producer for InFlight {
    async fn send(&self, topic: &str, message: Message) -> courier_core::Result<()> {
        self.send_batch(topic, vec![message]).await
    }
    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> courier_core::Result<()> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = self.inner.send_batch(topic, messages).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        sent
    }
    async fn flush(&self) -> courier_core::Result<()> {
        self.inner.flush().await
    }
    async fn close(&self) -> courier_core::Result<()> {
        self.inner.close().await
    }
}

#[tokio::test]
async fn relays_keep_per_key_order_and_two_on_postgres_never_send_a_row_together() {
    for db in databases().await {
        let settings = StoreSettings {
            relay_batch: 16,
            ..StoreSettings::default()
        };
        let store = open(&db.url(), settings.clone()).await;
        let (broker, mut consumer) = memory_broker().await;
        let producer = Arc::new(InFlight {
            inner: broker.producer().await.expect("producer"),
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        let keys = ["a", "b", "c", "d", "e"];
        let mut expected: HashMap<&str, Vec<String>> = HashMap::new();
        // Several writers and the relays at once; each key's messages commit in order.
        let relays: Vec<Arc<Relay>> = match store.dialect() {
            Dialect::Postgres => vec![
                Relay::new(store.clone(), producer.clone()),
                Relay::new(open(&db.url(), settings.clone()).await, producer.clone()),
            ],
            Dialect::Sqlite => vec![Relay::new(store.clone(), producer.clone())],
        };
        let writing = async {
            for round in 0..20 {
                let mut batch = Vec::new();
                let store = &store;
                for key in keys {
                    batch.push(async move { (key, enqueue(store, key, 1 + round % 3).await) });
                }
                for (key, ids) in futures::future::join_all(batch).await {
                    expected.entry(key).or_default().extend(ids);
                }
            }
        };
        let relaying = async {
            let mut rounds = Vec::new();
            for relay in &relays {
                rounds.push(async move {
                    let mut idle = 0;
                    while idle < 20 {
                        match relay.round().await.expect("round") {
                            Round::Sent(_) => idle = 0,
                            Round::Idle | Round::Busy => {
                                idle += 1;
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        }
                    }
                });
            }
            futures::future::join_all(rounds).await;
        };
        tokio::join!(writing, relaying);
        for relay in &relays {
            relay.drain().await.expect("drain");
        }
        let got = drain(&mut consumer, Duration::from_millis(300)).await;
        let total: usize = expected.values().map(Vec::len).sum();
        assert_eq!(
            got.len(),
            total,
            "each row sent exactly once ({})",
            db.url()
        );
        for key in keys {
            let order: Vec<String> = got
                .iter()
                .filter(|m| m.key.as_deref() == Some(key))
                .map(|m| m.id.to_string())
                .collect();
            assert_eq!(order, expected[key], "key {key} arrives in commit order");
        }
        assert_eq!(
            producer.most.load(Ordering::SeqCst),
            1,
            "one batch in flight at a time across the relays"
        );
        if relays.len() == 2 {
            assert!(
                relays.iter().all(|r| r.sent() > 0)
                    || relays.iter().any(|r| r.sent() == total as u64),
                "the relays shared or one did all the work"
            );
        }
    }
}

/// Counts each delivery in a table and sends one message per delivery.
struct CountingHandler;

#[async_trait]
impl TxHandler<Json<serde_json::Value>> for CountingHandler {
    async fn handle(
        &self,
        event: Json<serde_json::Value>,
        tx: &mut Tx,
        _context: &Context,
    ) -> Result<(), HandlerError> {
        let name = event.0["name"].as_str().unwrap_or_default().to_owned();
        let sql = format!(
            "insert into {} (name, n) values ($1, 1) on conflict (name) do update set n = {}.n + 1",
            tx.table("counter"),
            tx.table("counter")
        );
        sqlx_query(tx, &sql, &name).await?;
        tx.send(TOPIC, Message::new(name));
        Ok(())
    }
}

async fn sqlx_query(tx: &mut Tx, sql: &str, name: &str) -> Result<(), StoreError> {
    courier_outbox::query(sql)
        .bind(name)
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_change_state_once() {
    for db in databases().await {
        let store = open(&db.url(), StoreSettings::default()).await;
        let handler = courier_outbox::Transactional::<Json<serde_json::Value>, _>::new(
            store.clone(),
            Arc::new(CountingHandler),
        );
        let message = Message::new(r#"{"name": "x"}"#);
        let context = Context::new(TOPIC, GROUP, &message);
        let tries = (0..20).map(|_| handler.handle(&message, &context));
        for result in futures::future::join_all(tries).await {
            result.unwrap_or_else(|e| panic!("a duplicate failed on {}: {e}", db.url()));
        }
        let row = courier_outbox::query("select n from svc_counter where name = 'x'")
            .fetch_one(store.pool())
            .await
            .expect("counter");
        let n: i64 = row.try_get("n").expect("n");
        assert_eq!(
            n,
            1,
            "twenty deliveries of one message count once on {}",
            db.url()
        );
        assert_eq!(store.outbox_rows().await.expect("rows"), 1, "and send once");
        assert_eq!(store.inbox_rows().await.expect("rows"), 1);
        // Another group handles the same message once more.
        let other = Context::new(TOPIC, "other", &message);
        handler.handle(&message, &other).await.expect("other group");
        assert_eq!(store.inbox_rows().await.expect("rows"), 2);
        // A failed handler keeps nothing, not even the inbox claim.
        let bad = Message::new("not json");
        assert!(handler.handle(&bad, &context).await.is_err());
        assert_eq!(store.inbox_rows().await.expect("rows"), 2);
    }
}

#[tokio::test]
async fn pruning_keeps_the_tables_bounded() {
    for db in databases().await {
        let settings = StoreSettings {
            outbox_retention_s: 0,
            inbox_retention_s: 0,
            ..StoreSettings::default()
        };
        let store = open(&db.url(), settings).await;
        let (broker, _consumer) = memory_broker().await;
        let relay = Relay::new(store.clone(), broker.producer().await.expect("producer"));
        for round in 0..5 {
            enqueue(&store, "k", 40).await;
            let mut tx = store.begin().await.expect("begin");
            for i in 0..40 {
                assert!(
                    tx.claim(GROUP, &format!("{round}-{i}"))
                        .await
                        .expect("claim")
                );
            }
            tx.commit().await.expect("commit");
            relay.drain().await.expect("drain");
            enqueue(&store, "unsent", 3).await;
            let (sent, claimed) = store.prune().await.expect("prune");
            assert_eq!((sent, claimed), (40, 40), "round {round} on {}", db.url());
            assert_eq!(
                store.outbox_rows().await.expect("rows"),
                3,
                "unsent rows are never pruned"
            );
            assert_eq!(store.inbox_rows().await.expect("rows"), 0);
            relay.drain().await.expect("drain");
            store.prune().await.expect("prune");
        }
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    for db in databases().await {
        let url = db.url();
        let store = open(&url, StoreSettings::default()).await;
        open(&url, StoreSettings::default()).await;
        courier_outbox::query(
            "insert into svc_schema (component, version, description, applied_us) values ('svc', 99, 'future', 0)",
        )
        .execute(store.pool())
        .await
        .expect("insert");
        let e = Store::open(&url, "svc", COUNTER, StoreSettings::default())
            .await
            .expect_err("newer schema refused");
        assert!(
            matches!(
                e,
                StoreError::SchemaNewer {
                    found: 99,
                    supported: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.is_config());
    }
}

#[tokio::test]
async fn an_unreachable_database_names_the_store_without_its_password() {
    let started = std::time::Instant::now();
    let url = "postgres://shop:pa/ss@word@127.0.0.1:9/shop";
    let e = Store::open(url, "svc", COUNTER, StoreSettings::default())
        .await
        .expect_err("nothing listens on port 9");
    let text = e.to_string();
    assert!(
        text.contains("postgres://shop:***@127.0.0.1:9/shop"),
        "{text}"
    );
    assert!(!text.contains("pa/ss"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let e = Store::open("mysql://x@h/db", "svc", COUNTER, StoreSettings::default())
        .await
        .expect_err("unknown scheme");
    assert!(e.is_config(), "{e}");
}
