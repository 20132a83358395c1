use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn atomic_write_sets_exact_mode_and_replaces_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/file");
    write_file_atomic(&path, b"one", 0o644).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"one");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o644
    );
    write_file_atomic(&path, b"two", 0o600).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"two");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    // Group/other-writable modes survive the umask.
    write_file_atomic(&path, b"three", 0o666).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o666
    );
    let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn read_optional_distinguishes_missing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        read_optional(&dir.path().join("missing"))
            .unwrap()
            .is_none()
    );
    fs::write(dir.path().join("present"), b"x").unwrap();
    assert_eq!(
        read_optional(&dir.path().join("present")).unwrap().unwrap(),
        b"x"
    );
}
