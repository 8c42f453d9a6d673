//! Scratch smoke run (temporary).
use std::time::Instant;

use courier_core::{Broker, Message, Subscription};
use courier_kafka::{KafkaBroker, KafkaConfig};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or("info".into())).init();
    let t = Instant::now();
    let broker = KafkaBroker::connect(KafkaConfig::default()).await.expect("connect");
    println!("connected in {:?}", t.elapsed());
    let topic = format!("scratch-{}", uuid::Uuid::new_v4().simple());
    let p = broker.producer().await.unwrap();
    let t = Instant::now();
    p.send(&topic, Message::new("hello").with_key("k1").with_header("h", "v")).await.expect("send");
    println!("first send (create topic) {:?}", t.elapsed());
    let t = Instant::now();
    let msgs: Vec<Message> = (0..1000).map(|i| Message::new(format!("m{i}")).with_key(format!("k{}", i % 10))).collect();
    p.send_batch(&topic, msgs).await.expect("batch");
    println!("1000 batch {:?}", t.elapsed());
    let t = Instant::now();
    let mut c = broker.subscribe(Subscription::new(&topic, "g1")).await.expect("subscribe");
    println!("subscribed in {:?}", t.elapsed());
    let t = Instant::now();
    let mut n = 0;
    while n < 1001 {
        let batch = c.recv_batch(256).await.unwrap();
        for mut d in batch { if n == 0 { println!("first: {:?} {:?} {:?}", d.message, d.attempt, d.topic); } d.ack().await.unwrap(); n += 1; }
    }
    println!("received 1001 in {:?}", t.elapsed());
    let t = Instant::now();
    c.close().await.unwrap();
    println!("closed in {:?}", t.elapsed());
    let t = Instant::now();
    let mut c = broker.subscribe(Subscription::new(&topic, "g1")).await.expect("subscribe");
    println!("resubscribed in {:?}", t.elapsed());
    match tokio::time::timeout(std::time::Duration::from_secs(3), c.recv()).await {
        Err(_) => println!("nothing redelivered: commits work"),
        Ok(d) => println!("UNEXPECTED redelivery {:?}", d.map(|d| d.map(|d| d.message.id))),
    }
    c.close().await.unwrap();
    broker.close().await.unwrap();
}
