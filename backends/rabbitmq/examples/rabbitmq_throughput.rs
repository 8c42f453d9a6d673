//! Throughput of courier on RabbitMQ against raw lapin doing the same work: send N persistent
//! messages of S bytes with a confirm window of W, while one consumer with prefetch P receives
//! and acks each one; the clock stops at the last ack.
//!
//! ```text
//! cargo run --release -p courier-rabbitmq --example rabbitmq_throughput -- [N] [S] [W] [P] [ROUNDS] [URL]
//! ```
//! Defaults: 20000 messages, 1024 bytes, window 256, prefetch 256, 3 rounds,
//! `amqp://guest:guest@127.0.0.1:5672/%2f`. Queues are created with `x-expires` (1 minute) and
//! vanish by themselves; the exchanges are deleted at the end.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use courier_core::{Broker, Message, Subscription};
use courier_rabbitmq::{RabbitMqBroker, RabbitMqConfig};
use futures::{StreamExt, stream::FuturesUnordered};
use lapin::{
    BasicProperties, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use tokio::sync::Semaphore;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Run {
    count: usize,
    size: usize,
    window: usize,
    prefetch: usize,
    url: String,
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let run = Run {
        count: number(0, 20_000),
        size: number(1, 1024),
        window: number(2, 256),
        prefetch: number(3, 256),
        url: args
            .get(5)
            .cloned()
            .unwrap_or_else(|| RabbitMqConfig::DEFAULT_URL.to_owned()),
    };
    let rounds = number(4, 3);
    println!(
        "{} messages of {} bytes, confirm window {}, prefetch {}, {rounds} rounds",
        run.count, run.size, run.window, run.prefetch
    );
    let (mut raw, mut courier) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let r = raw_lapin(&run, round).await?;
        let c = through_courier(&run, round).await?;
        println!(
            "round {round}: raw lapin {r:>8.0} msg/s   courier {c:>8.0} msg/s   ratio {:.3}",
            c / r
        );
        raw.push(r);
        courier.push(c);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, c) = (median(&mut raw), median(&mut courier));
    println!(
        "median: raw lapin {r:.0} msg/s, courier {c:.0} msg/s, courier/raw = {:.3}",
        c / r
    );
    Ok(())
}

fn topic(kind: &str, round: usize) -> String {
    format!("throughput.{kind}.{}.{round}", std::process::id())
}

async fn through_courier(run: &Run, round: usize) -> Result<f64, Failure> {
    let broker = RabbitMqBroker::connect(RabbitMqConfig {
        url: run.url.clone(),
        confirm_window: run.window,
        queue_expires_ms: Some(60_000),
        ..RabbitMqConfig::default()
    })
    .await?;
    let topic = topic("courier", round);
    broker.declare_group(&topic, "g").await?;
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "g").with_prefetch(run.prefetch))
        .await?;
    let producer = broker.producer().await?;
    let payload = bytes::Bytes::from(vec![b'x'; run.size]);
    let messages: Vec<Message> = (0..run.count)
        .map(|_| Message::new(payload.clone()))
        .collect();
    let count = run.count;
    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut acked = 0;
        while acked < count {
            for mut d in consumer.recv_batch(256).await? {
                d.ack().await?;
                acked += 1;
            }
        }
        consumer.close().await?;
        Ok::<_, courier_core::Error>(())
    });
    producer.send_batch(&topic, messages).await?;
    consuming.await??;
    let rate = run.count as f64 / started.elapsed().as_secs_f64();
    producer.close().await?;
    broker.close().await?;
    delete_exchange(run, &topic).await?;
    Ok(rate)
}

async fn raw_lapin(run: &Run, round: usize) -> Result<f64, Failure> {
    let url = run.url.replace("127.0.0.1", "localhost");
    let publishing = Connection::connect(&url, ConnectionProperties::default()).await?;
    let consuming = Connection::connect(&url, ConnectionProperties::default()).await?;
    let topic = topic("raw", round);
    let queue = format!("{topic}.g");
    let setup = publishing.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    setup
        .exchange_declare(
            topic.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert("x-expires".into(), AMQPValue::LongLongInt(60_000));
    setup
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    setup
        .queue_bind(
            queue.as_str().into(),
            topic.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let receive = consuming.create_channel().await?;
    receive
        .basic_qos(run.prefetch.min(65_535) as u16, BasicQosOptions::default())
        .await?;
    let mut deliveries = receive
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let publish = publishing.create_channel().await?;
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let payload = vec![b'x'; run.size];
    let count = run.count;
    let started = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut acked = 0;
        while acked < count {
            let Some(delivery) = deliveries.next().await else {
                return Err("the raw consumer ended".into());
            };
            delivery?.ack(BasicAckOptions::default()).await?;
            acked += 1;
        }
        Ok::<_, Failure>(())
    });
    let window = Arc::new(Semaphore::new(run.window));
    let mut confirms = FuturesUnordered::new();
    for i in 0..run.count {
        let permit = loop {
            tokio::select! {
                biased;
                Some(confirmed) = confirms.next(), if !confirms.is_empty() => {
                    let confirmed: Result<lapin::Confirmation, lapin::Error> = confirmed;
                    if !confirmed?.is_ack() {
                        return Err("nack".into());
                    }
                }
                permit = window.clone().acquire_owned() => break permit?,
            }
        };
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(format!("raw-{i}").into());
        let confirm = publish
            .basic_publish(
                topic.as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await?;
        confirms.push(async move {
            let outcome = confirm.await;
            drop(permit);
            outcome
        });
    }
    while let Some(confirmed) = confirms.next().await {
        if !confirmed?.is_ack() {
            return Err("nack".into());
        }
    }
    consumer.await??;
    let rate = run.count as f64 / started.elapsed().as_secs_f64();
    setup
        .exchange_delete(topic.as_str().into(), ExchangeDeleteOptions::default())
        .await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    publishing.close(200, "done".into()).await?;
    consuming.close(200, "done".into()).await?;
    Ok(rate)
}

async fn delete_exchange(run: &Run, exchange: &str) -> Result<(), Failure> {
    let url = run.url.replace("127.0.0.1", "localhost");
    let connection = Connection::connect(&url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await?;
    connection.close(200, "done".into()).await?;
    Ok(())
}
