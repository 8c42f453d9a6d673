//! TLS against the real RabbitMQ: the test makes a throw-away CA with `openssl`, starts TLS
//! listeners on the running broker with `rabbitmqctl eval` (one that asks for a client
//! certificate, one that requires it), connects over `amqps://`, and removes the listeners
//! afterwards. It needs `openssl` and `rabbitmqctl`; without them it reports a skip.

mod rabbitmq_common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use courier_core::{Broker, ErrorKind, Message, Subscription};
use courier_rabbitmq::{RabbitMqBroker, RabbitMqConfig};
use courier_tests::support::{broker_absent, unique_name};
use rabbitmq_common::{Vhost, broker_present, rabbitmqctl};

/// A CA, a server certificate for `localhost` and `127.0.0.1`, and a client certificate, in a
/// directory the broker's user can read; removed when dropped.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn create() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(unique_name("courier-tls"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let pki = Self { dir };
        set_mode(&pki.dir, 0o755);
        let ext = |name: &str, text: &str| {
            std::fs::write(pki.path(name), text).map_err(|e| e.to_string())
        };
        ext(
            "server.ext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )?;
        ext(
            "client.ext",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )?;
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=courier test CA",
        ])?;
        for (who, cn) in [("server", "localhost"), ("client", "courier-client")] {
            pki.openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ])?;
            pki.openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{who}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
            ])?;
        }
        for entry in std::fs::read_dir(&pki.dir).map_err(|e| e.to_string())? {
            set_mode(&entry.map_err(|e| e.to_string())?.path(), 0o644);
        }
        Ok(pki)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn openssl(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// A TLS listener on the running broker, stopped when dropped.
struct Listener {
    port: u16,
}

impl Listener {
    fn start(pki: &Pki, require_client_cert: bool) -> Result<Self, String> {
        let port = courier_tests::ports::free_port()?;
        let file = |name: &str| pki.path(name).display().to_string();
        let expression = format!(
            "rabbit_networking:start_ssl_listener({port}, [{{cacertfile,\"{}\"}},{{certfile,\"{}\"}},\
             {{keyfile,\"{}\"}},{{verify,verify_peer}},{{fail_if_no_peer_cert,{require_client_cert}}}], 1, 1).",
            file("ca.pem"),
            file("server.pem"),
            file("server.key"),
        );
        let out = rabbitmqctl(&["eval", &expression])?;
        if out.trim() != "ok" {
            return Err(format!("starting a TLS listener said: {out}"));
        }
        Ok(Self { port })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&[
            "eval",
            &format!("rabbit_networking:stop_tcp_listener({}).", self.port),
        ]);
    }
}

fn config(vhost: &Vhost, host: &str, port: u16) -> RabbitMqConfig {
    let mut config = vhost.config();
    let path = vhost.url().rsplit('/').next().unwrap_or("%2f").to_owned();
    config.url = format!("amqps://guest@{host}:{port}/{path}");
    config.password = Some(courier_core::Secret::new("guest"));
    config.connect_timeout_ms = 5_000;
    config
}

async fn round_trip(broker: &RabbitMqBroker, what: &str) {
    let topic = unique_name("tls");
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
    let producer = broker.producer().await.expect("producer");
    let sent = Message::new("over TLS").with_key("k");
    producer
        .send(&topic, sent.clone())
        .await
        .unwrap_or_else(|e| panic!("{what}: send: {e}"));
    let mut got = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing arrived"))
        .expect("recv")
        .expect("open");
    assert_eq!(got.message, sent, "{what}");
    got.ack().await.expect("ack");
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_with_ca_and_client_certificates() {
    if !broker_present() {
        return;
    }
    let (pki, optional, required) = match Pki::create().and_then(|pki| {
        let optional = Listener::start(&pki, false)?;
        let required = Listener::start(&pki, true)?;
        Ok((pki, optional, required))
    }) {
        Ok(set) => set,
        Err(e) => {
            broker_absent("rabbitmq", &format!("no TLS listener for the test: {e}"));
            return;
        }
    };
    let vhost = Vhost::create();
    let ca = Some(pki.path("ca.pem"));

    for host in ["localhost", "127.0.0.1"] {
        let mut c = config(&vhost, host, optional.port);
        c.tls_ca_file = ca.clone();
        let broker = RabbitMqBroker::connect(c)
            .await
            .unwrap_or_else(|e| panic!("amqps to {host} with the test CA: {e}"));
        round_trip(&broker, &format!("TLS to {host}")).await;
        broker.close().await.ok();
    }

    let untrusted = RabbitMqBroker::connect(config(&vhost, "localhost", optional.port))
        .await
        .expect_err("the test CA is not among the system's roots");
    assert_eq!(untrusted.kind(), ErrorKind::Connection, "{untrusted}");

    let mut anonymous = config(&vhost, "localhost", required.port);
    anonymous.tls_ca_file = ca.clone();
    assert!(
        RabbitMqBroker::connect(anonymous).await.is_err(),
        "a listener that requires a client certificate refuses a client without one"
    );
    let mut with_cert = config(&vhost, "localhost", required.port);
    with_cert.tls_ca_file = ca;
    with_cert.tls_cert_file = Some(pki.path("client.pem"));
    with_cert.tls_key_file = Some(pki.path("client.key"));
    let broker = RabbitMqBroker::connect(with_cert)
        .await
        .expect("amqps with a client certificate");
    round_trip(&broker, "TLS with a client certificate").await;
    broker.close().await.ok();
    drop((optional, required));
}
