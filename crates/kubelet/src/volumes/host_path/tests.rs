use super::*;
use std::os::unix::net::UnixListener;

#[test]
fn type_checks_as_upstream() {
    use FileKind::*;
    let c = |t: &str, k: Option<FileKind>| check("/p", (!t.is_empty()).then_some(t), k);
    assert_eq!(c("", None), Ok(Action::None));
    assert_eq!(c("", Some(Socket)), Ok(Action::None));
    assert_eq!(c("DirectoryOrCreate", None), Ok(Action::MakeDirectory));
    assert_eq!(c("DirectoryOrCreate", Some(Directory)), Ok(Action::None));
    assert_eq!(
        c("DirectoryOrCreate", Some(File)),
        Err("hostPath type check failed: /p is not a directory".into())
    );
    assert_eq!(
        c("Directory", None),
        Err("hostPath type check failed: /p is not a directory".into())
    );
    assert_eq!(c("FileOrCreate", None), Ok(Action::MakeFile));
    assert_eq!(c("FileOrCreate", Some(File)), Ok(Action::None));
    assert_eq!(
        c("FileOrCreate", Some(Directory)),
        Err("hostPath type check failed: /p is not a file".into())
    );
    assert_eq!(
        c("File", Some(CharDevice)),
        Err("hostPath type check failed: /p is not a file".into())
    );
    assert_eq!(c("Socket", Some(Socket)), Ok(Action::None));
    assert_eq!(
        c("Socket", Some(File)),
        Err("hostPath type check failed: /p is not a socket file".into())
    );
    assert_eq!(c("CharDevice", Some(CharDevice)), Ok(Action::None));
    assert_eq!(
        c("CharDevice", None),
        Err("hostPath type check failed: /p is not a character device".into())
    );
    assert_eq!(c("BlockDevice", Some(BlockDevice)), Ok(Action::None));
    assert_eq!(
        c("BlockDevice", Some(CharDevice)),
        Err("hostPath type check failed: /p is not a block device".into())
    );
    assert_eq!(
        c("Weird", None),
        Err("Weird is an invalid volume type".into())
    );
}

#[test]
fn kinds_of_real_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("f");
    fs::write(&file, "x").expect("write");
    let sock = tmp.path().join("s.sock");
    let _listener = UnixListener::bind(&sock).expect("bind");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    assert_eq!(kind_of(tmp.path()).expect("dir"), Some(FileKind::Directory));
    assert_eq!(kind_of(&file).expect("file"), Some(FileKind::File));
    assert_eq!(kind_of(&link).expect("link"), Some(FileKind::File));
    assert_eq!(kind_of(&sock).expect("sock"), Some(FileKind::Socket));
    assert_eq!(
        kind_of(Path::new("/dev/null")).expect("null"),
        Some(FileKind::CharDevice)
    );
    assert_eq!(kind_of(&tmp.path().join("none")).expect("none"), None);
}

#[test]
fn prepare_creates_what_the_type_asks_for() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("a/b/c");
    prepare(&dir, Some("DirectoryOrCreate"), 0o755).expect("mkdir");
    assert!(dir.is_dir());
    assert_eq!(
        fs::metadata(&dir).expect("meta").permissions().mode() & 0o777,
        0o755
    );
    let file = tmp.path().join("a/file");
    prepare(&file, Some("FileOrCreate"), 0o755).expect("touch");
    assert!(file.is_file());
    assert_eq!(fs::read(&file).expect("read"), b"");
    fs::write(&file, "keep").expect("write");
    prepare(&file, Some("FileOrCreate"), 0o755).expect("again");
    assert_eq!(fs::read(&file).expect("read"), b"keep");
    // FileOrCreate does not make parents.
    let orphan = tmp.path().join("missing/parent/file");
    assert!(prepare(&orphan, Some("FileOrCreate"), 0o755).is_err());
    assert_eq!(
        prepare(&file, Some("Directory"), 0o755),
        Err(format!(
            "hostPath type check failed: {} is not a directory",
            file.display()
        ))
    );
    prepare(&tmp.path().join("unset"), None, 0o755).expect("no check");
    assert!(!tmp.path().join("unset").exists());
}
