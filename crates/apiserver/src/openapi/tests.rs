use super::*;
use k3rs_api::registry::ResourceInfo;

fn kind(group: &'static str, description: &str) -> CustomKind {
    let info: &'static ResourceInfo = Box::leak(Box::new(ResourceInfo {
        group,
        version: "v1",
        plural: "widgets",
        singular: "widget",
        kind: "Widget",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: &["get", "list", "create", "update", "patch", "delete"],
        status: false,
        scale: false,
        generation: true,
        storage: "widgets",
    }));
    CustomKind {
        info,
        list_kind: "WidgetList".into(),
        schema: Some(json!({"type": "object", "description": description})),
    }
}

#[test]
fn custom_resources_re_render_only_their_part() {
    let api = OpenApi::default();
    let first = api.documents();
    assert!(!first.v3.contains_key("apis/example.com/v1"));
    let apps = first.v3["apis/apps/v1"].clone();

    api.rebuild_custom(vec![kind("example.com", "one"), kind("other.io", "x")]);
    let second = api.ready().expect("rebuilt at once");
    assert!(Arc::ptr_eq(&second.v3["apis/apps/v1"], &apps));
    let example = second.v3["apis/example.com/v1"].clone();
    let other = second.v3["apis/other.io/v1"].clone();
    assert!(
        std::str::from_utf8(&second.index.body)
            .is_ok_and(|i| i.contains(&format!("apis/example.com/v1?hash={}", example.hash)))
    );
    assert!(second.v2.get().is_none(), "v2 waits for its first request");

    // The same set again: nothing is rendered.
    api.rebuild_custom(vec![kind("example.com", "one"), kind("other.io", "x")]);
    assert!(Arc::ptr_eq(&api.documents(), &second));

    // One group-version changes: only its document (and the index) is new.
    api.rebuild_custom(vec![kind("example.com", "two"), kind("other.io", "x")]);
    let third = api.documents();
    assert!(Arc::ptr_eq(&third.v3["apis/other.io/v1"], &other));
    assert_ne!(third.v3["apis/example.com/v1"].hash, example.hash);
    assert_ne!(third.index.hash, second.index.hash);
    let builtin = api.builtin.get().expect("built");
    let v2 = third.v2(builtin);
    assert!(
        std::str::from_utf8(&v2.json.body).is_ok_and(|d| d.contains("\"com.example.v1.Widget\""))
    );

    // Gone again.
    api.rebuild_custom(Vec::new());
    let fourth = api.documents();
    assert!(!fourth.v3.contains_key("apis/example.com/v1"));
    assert_eq!(fourth.index.hash, first.index.hash);
}
