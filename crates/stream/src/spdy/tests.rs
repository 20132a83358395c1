use super::*;

fn roundtrip(frames: &[Frame]) -> Vec<Frame> {
    let mut writer = Codec::new();
    let mut reader = Codec::new();
    let mut wire = BytesMut::new();
    for f in frames {
        writer.encode(f, &mut wire).unwrap();
    }
    let mut out = Vec::new();
    while let Some(f) = reader.decode(&mut wire).unwrap() {
        out.push(f);
    }
    assert!(wire.is_empty(), "bytes left over");
    out
}

#[test]
fn dictionary_is_the_spdy3_dictionary() {
    assert_eq!(DICTIONARY.len(), 1423);
    assert_eq!(&DICTIONARY[..11], b"\0\0\0\x07options");
    assert!(DICTIONARY.ends_with(b"utf-,*,enq=0."));
}

#[test]
fn every_frame_type_roundtrips() {
    let headers: Headers = vec![
        ("streamtype".into(), "stdout".into()),
        ("port".into(), "8080".into()),
    ];
    let frames = vec![
        Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 3,
            flags: FLAG_FIN,
            headers: headers.clone(),
        },
        Frame::SynReply {
            stream_id: 1,
            flags: 0,
            headers: vec![],
        },
        Frame::Headers {
            stream_id: 3,
            flags: 0,
            headers: headers.clone(),
        },
        Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"hello"),
        },
        Frame::RstStream {
            stream_id: 7,
            status: RST_CANCEL,
        },
        Frame::Settings {
            flags: 0,
            entries: vec![Setting {
                flags: 1,
                id: 7,
                value: 65536,
            }],
        },
        Frame::Ping { id: 2 },
        Frame::GoAway {
            last_good_stream_id: 5,
            status: GOAWAY_OK,
        },
        Frame::WindowUpdate {
            stream_id: 1,
            delta: 4096,
        },
    ];
    assert_eq!(roundtrip(&frames), frames);
}

#[test]
fn partial_input_waits_for_the_rest() {
    let mut writer = Codec::new();
    let mut reader = Codec::new();
    let mut wire = BytesMut::new();
    let frame = Frame::SynStream {
        stream_id: 1,
        associated_to: 0,
        priority: 0,
        flags: 0,
        headers: vec![("streamtype".into(), "error".into())],
    };
    writer.encode(&frame, &mut wire).unwrap();
    let mut fed = BytesMut::new();
    for (i, b) in wire.iter().enumerate() {
        fed.put_u8(*b);
        let got = reader.decode(&mut fed).unwrap();
        assert_eq!(got.is_some(), i == wire.len() - 1);
        if let Some(f) = got {
            assert_eq!(f, frame);
        }
    }
}

#[test]
fn the_header_stream_spans_frames() {
    // The second block reuses the first's history; a fresh reader could not inflate it alone.
    let frames: Vec<Frame> = (1..=5)
        .map(|i| Frame::SynStream {
            stream_id: 2 * i - 1,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: vec![("streamtype".into(), format!("stream-{i}"))],
        })
        .collect();
    assert_eq!(roundtrip(&frames), frames);
}

#[test]
fn a_header_block_from_zlib_with_the_dictionary_decodes() {
    // python3: c = zlib.compressobj(zdict=DICT); c.compress(block) + c.flush(zlib.Z_SYNC_FLUSH)
    // of {"streamtype": "error"}, as spdystream (Go) would send it.
    let mut plain = Vec::new();
    plain.extend_from_slice(&1u32.to_be_bytes());
    for s in ["streamtype", "error"] {
        plain.extend_from_slice(&(s.len() as u32).to_be_bytes());
        plain.extend_from_slice(s.as_bytes());
    }
    let mut deflate = Compress::new(Compression::best(), true);
    deflate.set_dictionary(&DICTIONARY).unwrap();
    let mut block = Vec::with_capacity(256);
    deflate
        .compress_vec(&plain, &mut block, FlushCompress::Sync)
        .unwrap();
    let mut body = BytesMut::new();
    body.put_u32(2);
    body.extend_from_slice(&block);
    let mut wire = BytesMut::new();
    control(&mut wire, kind::SYN_REPLY, FLAG_FIN, &body).unwrap();
    let frame = Codec::new().decode(&mut wire).unwrap().unwrap();
    assert_eq!(
        frame,
        Frame::SynReply {
            stream_id: 2,
            flags: FLAG_FIN,
            headers: vec![("streamtype".into(), "error".into())],
        }
    );
}

#[test]
fn unknown_control_frames_are_skipped_and_bad_versions_refused() {
    let mut wire = BytesMut::new();
    control(&mut wire, 0x0A, 0, &[1, 2, 3]).unwrap();
    Codec::new()
        .encode(&Frame::Ping { id: 9 }, &mut wire)
        .unwrap();
    assert_eq!(
        Codec::new().decode(&mut wire).unwrap(),
        Some(Frame::Ping { id: 9 })
    );
    let mut v2 = BytesMut::from(&[0x80, 0x02, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1][..]);
    assert_eq!(Codec::new().decode(&mut v2), Err(SpdyError::Version(2)));
}

#[test]
fn short_control_frames_are_malformed() {
    let mut wire = BytesMut::new();
    control(&mut wire, kind::RST_STREAM, 0, &[0, 0, 0, 1]).unwrap();
    assert!(matches!(
        Codec::new().decode(&mut wire),
        Err(SpdyError::Malformed { .. })
    ));
}

#[test]
fn header_lookup_ignores_case() {
    let h: Headers = vec![("Streamtype".into(), "data".into())];
    assert_eq!(header(&h, "streamType"), Some("data"));
    assert_eq!(header(&h, "port"), None);
}
