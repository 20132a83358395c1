use super::*;

#[test]
fn accept_key_matches_rfc6455_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn masked_frames_of_every_length_class_roundtrip() {
    for len in [0usize, 5, 125, 126, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut wire = BytesMut::new();
        encode(
            &mut wire,
            true,
            Opcode::Binary,
            &payload,
            Some([1, 2, 3, 4]),
        );
        let frame = decode_frame(&mut wire).unwrap().unwrap();
        assert_eq!(frame.payload, payload, "length {len}");
        assert!(frame.fin);
        assert!(wire.is_empty());
    }
}

#[test]
fn rfc6455_unmasked_hello() {
    let mut wire = BytesMut::from(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f][..]);
    let f = decode_frame(&mut wire).unwrap().unwrap();
    assert_eq!((f.opcode, &f.payload[..]), (Opcode::Text, &b"Hello"[..]));
    // The same, masked (RFC 6455 section 5.7).
    let mut wire = BytesMut::from(
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ][..],
    );
    assert_eq!(
        &decode_frame(&mut wire).unwrap().unwrap().payload[..],
        b"Hello"
    );
}

#[test]
fn incomplete_frames_wait() {
    let mut wire = BytesMut::new();
    encode(
        &mut wire,
        true,
        Opcode::Binary,
        &[7; 300],
        Some([9, 9, 9, 9]),
    );
    let whole = wire.clone();
    for cut in 0..whole.len() {
        let mut part = BytesMut::from(&whole[..cut]);
        assert_eq!(decode_frame(&mut part).unwrap(), None, "cut at {cut}");
    }
}

#[test]
fn fragments_are_reassembled_around_a_ping() {
    let mut r = Reassembler::default();
    let frame = |fin, opcode, p: &'static [u8]| Frame {
        fin,
        opcode,
        payload: Bytes::from_static(p),
    };
    assert_eq!(
        r.push(frame(false, Opcode::Binary, b"\x00ab")).unwrap(),
        None
    );
    assert_eq!(
        r.push(frame(true, Opcode::Ping, b""))
            .unwrap()
            .unwrap()
            .opcode,
        Opcode::Ping
    );
    let m = r
        .push(frame(true, Opcode::Continuation, b"cd"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.opcode, &m.payload[..]),
        (Opcode::Binary, &b"\x00abcd"[..])
    );
    assert_eq!(
        r.push(frame(true, Opcode::Continuation, b"x")),
        Err(WsError::StrayContinuation)
    );
}

#[test]
fn reserved_bits_and_long_control_frames_are_errors() {
    let mut wire = BytesMut::from(&[0xC2, 0x00][..]);
    assert!(matches!(decode_frame(&mut wire), Err(WsError::Protocol(_))));
    let mut wire = BytesMut::new();
    encode(&mut wire, true, Opcode::Ping, &[0; 126], None);
    assert_eq!(decode_frame(&mut wire), Err(WsError::BadControl));
}

#[test]
fn close_payload_carries_code_and_reason() {
    assert_eq!(close_payload(1000, "bye"), b"\x03\xe8bye");
}
