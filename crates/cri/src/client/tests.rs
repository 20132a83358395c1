use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{CriClient, CriError};

#[test]
fn status_code_and_message_are_kept() {
    let err = CriError::from(tonic::Status::not_found("container \"abc\" not found"));
    assert!(err.is_not_found());
    assert_eq!(err.message, "container \"abc\" not found");
    assert_eq!(
        err.to_string(),
        "container runtime: NotFound: container \"abc\" not found"
    );
    assert!(!CriError::from(tonic::Status::internal("x")).is_not_found());
}

#[tokio::test]
async fn a_missing_socket_is_unavailable_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let started = Instant::now();
    let err = CriClient::connect_within(&socket, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.code, tonic::Code::Unavailable);
    assert!(err.message.contains(&*socket.to_string_lossy()), "{err}");
    assert!(err.message.contains("No such file"), "{err}");
}

#[tokio::test]
async fn a_socket_that_does_not_speak_grpc_is_not_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mute.sock");
    // Accepts connections and closes them at once.
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let err = CriClient::connect_within(&socket, Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(err.code, tonic::Code::Unavailable, "{err}");
    let non_utf8 = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/\xff.sock"));
    let err = CriClient::connect_within(non_utf8, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(err.message.contains("not UTF-8"), "{err}");
}
