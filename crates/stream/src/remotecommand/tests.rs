use super::*;

#[test]
fn streams_follow_the_query_options() {
    let opts = StreamOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    assert_eq!(
        opts.spdy_streams(),
        vec![
            StreamType::Error,
            StreamType::Stdin,
            StreamType::Stdout,
            StreamType::Stderr
        ]
    );
    let tty = StreamOptions { tty: true, ..opts };
    assert_eq!(
        tty.spdy_streams(),
        vec![
            StreamType::Error,
            StreamType::Stdin,
            StreamType::Stdout,
            StreamType::Resize
        ]
    );
}

#[test]
fn channels_map_both_ways() {
    for s in [
        StreamType::Stdin,
        StreamType::Stdout,
        StreamType::Stderr,
        StreamType::Error,
        StreamType::Resize,
    ] {
        assert_eq!(StreamType::from_channel(s.channel()), Some(s));
    }
    assert_eq!(StreamType::from_channel(9), None);
}

#[test]
fn protocol_negotiation_prefers_the_newest() {
    assert_eq!(
        choose_remote_command_protocol("v4.channel.k8s.io, v5.channel.k8s.io"),
        Some(V5_CHANNEL)
    );
    assert_eq!(
        choose_remote_command_protocol("v4.channel.k8s.io,channel.k8s.io"),
        Some(V4_CHANNEL)
    );
    assert_eq!(
        choose_remote_command_protocol("base64.channel.k8s.io"),
        None
    );
    assert_eq!(
        choose_port_forward_protocol("SPDY/3.1+portforward.k8s.io"),
        Some(SPDY_TUNNEL)
    );
    assert_eq!(
        choose_port_forward_protocol("portforward.k8s.io"),
        Some(PORT_FORWARD)
    );
}

#[test]
fn channel_messages_and_close_signals() {
    assert_eq!(channel_message(1, b"hi"), b"\x01hi");
    assert_eq!(split_channel(b"\x02err"), Some((2, &b"err"[..])));
    assert_eq!(split_channel(b""), None);
    assert_eq!(closed_channel(&[255, 0]), Some(channel::STDIN));
    assert_eq!(closed_channel(&[0, 255]), None);
}

#[test]
fn ports_parse_and_prefix() {
    assert_eq!(parse_ports(&["80,8080", "9000"]), Ok(vec![80, 8080, 9000]));
    assert!(parse_ports(&["0"]).is_err());
    assert!(parse_ports(&[]).is_err());
    assert_eq!(port_prefix(0, 8080), vec![0, 0x90, 0x1f]);
}
