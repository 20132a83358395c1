use super::*;

#[test]
fn remote_command_query_parses_repeated_commands() {
    let q = RemoteCommandQuery::parse(
        "command=sh&command=-c&command=echo+hi%3B+exit+3&stdin=true&stdout=true&stderr=true&tty=false",
    );
    assert_eq!(q.command, vec!["sh", "-c", "echo hi; exit 3"]);
    assert!(q.streams.stdin && q.streams.stdout && q.streams.stderr && !q.streams.tty);
    assert!(q.validate().is_ok());
    assert!(RemoteCommandQuery::parse("command=ls").validate().is_err());
}

#[test]
fn caller_protocol_from_upgrade_headers() {
    let ws = Request::get("/exec/a/b/c")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_PROTOCOL,
            "v4.channel.k8s.io, v5.channel.k8s.io",
        )
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap();
    assert_eq!(
        caller_protocol(&ws, remotecommand::choose_remote_command_protocol).unwrap(),
        CallerProtocol::WebSocket {
            protocol: "v5.channel.k8s.io",
            key: "dGhlIHNhbXBsZSBub25jZQ==".into()
        }
    );
    let spdy = Request::post("/exec/a/b/c")
        .header(header::UPGRADE, "SPDY/3.1")
        .body(())
        .unwrap();
    assert_eq!(
        caller_protocol(&spdy, remotecommand::choose_remote_command_protocol).unwrap(),
        CallerProtocol::Spdy
    );
    let plain = Request::get("/exec/a/b/c").body(()).unwrap();
    assert_eq!(
        caller_protocol(&plain, remotecommand::choose_remote_command_protocol)
            .unwrap_err()
            .status,
        StatusCode::BAD_REQUEST
    );
    let base64 = Request::get("/exec/a/b/c")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_PROTOCOL, "base64.channel.k8s.io")
        .header(header::SEC_WEBSOCKET_KEY, "x")
        .body(())
        .unwrap();
    assert!(caller_protocol(&base64, remotecommand::choose_remote_command_protocol).is_err());
}
