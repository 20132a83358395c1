use super::*;

#[test]
fn routes() {
    assert_eq!(parse_route("/healthz"), Some(Route::Healthz));
    assert_eq!(
        parse_route("/containerLogs/ns/p/c"),
        Some(Route::ContainerLogs {
            namespace: "ns",
            pod: "p",
            container: "c"
        })
    );
    assert!(matches!(parse_route("/exec/ns/p/c"), Some(Route::Exec(_))));
    assert!(matches!(
        parse_route("/attach/ns/p/c"),
        Some(Route::Attach(_))
    ));
    assert_eq!(
        parse_route("/portForward/ns/p"),
        Some(Route::PortForward {
            namespace: "ns",
            pod: "p"
        })
    );
    assert_eq!(parse_route("/stats/summary"), Some(Route::StatsSummary));
    assert_eq!(parse_route("/exec/ns/p"), None);
    assert_eq!(parse_route("/metrics"), None);
}

#[test]
fn only_the_api_server_and_admins_are_let_in() {
    assert_eq!(authorize(None), Caller::Anonymous);
    assert_eq!(authorize(Some(b"not a certificate")), Caller::Forbidden);
}
