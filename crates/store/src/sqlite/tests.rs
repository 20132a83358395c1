use super::*;

#[test]
fn key_range_bounds() {
    let (sql, args) = key_range("k", "/a/", Some("/a/x"));
    assert_eq!(sql, " AND k >= ? AND k < ? AND k > ?");
    assert_eq!(
        args,
        vec![b"/a/".to_vec(), b"/a0".to_vec(), b"/a/x".to_vec()]
    );
    let (sql, args) = key_range("k", "", None);
    assert!(sql.is_empty() && args.is_empty());
}
