use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn f(data: &str, mode: u32) -> FileProjection {
    FileProjection {
        data: data.as_bytes().to_vec(),
        mode,
    }
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).expect("read")
}

fn versions(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..2"))
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_upstream_layout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let payload = Payload::from([
        ("config.yaml".to_string(), f("a: 1", 0o644)),
        ("nested/deep/key".to_string(), f("k", 0o400)),
    ]);
    assert!(write_payload(dir, &payload, None).expect("write"));

    let data = fs::read_link(dir.join(DATA_DIR)).expect("..data");
    let data_name = data.to_string_lossy().into_owned();
    assert!(data_name.starts_with("..20"), "{data_name}");
    assert_eq!(versions(dir), vec![data_name.clone()]);
    assert_eq!(
        fs::read_link(dir.join("config.yaml")).expect("link"),
        Path::new("..data/config.yaml")
    );
    assert_eq!(
        fs::read_link(dir.join("nested")).expect("link"),
        Path::new("..data/nested")
    );
    assert_eq!(read(dir, "config.yaml"), "a: 1");
    assert_eq!(read(dir, "nested/deep/key"), "k");
    let mode = fs::metadata(dir.join("nested/deep/key"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o400);
    assert!(!dir.join("..data_tmp").exists());
}

#[test]
fn identical_payload_is_not_rewritten() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let payload = Payload::from([("k".to_string(), f("v", 0o644))]);
    assert!(write_payload(dir, &payload, None).expect("first"));
    let before = fs::read_link(dir.join(DATA_DIR)).expect("..data");
    assert!(!write_payload(dir, &payload, None).expect("second"));
    assert_eq!(fs::read_link(dir.join(DATA_DIR)).expect("..data"), before);
    // A mode change alone is a change.
    let chmod = Payload::from([("k".to_string(), f("v", 0o600))]);
    assert!(write_payload(dir, &chmod, None).expect("third"));
    assert_ne!(fs::read_link(dir.join(DATA_DIR)).expect("..data"), before);
}

#[test]
fn updates_swap_versions_and_remove_stale_entries() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let v1 = Payload::from([
        ("keep".to_string(), f("1", 0o644)),
        ("gone".to_string(), f("x", 0o644)),
        ("sub/gone".to_string(), f("y", 0o644)),
    ]);
    write_payload(dir, &v1, None).expect("v1");
    let old = fs::read_link(dir.join(DATA_DIR)).expect("..data");
    let v2 = Payload::from([
        ("keep".to_string(), f("2", 0o644)),
        ("new".to_string(), f("n", 0o644)),
    ]);
    assert!(write_payload(dir, &v2, None).expect("v2"));
    assert_eq!(read(dir, "keep"), "2");
    assert_eq!(read(dir, "new"), "n");
    assert!(dir.join("gone").symlink_metadata().is_err());
    assert!(dir.join("sub").symlink_metadata().is_err());
    assert!(!dir.join(&old).exists(), "old version removed");
    assert_eq!(versions(dir).len(), 1);

    // An empty payload leaves only the bookkeeping entries.
    assert!(write_payload(dir, &Payload::new(), None).expect("empty"));
    let mut left: Vec<String> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[1], DATA_DIR);
}

#[test]
fn a_removed_visible_link_is_restored() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let payload = Payload::from([("k".to_string(), f("v", 0o644))]);
    write_payload(dir, &payload, None).expect("write");
    fs::remove_file(dir.join("k")).expect("rm");
    assert!(write_payload(dir, &payload, None).expect("rewrite"));
    assert_eq!(read(dir, "k"), "v");
}

#[test]
fn invalid_paths_are_refused_before_writing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    for bad in ["../escape", "/abs", "..data/x", "a/../../b"] {
        let payload = Payload::from([(bad.to_string(), f("v", 0o644))]);
        let err = write_payload(dir, &payload, None).expect_err(bad);
        assert!(matches!(err, WriteError::InvalidPath(_)), "{bad}: {err}");
    }
    assert_eq!(fs::read_dir(dir).expect("dir").count(), 0);
    assert!(!tmp.path().parent().expect("parent").join("escape").exists());
}

#[test]
fn files_and_directories_get_the_group() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let payload = Payload::from([("a/b/key".to_string(), f("v", 0o440))]);
    assert!(write_payload(dir, &payload, Some(4321)).expect("write"));
    for path in ["a", "a/b", "a/b/key"] {
        let meta = fs::metadata(dir.join(path)).expect("meta");
        assert_eq!(meta.gid(), 4321, "{path}");
    }
    assert!(!write_payload(dir, &payload, Some(4321)).expect("same"));
    assert!(write_payload(dir, &payload, Some(1234)).expect("other group"));
    assert_eq!(fs::metadata(dir.join("a/b/key")).expect("meta").gid(), 1234);
}
