use super::*;

#[test]
fn accept_header_picks_flavor_in_client_order() {
    let k133 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let k127 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    assert_eq!(Flavor::from_accept(Some(k133)), Flavor::AggregatedV2);
    assert_eq!(Flavor::from_accept(Some(k127)), Flavor::AggregatedV2Beta1);
    assert_eq!(
        Flavor::from_accept(Some("application/json")),
        Flavor::Legacy
    );
    assert_eq!(Flavor::from_accept(None), Flavor::Legacy);
    assert_eq!(
        Flavor::from_accept(Some(
            "application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )),
        Flavor::Legacy
    );
}
