//! The order API over HTTP: a [`Cluster`]'s `POST /orders` and `GET` requests, polling
//! orders until they settle, and posting many orders at once with retries.

use std::{collections::BTreeMap, time::Duration};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::cluster::Cluster;
use crate::saga::orders::SagaOrder;

impl Cluster {
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
}

/// Posts every order over HTTP, 16 at a time; each must be accepted (202). A request the
/// service could not answer (it was killed, or is restarting) is sent again with the same
/// order id, as a client of an idempotent API does, for up to 90 s.
pub(super) async fn post_all(
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
