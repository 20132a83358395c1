use super::*;
use k3rs_stream::remotecommand::channel;

/// The containerd side of a test: decodes what the translator sent, encodes replies.
struct FakeContainerd {
    codec: spdy::Codec,
}

impl FakeContainerd {
    fn read(&mut self, bytes: &mut BytesMut) -> Vec<SpdyFrame> {
        let mut out = Vec::new();
        while let Some(f) = self.codec.decode(bytes).unwrap() {
            out.push(f);
        }
        out
    }
    fn write(&mut self, frame: SpdyFrame) -> BytesMut {
        let mut b = BytesMut::new();
        self.codec.encode(&frame, &mut b).unwrap();
        b
    }
}

fn client_message(ch: u8, data: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    let msg = remotecommand::channel_message(ch, data);
    websocket::encode(&mut b, true, Opcode::Binary, &msg, Some([1, 2, 3, 4]));
    b
}

fn client_messages(bytes: &mut BytesMut) -> Vec<(Opcode, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = websocket::decode_frame(bytes).unwrap() {
        out.push((f.opcode, f.payload.to_vec()));
    }
    out
}

fn streams(frames: &[SpdyFrame]) -> Vec<(u32, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            SpdyFrame::SynStream {
                stream_id, headers, ..
            } => Some((
                *stream_id,
                spdy::header(headers, STREAM_TYPE).unwrap_or("").to_string(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn exec_with_stdin_over_v5() {
    let opts = StreamOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let mut t = Translator::start(&remote_command_plan(opts, V5_CHANNEL)).unwrap();
    let mut containerd = FakeContainerd {
        codec: spdy::Codec::new(),
    };
    let opened = containerd.read(&mut t.to_backend);
    assert_eq!(
        streams(&opened),
        vec![
            (1, "error".into()),
            (3, "stdin".into()),
            (5, "stdout".into()),
            (7, "stderr".into())
        ]
    );
    // stdin data, then the v5 close signal → data, then FIN on the stdin stream.
    t.feed_client(&mut client_message(channel::STDIN, b"hello"))
        .unwrap();
    t.feed_client(&mut client_message(channel::CLOSE, &[channel::STDIN]))
        .unwrap();
    let sent = containerd.read(&mut t.to_backend);
    assert_eq!(
        sent,
        vec![
            SpdyFrame::Data {
                stream_id: 3,
                flags: 0,
                data: Bytes::from_static(b"hello")
            },
            SpdyFrame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: Bytes::new()
            },
        ]
    );
    // stdout, stderr and the exit status come back on their channels.
    let status = br#"{"status":"Failure","reason":"NonZeroExitCode"}"#;
    for (id, data) in [(5, &b"out"[..]), (7, b"err"), (1, status)] {
        let mut b = containerd.write(SpdyFrame::Data {
            stream_id: id,
            flags: 0,
            data: Bytes::copy_from_slice(data),
        });
        t.feed_backend(&mut b).unwrap();
    }
    let mut b = containerd.write(SpdyFrame::GoAway {
        last_good_stream_id: 0,
        status: 0,
    });
    t.feed_backend(&mut b).unwrap();
    assert!(t.finished);
    let got = client_messages(&mut t.to_client);
    assert_eq!(got[0], (Opcode::Binary, b"\x01out".to_vec()));
    assert_eq!(got[1], (Opcode::Binary, b"\x02err".to_vec()));
    assert_eq!(got[2].1[0], channel::ERROR);
    assert_eq!(got[3].0, Opcode::Close);
}

#[test]
fn v4_callers_cannot_close_channels_and_tty_has_resize() {
    let opts = StreamOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: true,
    };
    let mut t = Translator::start(&remote_command_plan(opts, "v4.channel.k8s.io")).unwrap();
    let mut containerd = FakeContainerd {
        codec: spdy::Codec::new(),
    };
    let opened = containerd.read(&mut t.to_backend);
    assert_eq!(
        streams(&opened)
            .into_iter()
            .map(|s| s.1)
            .collect::<Vec<_>>(),
        vec!["error", "stdin", "stdout", "resize"]
    );
    t.feed_client(&mut client_message(
        channel::RESIZE,
        br#"{"Width":80,"Height":24}"#,
    ))
    .unwrap();
    // Without v5, 255 is an unknown channel: dropped.
    t.feed_client(&mut client_message(channel::CLOSE, &[channel::STDIN]))
        .unwrap();
    let sent = containerd.read(&mut t.to_backend);
    assert_eq!(sent.len(), 1);
    assert!(matches!(&sent[0], SpdyFrame::Data { stream_id: 7, .. }));
}

#[test]
fn client_close_and_ping() {
    let mut t =
        Translator::start(&remote_command_plan(StreamOptions::default(), V5_CHANNEL)).unwrap();
    let mut b = BytesMut::new();
    websocket::encode(&mut b, true, Opcode::Ping, b"p", Some([0; 4]));
    websocket::encode(&mut b, true, Opcode::Close, &[], Some([0; 4]));
    t.feed_client(&mut b).unwrap();
    assert!(t.finished);
    let got = client_messages(&mut t.to_client);
    assert_eq!(got[0], (Opcode::Pong, b"p".to_vec()));
    assert_eq!(got[1].0, Opcode::Close);
}

#[test]
fn port_forward_channels_greet_with_ports_and_pair_streams() {
    let mut t = Translator::start(&port_forward_plan(&[80, 8080])).unwrap();
    let got = client_messages(&mut t.to_client);
    assert_eq!(
        got.into_iter().map(|m| m.1).collect::<Vec<_>>(),
        vec![
            vec![0, 80, 0],
            vec![1, 80, 0],
            vec![2, 0x90, 0x1f],
            vec![3, 0x90, 0x1f]
        ]
    );
    let mut containerd = FakeContainerd {
        codec: spdy::Codec::new(),
    };
    let opened = containerd.read(&mut t.to_backend);
    let ports: Vec<(String, String, String)> = opened
        .iter()
        .filter_map(|f| match f {
            SpdyFrame::SynStream { headers, .. } => Some((
                spdy::header(headers, STREAM_TYPE)?.to_string(),
                spdy::header(headers, PORT_HEADER)?.to_string(),
                spdy::header(headers, REQUEST_ID_HEADER)?.to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            ("error".into(), "80".into(), "0".into()),
            ("data".into(), "80".into(), "0".into()),
            ("error".into(), "8080".into(), "1".into()),
            ("data".into(), "8080".into(), "1".into()),
        ]
    );
    // Channel 2 (port 8080's data) goes to stream 7 and back.
    t.feed_client(&mut client_message(2, b"GET /")).unwrap();
    assert!(matches!(
        &containerd.read(&mut t.to_backend)[0],
        SpdyFrame::Data { stream_id: 7, data, .. } if &data[..] == b"GET /"
    ));
    let mut b = containerd.write(SpdyFrame::Data {
        stream_id: 7,
        flags: 0,
        data: Bytes::from_static(b"200"),
    });
    t.feed_backend(&mut b).unwrap();
    assert_eq!(client_messages(&mut t.to_client)[0].1, b"\x02200".to_vec());
}

#[test]
fn port_forward_ends_when_containerd_closes_the_data_streams() {
    let mut t = Translator::start(&port_forward_plan(&[80])).unwrap();
    let mut containerd = FakeContainerd {
        codec: spdy::Codec::new(),
    };
    containerd.read(&mut t.to_backend);
    // The error stream ending does not end the connection; the data stream does.
    let mut b = containerd.write(SpdyFrame::Data {
        stream_id: 1,
        flags: FLAG_FIN,
        data: Bytes::new(),
    });
    t.feed_backend(&mut b).unwrap();
    assert!(!t.finished);
    let mut b = containerd.write(SpdyFrame::Data {
        stream_id: 3,
        flags: FLAG_FIN,
        data: Bytes::from_static(b"bye"),
    });
    t.feed_backend(&mut b).unwrap();
    assert!(t.finished);
    let got = client_messages(&mut t.to_client);
    assert_eq!(got.last().unwrap().0, Opcode::Close);
    assert_eq!(got[got.len() - 2].1, b"\x00bye".to_vec());
}
