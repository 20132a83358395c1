use super::*;

#[test]
fn parses_mount_points_with_escapes() {
    let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                35 22 0:30 / /var/lib/k3rs/pods/u/volumes/kubernetes.io~secret/my\\040secret rw - tmpfs tmpfs rw\n\
                36 22 0:31 / /odd\\134name rw - tmpfs tmpfs rw\n";
    assert_eq!(
        parse_mountinfo(text),
        vec![
            PathBuf::from("/"),
            PathBuf::from("/var/lib/k3rs/pods/u/volumes/kubernetes.io~secret/my secret"),
            PathBuf::from("/odd\\name"),
        ]
    );
    assert_eq!(unescape_octal("a\\0b"), "a\\0b");
    assert_eq!(unescape_octal("tab\\011x"), "tab\tx");
}

#[test]
fn remove_tree_does_not_follow_symlinks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    fs::write(outside.join("precious"), "keep").expect("write");
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("a/b")).expect("mkdir");
    fs::write(tree.join("a/b/file"), "x").expect("write");
    std::os::unix::fs::symlink(&outside, tree.join("a/link-to-outside")).expect("symlink");
    std::os::unix::fs::symlink(outside.join("precious"), tree.join("file-link")).expect("symlink");
    remove_tree(&tree).expect("remove");
    assert!(!tree.exists());
    assert_eq!(
        fs::read_to_string(outside.join("precious")).expect("read"),
        "keep"
    );
    // Missing is fine.
    remove_tree(&tree).expect("again");
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn tmpfs_mounts_once_and_unmounts() {
    if !is_root() {
        eprintln!("skipping tmpfs_mounts_once_and_unmounts: needs root to mount");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("mem");
    fs::create_dir(&dir).expect("mkdir");
    ensure_tmpfs(&dir, Some(1 << 20)).expect("mount");
    let guard = UnmountOnDrop(tmp.path().to_path_buf());
    assert!(is_mount_point(&dir).expect("check"));
    // Idempotent: a second call does not stack another tmpfs.
    ensure_tmpfs(&dir, Some(1 << 20)).expect("again");
    let count = mount_points()
        .expect("mounts")
        .iter()
        .filter(|m| **m == fs::canonicalize(&dir).expect("canon"))
        .count();
    assert_eq!(count, 1);
    // The size applies: 2 MiB does not fit into 1 MiB.
    assert!(fs::write(dir.join("big"), vec![0u8; 2 << 20]).is_err());
    fs::remove_file(dir.join("big")).expect("remove the partial file");
    // Removal refuses to cross into the mount, unmounting first makes it work.
    fs::write(dir.join("small"), "x").expect("write");
    assert!(remove_tree(tmp.path()).is_err());
    assert!(tmp.path().exists());
    unmount_all_under(tmp.path()).expect("unmount");
    assert!(!is_mount_point(&dir).expect("check"));
    drop(guard);
}

/// Unmounts whatever a failed test left mounted under the directory.
struct UnmountOnDrop(PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        let _ = unmount_all_under(&self.0);
    }
}
