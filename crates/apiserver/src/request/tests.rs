use super::*;
use axum::http::Method;

/// (group, version, namespace, resource, name, subresource, verb).
type Expected<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Verb,
);

fn check(method: Method, path: &str, watch: bool, expect: Option<Expected>) {
    let got = resolve(&method, path, watch);
    match (got, expect) {
        (Target::NonResource, None) => {}
        (Target::Resource(r), Some((g, v, ns, res, name, sub, verb))) => {
            assert_eq!(
                (
                    r.group.as_str(),
                    r.version.as_str(),
                    r.namespace.as_deref(),
                    r.resource.as_str(),
                    r.name.as_deref(),
                    r.subresource.as_deref(),
                    r.verb
                ),
                (g, v, ns, res, name, sub, verb),
                "{path}"
            );
        }
        (got, expect) => panic!("{path}: got {got:?}, expected {expect:?}"),
    }
}

#[test]
fn resolves_paths_like_upstream() {
    check(Method::GET, "/api", false, None);
    check(Method::GET, "/apis/apps/v1", false, None);
    check(
        Method::GET,
        "/api/v1/pods",
        false,
        Some(("", "v1", None, "pods", None, None, Verb::List)),
    );
    check(
        Method::GET,
        "/api/v1/pods",
        true,
        Some(("", "v1", None, "pods", None, None, Verb::Watch)),
    );
    check(
        Method::GET,
        "/api/v1/namespaces/default/pods/p",
        false,
        Some((
            "",
            "v1",
            Some("default"),
            "pods",
            Some("p"),
            None,
            Verb::Get,
        )),
    );
    check(
        Method::PUT,
        "/api/v1/namespaces/default/pods/p/status",
        false,
        Some((
            "",
            "v1",
            Some("default"),
            "pods",
            Some("p"),
            Some("status"),
            Verb::Update,
        )),
    );
    check(
        Method::GET,
        "/api/v1/namespaces/kube-system",
        false,
        Some((
            "",
            "v1",
            None,
            "namespaces",
            Some("kube-system"),
            None,
            Verb::Get,
        )),
    );
    check(
        Method::PUT,
        "/api/v1/namespaces/x/finalize",
        false,
        Some((
            "",
            "v1",
            None,
            "namespaces",
            Some("x"),
            Some("finalize"),
            Verb::Update,
        )),
    );
    check(
        Method::GET,
        "/api/v1/namespaces",
        false,
        Some(("", "v1", None, "namespaces", None, None, Verb::List)),
    );
    check(
        Method::DELETE,
        "/apis/apps/v1/namespaces/a/deployments",
        false,
        Some((
            "apps",
            "v1",
            Some("a"),
            "deployments",
            None,
            None,
            Verb::DeleteCollection,
        )),
    );
    check(
        Method::GET,
        "/api/v1/watch/namespaces/a/configmaps",
        false,
        Some(("", "v1", Some("a"), "configmaps", None, None, Verb::Watch)),
    );
    check(
        Method::PATCH,
        "/apis/apps/v1/namespaces/a/deployments/d/scale",
        false,
        Some((
            "apps",
            "v1",
            Some("a"),
            "deployments",
            Some("d"),
            Some("scale"),
            Verb::Patch,
        )),
    );
    check(
        Method::POST,
        "/api/v1/namespaces/a/pods/p/binding",
        false,
        Some((
            "",
            "v1",
            Some("a"),
            "pods",
            Some("p"),
            Some("binding"),
            Verb::Create,
        )),
    );
    check(Method::GET, "/api/v1/a/b/c/d", false, None);
}
