use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::oci::tag_of;
use super::*;

/// One entry of a tar archive as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: u8,
    mode: u32,
    link: String,
    content: Vec<u8>,
}

fn field(header: &[u8], range: std::ops::Range<usize>) -> String {
    let bytes = &header[range];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8(bytes[..end].to_vec()).unwrap()
}

fn octal(header: &[u8], range: std::ops::Range<usize>) -> u64 {
    u64::from_str_radix(field(header, range).trim(), 8).unwrap()
}

/// Reads a ustar archive, checking every header's checksum and the end-of-archive blocks.
fn read_tar(bytes: &[u8]) -> BTreeMap<String, Entry> {
    assert_eq!(
        bytes.len() % 512,
        0,
        "archive size is a whole number of blocks"
    );
    let mut entries = BTreeMap::new();
    let mut at = 0;
    loop {
        let header = &bytes[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            assert!(bytes[at..].iter().all(|&b| b == 0) && bytes.len() - at >= 1024);
            return entries;
        }
        let mut copy = header.to_vec();
        copy[148..156].fill(b' ');
        let sum: u64 = copy.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(
            octal(header, 148..155),
            sum,
            "checksum of {}",
            field(header, 0..100)
        );
        assert_eq!(&header[257..263], b"ustar\0");
        let prefix = field(header, 345..500);
        let name = field(header, 0..100);
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = octal(header, 124..136) as usize;
        let content = bytes[at + 512..at + 512 + size].to_vec();
        let entry = Entry {
            kind: header[156],
            mode: octal(header, 100..108) as u32,
            link: field(header, 157..257),
            content,
        };
        assert!(
            entries.insert(path.clone(), entry).is_none(),
            "{path} twice"
        );
        at += 512 + size.div_ceil(512) * 512;
    }
}

#[test]
fn tar_writer_writes_every_kind_of_entry() {
    let mut tar = TarWriter::new(Vec::new());
    tar.directory("etc/", 0o755).unwrap();
    tar.file("etc/passwd", 0o644, 5, &mut &b"root\n"[..])
        .unwrap();
    tar.symlink("bin/sh", "busybox").unwrap();
    tar.hardlink("etc/passwd-", "etc/passwd").unwrap();
    tar.file_from("big", 0o600, 700, |w| w.write_all(&[7u8; 700]))
        .unwrap();
    let entries = read_tar(&tar.finish().unwrap());
    assert_eq!(entries["etc/"].kind, b'5');
    assert_eq!(entries["etc/"].mode, 0o755);
    assert_eq!(entries["etc/passwd"].content, b"root\n");
    assert_eq!(entries["etc/passwd"].mode, 0o644);
    assert_eq!(
        (entries["bin/sh"].kind, entries["bin/sh"].link.as_str()),
        (b'2', "busybox")
    );
    assert_eq!(
        (
            entries["etc/passwd-"].kind,
            entries["etc/passwd-"].link.as_str()
        ),
        (b'1', "etc/passwd")
    );
    assert_eq!(entries["big"].content, vec![7u8; 700]);
}

#[test]
fn tar_writer_refuses_content_of_the_wrong_size() {
    let mut tar = TarWriter::new(Vec::new());
    let err = tar.file("short", 0o644, 10, &mut &b"abc"[..]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    let err = tar
        .file_from("long", 0o644, 1, |w| w.write_all(b"ab"))
        .unwrap_err();
    assert!(err.to_string().contains("expected 1 bytes, got 2"), "{err}");
}

#[test]
fn long_paths_use_the_ustar_prefix() {
    let dir = "d".repeat(120);
    let path = format!("{dir}/file");
    let mut tar = TarWriter::new(Vec::new());
    tar.file(&path, 0o644, 1, &mut &b"x"[..]).unwrap();
    let entries = read_tar(&tar.finish().unwrap());
    assert_eq!(entries[&path].content, b"x");

    let unsplittable = "x".repeat(101);
    let mut tar = TarWriter::new(Vec::new());
    let err = tar
        .file(&unsplittable, 0o644, 0, &mut std::io::empty())
        .unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
}

#[test]
fn system_tar_extracts_our_archives() {
    let dir = tempfile::tempdir().unwrap();
    let mut tar = TarWriter::new(Vec::new());
    tar.directory("bin", 0o755).unwrap();
    tar.file("bin/tool", 0o750, 3, &mut &b"abc"[..]).unwrap();
    tar.symlink("bin/alias", "tool").unwrap();
    let archive = dir.path().join("a.tar");
    std::fs::write(&archive, tar.finish().unwrap()).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(out.join("bin/alias")).unwrap(), b"abc");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
}

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

fn blob<'a>(archive: &'a BTreeMap<String, Entry>, digest: &str) -> &'a [u8] {
    let content = &archive[&format!("blobs/{}", digest.replacen(':', "/", 1))].content;
    assert_eq!(sha256(content), digest, "blob content matches its digest");
    content
}

fn sample_spec(host_file: &Path) -> ImageSpec {
    ImageSpec {
        reference: "k3rs.local/sample:v1".to_owned(),
        files: vec![
            ImageFile::host("/usr/bin/tool", 0o755, host_file),
            ImageFile::content("/etc/motd", 0o644, "hi\n"),
            ImageFile::symlink("/bin", "usr/bin"),
            ImageFile {
                path: "/usr/bin/tool2".to_owned(),
                mode: 0o755,
                source: FileSource::Hardlink("/usr/bin/tool".to_owned()),
            },
            ImageFile::directory("/tmp", 0o1777),
        ],
        config: ImageConfig {
            entrypoint: vec!["/usr/bin/tool".to_owned()],
            cmd: vec!["--flag".to_owned()],
            env: vec!["A=b".to_owned()],
            working_dir: "/tmp".to_owned(),
        },
    }
}

#[test]
fn oci_archive_is_a_consistent_image_layout() {
    let dir = tempfile::tempdir().unwrap();
    let host_file = dir.path().join("tool");
    std::fs::write(&host_file, b"#!tool").unwrap();
    let mut out = Vec::new();
    write_oci_archive(&sample_spec(&host_file), &mut out).unwrap();
    let archive = read_tar(&out);

    assert_eq!(
        json(&archive["oci-layout"].content)["imageLayoutVersion"],
        "1.0.0"
    );
    let index = json(&archive["index.json"].content);
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "k3rs.local/sample:v1"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert_eq!(entry["platform"]["os"], "linux");
    assert_eq!(entry["platform"]["architecture"], oci_architecture());
    let manifest_bytes = blob(&archive, entry["digest"].as_str().unwrap());
    assert_eq!(entry["size"], manifest_bytes.len());
    let manifest = json(manifest_bytes);
    let config = json(blob(
        &archive,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/tool"])
    );
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["--flag"]));
    assert_eq!(config["config"]["Env"], serde_json::json!(["A=b"]));
    assert_eq!(config["config"]["WorkingDir"], "/tmp");
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    // An uncompressed layer's diff ID is its digest.
    assert_eq!(config["rootfs"]["diff_ids"][0], layer_digest);

    let layer = read_tar(blob(&archive, layer_digest));
    let names: Vec<&str> = layer.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "bin",
            "etc/",
            "etc/motd",
            "tmp/",
            "usr/",
            "usr/bin/",
            "usr/bin/tool",
            "usr/bin/tool2"
        ]
    );
    assert_eq!(layer["usr/bin/tool"].content, b"#!tool");
    assert_eq!(layer["usr/bin/tool"].mode, 0o755);
    assert_eq!(layer["usr/bin/tool2"].link, "usr/bin/tool");
    assert_eq!(layer["tmp/"].mode, 0o1777);
    assert_eq!(layer["bin"].link, "usr/bin");
}

#[test]
fn oci_archive_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let host_file = dir.path().join("tool");
    std::fs::write(&host_file, b"#!tool").unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    write_oci_archive(&sample_spec(&host_file), &mut a).unwrap();
    write_oci_archive(&sample_spec(&host_file), &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn oci_archive_refuses_bad_paths_and_missing_files() {
    let mut spec = sample_spec(Path::new("/nonexistent/tool"));
    let err = write_oci_archive(&spec, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/tool"), "{err}");
    spec.files = vec![ImageFile::content("/a/../b", 0o644, "x")];
    let err = write_oci_archive(&spec, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("not a usable path"), "{err}");
    spec.files = vec![
        ImageFile::content("/a", 0o644, "x"),
        ImageFile::content("a/", 0o644, "y"),
    ];
    let err = write_oci_archive(&spec, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
}

#[test]
fn archive_file_appears_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("image.tar");
    let spec = sample_spec(Path::new("/nonexistent/tool"));
    assert!(write_oci_archive_file(&spec, &out).is_err());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file left"
    );
    let host_file = dir.path().join("tool");
    std::fs::write(&host_file, b"#!tool").unwrap();
    write_oci_archive_file(&sample_spec(&host_file), &out).unwrap();
    assert!(read_tar(&std::fs::read(&out).unwrap()).contains_key("index.json"));
}

#[test]
fn tags_of_references() {
    assert_eq!(tag_of("k3rs.local/pause:0.1.0"), "0.1.0");
    assert_eq!(tag_of("localhost:5000/app"), "latest");
    assert_eq!(tag_of("busybox"), "latest");
}

const MAPS: &str = "\
55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 1234                       /usr/local/bin/k3rs
55d0c0b00000-55d0c0c00000 r-xp 00100000 08:01 1234                       /usr/local/bin/k3rs
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
7f0000100000-7f0000200000 r--p 00000000 08:01 55                         /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000300000 r-xp 00028000 08:01 55                         /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000300000-7f0000400000 r--p 00000000 08:01 56                         /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
7f0000400000-7f0000500000 r--p 00000000 08:01 57                         /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f0000500000-7f0000600000 r--p 00000000 08:01 58                         /usr/lib/locale/C.utf8/LC_CTYPE
7f0000600000-7f0000700000 r--p 00000000 08:01 59                         /tmp/old lib.so.1 (deleted)
7f0000700000-7f0000800000 r--p 00000000 08:01 60                         /opt/my libs/libx.so
7ffd00000000-7ffd00100000 rw-p 00000000 00:00 0                          [stack]
7ffd00200000-7ffd00300000 r-xp 00000000 00:00 0                          [vdso]
";

#[test]
fn mapped_libraries_are_the_shared_objects_of_the_map() {
    let libraries = mapped_libraries(MAPS, Path::new("/usr/local/bin/k3rs"));
    let expected: Vec<PathBuf> = [
        "/opt/my libs/libx.so",
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(libraries.into_iter().collect::<Vec<_>>(), expected);
}

/// A minimal ELF64 header with one program header of type `p_type` whose data is `data`.
fn elf_with(p_type: u32, data: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 56];
    elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
    elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf[64..68].copy_from_slice(&p_type.to_le_bytes());
    elf[72..80].copy_from_slice(&120u64.to_le_bytes()); // p_offset
    elf[96..104].copy_from_slice(&(data.len() as u64).to_le_bytes()); // p_filesz
    elf.extend_from_slice(data);
    elf
}

#[test]
fn elf_interpreter_is_read_from_the_program_headers() {
    let elf = elf_with(3, b"/lib64/ld-linux-x86-64.so.2\0");
    assert_eq!(
        elf_interpreter(&mut Cursor::new(elf)).unwrap(),
        Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2"))
    );
    // A static binary has no interpreter.
    assert_eq!(
        elf_interpreter(&mut Cursor::new(elf_with(1, b""))).unwrap(),
        None
    );
    let err = elf_interpreter(&mut Cursor::new(b"#!/bin/sh\n".repeat(10))).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn this_test_binary_names_its_loader() {
    let mut exe = std::fs::File::open("/proc/self/exe").unwrap();
    let interpreter = elf_interpreter(&mut exe)
        .unwrap()
        .expect("a dynamically linked test binary");
    assert!(interpreter.exists(), "{}", interpreter.display());
    let mut magic = [0u8; 4];
    std::fs::File::open(&interpreter)
        .unwrap()
        .read_exact(&mut magic)
        .unwrap();
    assert_eq!(&magic, b"\x7fELF");
}

#[test]
fn pause_image_of_this_process_has_the_binary_loader_and_libraries() {
    let spec = pause_image_spec(Path::new("/proc/self")).unwrap();
    assert_eq!(spec.reference, PAUSE_IMAGE);
    assert!(PAUSE_IMAGE.starts_with("k3rs.local/pause:"));
    assert_eq!(spec.config.entrypoint, ["/k3rs", "pause"]);
    let paths: Vec<&str> = spec.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths[0], "/k3rs");
    assert!(paths.iter().any(|p| p.contains("libc.so")), "{paths:?}");
    let mut exe = std::fs::File::open("/proc/self/exe").unwrap();
    let interpreter = elf_interpreter(&mut exe).unwrap().unwrap();
    assert!(paths.contains(&interpreter.to_str().unwrap()), "{paths:?}");
}

#[test]
fn busybox_image_links_every_applet_to_the_binary() {
    let applets = ["sh", "httpd", "busybox", "", "../x"].map(String::from);
    let spec = busybox_image_spec("k3rs.local/busybox:t", Path::new("/bin/busybox"), &applets);
    let find = |path: &str| spec.files.iter().find(|f| f.path == path);
    assert_eq!(
        find("/bin/busybox").unwrap().source,
        FileSource::Host("/bin/busybox".into())
    );
    assert_eq!(
        find("/bin/sh").unwrap().source,
        FileSource::Symlink("busybox".to_owned())
    );
    assert_eq!(
        find("/bin/httpd").unwrap().source,
        FileSource::Symlink("busybox".to_owned())
    );
    assert_eq!(
        spec.files
            .iter()
            .filter(|f| f.path.starts_with("/bin/"))
            .count(),
        3
    );
    match &find("/etc/passwd").unwrap().source {
        FileSource::Content(text) => {
            let text = String::from_utf8_lossy(text);
            assert!(text.starts_with("root:x:0:0:") && text.contains("\nnobody:x:65534:65534:"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(spec.config.cmd, ["sh"]);
    assert!(spec.config.env[0].starts_with("PATH="));
}
