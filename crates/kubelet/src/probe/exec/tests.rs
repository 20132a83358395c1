//! The network probes against real sockets on loopback.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, GRPCAction, HTTPGetAction, HTTPHeader, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const TIMEOUT: Duration = Duration::from_secs(2);

fn container_with_port(name: &str, port: u16) -> Container {
    serde_json::from_value(serde_json::json!({
        "name": "c", "ports": [{"name": name, "containerPort": port}]
    }))
    .unwrap()
}

/// Answers one request with `status`, returning the request it got.
async fn serve_once(status: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
            .await
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    (port, task)
}

fn http(port: IntOrString, path: &str) -> HTTPGetAction {
    HTTPGetAction {
        port,
        path: Some(path.into()),
        http_headers: Some(vec![HTTPHeader {
            name: "X-Probe".into(),
            value: "yes".into(),
        }]),
        ..Default::default()
    }
}

#[tokio::test]
async fn http_get_succeeds_on_2xx_3xx_by_named_port_and_sends_headers() {
    for status in ["200 OK", "302 Found"] {
        let (port, request) = serve_once(status).await;
        let c = container_with_port("web", port);
        let outcome = http_get(
            &http(IntOrString::String("web".into()), "healthz"),
            &c,
            "127.0.0.1",
            TIMEOUT,
        )
        .await;
        assert_eq!(outcome, Outcome::Success, "{status}");
        let request = request.await.unwrap();
        assert!(
            request.starts_with("GET /healthz HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("X-Probe: yes\r\n"), "{request}");
        assert!(request.contains("User-Agent: kube-probe/"), "{request}");
    }
}

#[tokio::test]
async fn http_get_fails_on_5xx_and_refused_connections() {
    let (port, _request) = serve_once("500 Internal Server Error").await;
    let c = container_with_port("web", port);
    let outcome = http_get(
        &http(IntOrString::Int(port.into()), "/"),
        &c,
        "127.0.0.1",
        TIMEOUT,
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Failure("HTTP probe failed with statuscode: 500".into())
    );

    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = http_get(
        &http(IntOrString::Int(closed.into()), "/"),
        &c,
        "127.0.0.1",
        TIMEOUT,
    )
    .await;
    let Outcome::Failure(why) = outcome else {
        panic!("a closed port fails")
    };
    assert!(
        why.starts_with(&format!("Get \"http://127.0.0.1:{closed}/\": dial tcp")),
        "{why}"
    );

    let outcome = http_get(
        &http(IntOrString::String("nope".into()), "/"),
        &c,
        "127.0.0.1",
        TIMEOUT,
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Failure("the container has no port named \"nope\"".into())
    );
}

#[tokio::test]
async fn tcp_socket_succeeds_when_something_listens() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let c = container_with_port("p", port);
    let action = TCPSocketAction {
        port: IntOrString::Int(port.into()),
        host: None,
    };
    assert_eq!(
        tcp_socket(&action, &c, "127.0.0.1", TIMEOUT).await,
        Outcome::Success
    );
    drop(listener);
    assert!(matches!(
        tcp_socket(&action, &c, "127.0.0.1", TIMEOUT).await,
        Outcome::Failure(_)
    ));
}

#[tokio::test]
async fn grpc_fails_clearly_without_a_server() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let action = GRPCAction {
        port: closed.into(),
        service: None,
    };
    let Outcome::Failure(why) = grpc_check(&action, "127.0.0.1", TIMEOUT).await else {
        panic!("no server, no success")
    };
    assert!(why.starts_with("failed to connect service"), "{why}");
}
