//! Dead letters made by a real runtime, then listed (twice: the same letters), shown,
//! redriven once the handler is fixed (each then handled exactly once, the DLQ empty) and
//! purged.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use courier_cli::{
    args::{ListArgs, PurgeArgs, ReadArgs, RedriveArgs, Selection, SendArgs, ShowArgs},
    confirm::{Answer, Nobody},
    dlq,
    letter::DeadLetter,
    send,
};
use courier_core::{Broker, HandlerError, Message, Runtime, RuntimeSettings, headers};
use courier_tests::support::unique_name;

use super::eventually;

/// The group of the service under test.
const GROUP: &str = "svc";

/// Successful handlings per message id.
type Handled = Arc<Mutex<HashMap<String, usize>>>;

fn handled_count(handled: &Handled, id: &str) -> usize {
    handled
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .copied()
        .unwrap_or(0)
}

/// The ids of `letters`, sorted.
fn ids(letters: &[DeadLetter]) -> BTreeSet<String> {
    letters.iter().map(|l| l.id.clone()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

async fn list(tool: &Arc<dyn Broker>, topic: &str, read: &ReadArgs) -> Vec<DeadLetter> {
    let args = ListArgs {
        topic: topic.to_owned(),
        read: read.clone(),
        json: false,
    };
    let mut out = Vec::new();
    let letters = dlq::list(tool, &args, &mut out)
        .await
        .unwrap_or_else(|e| panic!("dlq list {topic}: {e}"));
    let text = String::from_utf8(out).expect("UTF-8");
    assert!(
        text.contains(&format!("{} dead letter", letters.len())),
        "{text}"
    );
    letters
}

/// Sends a poison message through `courier send`, with a key and a header.
async fn send_poison(tool: &Arc<dyn Broker>, topic: &str, id: &str) {
    let args = SendArgs {
        topic: topic.to_owned(),
        key: Some(format!("key-{id}")),
        headers: vec![("origin".into(), "cli-test".into())],
        id: Some(id.to_owned()),
        delay: None,
    };
    let mut out = Vec::new();
    send::send(tool, &args, format!("poison {id}").into_bytes(), &mut out)
        .await
        .unwrap_or_else(|e| panic!("courier send {id}: {e}"));
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        format!("sent {id} to {topic}\n")
    );
}

/// The whole dead-letter scenario on `service` (the runtime) and `tool` (the commands),
/// reading with `read`.
pub async fn scenario(service: Arc<dyn Broker>, tool: Arc<dyn Broker>, read: ReadArgs) {
    let topic = unique_name("cli-orders");
    let dlq = headers::dlq_topic(&topic);
    // As the services do: the DLQ keeps its letters for the group `dead-letters`, and the
    // service's group exists before anything is sent.
    service
        .declare_group(&dlq, headers::DEAD_LETTER_GROUP)
        .await
        .expect("declares the DLQ group");
    service
        .declare_group(&topic, GROUP)
        .await
        .expect("declares the group");

    let fixed = Arc::new(AtomicBool::new(false));
    let handled = Handled::default();
    let settings = RuntimeSettings {
        max_attempts: 3,
        backoff_initial_ms: 10,
        backoff_max_ms: 50,
        shutdown_deadline_ms: 5_000,
        ..RuntimeSettings::default()
    };
    let mut runtime = Runtime::new(service.clone(), settings);
    {
        let (fixed, handled) = (fixed.clone(), handled.clone());
        runtime.handle_fn(&topic, GROUP, move |message: Message, _ctx| {
            let (fixed, handled) = (fixed.clone(), handled.clone());
            async move {
                let poison = message.payload.starts_with(b"poison");
                if poison && !fixed.load(Ordering::SeqCst) {
                    return Err(HandlerError::permanent(format!(
                        "poison pill in {}",
                        message.id
                    )));
                }
                *handled
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(message.id.to_string())
                    .or_default() += 1;
                Ok(())
            }
        });
    }
    let running = runtime.start().await.expect("the runtime starts");
    let dead_lettered = || running.metrics().counts(&topic, GROUP).dead_lettered;

    let good: Vec<String> = (0..6).map(|i| format!("good-{i}")).collect();
    let poison = ["poison-1", "poison-2", "poison-3"];
    let producer = service.producer().await.expect("a producer");
    producer
        .send_batch(
            &topic,
            good.iter()
                .map(|id| Message::new(format!("fine {id}")).with_id(id.as_str()))
                .collect(),
        )
        .await
        .expect("sends the good ones");
    for id in poison {
        send_poison(&tool, &topic, id).await;
    }
    eventually(
        "the poison messages dead-lettered",
        Duration::from_secs(60),
        || async { dead_lettered() >= 3 && good.iter().all(|id| handled_count(&handled, id) == 1) },
    )
    .await;

    // list: every field, and nothing removed: a second list shows the same letters.
    let letters = list(&tool, &topic, &read).await;
    assert_eq!(ids(&letters), set(&poison), "{letters:?}");
    for letter in &letters {
        assert_eq!(letter.kind.as_deref(), Some("permanent"), "{letter:?}");
        assert_eq!(letter.attempts, Some(1), "{letter:?}");
        assert_eq!(letter.group.as_deref(), Some(GROUP), "{letter:?}");
        assert_eq!(letter.topic.as_deref(), Some(topic.as_str()), "{letter:?}");
        assert_eq!(
            letter.key.as_deref(),
            Some(format!("key-{}", letter.id).as_str())
        );
        let reason = letter.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("poison pill in"), "{letter:?}");
        let time = letter.time.as_deref().expect("a time");
        humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{time}: {e}"));
    }
    let again = list(&tool, &topic, &read).await;
    assert_eq!(ids(&again), set(&poison), "listing removed nothing");

    // show: one letter in full; an unknown id is an error and removes nothing.
    let show = |id: &str| ShowArgs {
        topic: topic.clone(),
        id: id.to_owned(),
        read: read.clone(),
        json: true,
    };
    let mut out = Vec::new();
    let shown = dlq::show(&tool, &show("poison-2"), &mut out)
        .await
        .expect("shows poison-2");
    assert_eq!(shown.payload.data, "poison poison-2");
    assert_eq!(
        shown.headers.get("origin").map(String::as_str),
        Some("cli-test")
    );
    let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(json["id"], "poison-2");
    assert!(json["headers"][headers::DLQ_REASON].is_string(), "{json}");
    let unknown = dlq::show(&tool, &show("no-such-id"), &mut Vec::new()).await;
    assert_eq!(unknown.expect_err("unknown id").exit_code(), 1);

    // redrive: a dry run changes nothing; then, fixed, one by id, then the rest.
    let redrive = |ids: &[&str], dry_run| RedriveArgs {
        topic: topic.clone(),
        select: Selection {
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            reason_contains: None,
        },
        dry_run,
        read: read.clone(),
    };
    let dry = dlq::redrive(&tool, &redrive(&[], true), &mut Vec::new(), false)
        .await
        .expect("a dry run");
    assert_eq!((dry.matched, dry.sent), (3, 0));
    assert_eq!(ids(&list(&tool, &topic, &read).await), set(&poison));

    fixed.store(true, Ordering::SeqCst);
    let one = dlq::redrive(
        &tool,
        &redrive(&["poison-1"], false),
        &mut Vec::new(),
        false,
    )
    .await
    .expect("redrives poison-1");
    assert_eq!((one.matched, one.sent), (1, 1));
    assert_eq!(one.topics.get(&topic), Some(&1));
    eventually("poison-1 handled", Duration::from_secs(30), || async {
        handled_count(&handled, "poison-1") == 1
    })
    .await;
    assert_eq!(
        ids(&list(&tool, &topic, &read).await),
        set(&["poison-2", "poison-3"]),
        "the others stay in the DLQ"
    );
    let rest = dlq::redrive(&tool, &redrive(&[], false), &mut Vec::new(), false)
        .await
        .expect("redrives the rest");
    assert_eq!((rest.matched, rest.sent), (2, 2));
    eventually(
        "every poison message handled",
        Duration::from_secs(30),
        || async { poison.iter().all(|id| handled_count(&handled, id) >= 1) },
    )
    .await;
    // Time for a duplicate to show, if there were one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in good.iter().map(String::as_str).chain(poison) {
        assert_eq!(handled_count(&handled, id), 1, "{id} handled exactly once");
    }
    assert_eq!(
        dead_lettered(),
        3,
        "nothing redriven was dead-lettered again"
    );
    assert!(
        list(&tool, &topic, &read).await.is_empty(),
        "the DLQ is empty"
    );

    // purge: new letters; a "no" keeps them, --id removes one, --yes the rest.
    fixed.store(false, Ordering::SeqCst);
    for id in ["poison-4", "poison-5"] {
        send_poison(&tool, &topic, id).await;
    }
    eventually("two more dead letters", Duration::from_secs(60), || async {
        dead_lettered() >= 5
    })
    .await;
    assert_eq!(
        ids(&list(&tool, &topic, &read).await),
        set(&["poison-4", "poison-5"])
    );
    let purge = |ids: &[&str], yes| PurgeArgs {
        topic: topic.clone(),
        select: Selection {
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            reason_contains: None,
        },
        yes,
        read: read.clone(),
    };
    let refused = dlq::purge(
        &tool,
        &purge(&[], false),
        &mut Vec::new(),
        &mut Nobody,
        false,
    )
    .await
    .expect_err("no terminal, no --yes");
    assert_eq!(refused.exit_code(), 2);
    let kept = dlq::purge(
        &tool,
        &purge(&["poison-4"], false),
        &mut Vec::new(),
        &mut Answer(false),
        false,
    )
    .await
    .expect("asks");
    assert_eq!((kept.matched, kept.removed), (1, 0));
    let one = dlq::purge(
        &tool,
        &purge(&["poison-4"], false),
        &mut Vec::new(),
        &mut Answer(true),
        false,
    )
    .await
    .expect("purges poison-4");
    assert_eq!(one.removed, 1);
    assert_eq!(ids(&list(&tool, &topic, &read).await), set(&["poison-5"]));
    let all = dlq::purge(
        &tool,
        &purge(&[], true),
        &mut Vec::new(),
        &mut Nobody,
        false,
    )
    .await
    .expect("purges the rest");
    assert_eq!(all.removed, 1);
    assert!(list(&tool, &topic, &read).await.is_empty(), "purged");
    assert_eq!(
        handled_count(&handled, "poison-4"),
        0,
        "purged, never handled"
    );

    running.shutdown().await.expect("the runtime stops");
    producer.close().await.expect("closes");
}
