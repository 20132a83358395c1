//! Leader election through a coordination.k8s.io Lease in kube-system, so that several servers
//! sharing a datastore run one set of controllers.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};

/// How long a lease is valid without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews.
pub const RENEW_PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("lease API error: {0}")]
    Api(#[from] kube::Error),
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Try once to become (or stay) the holder of `name`; true when we hold it.
pub async fn try_acquire(
    client: &kube::Client,
    name: &str,
    identity: &str,
) -> Result<bool, LeaderError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let seconds = LEASE_DURATION.as_secs() as i32;
    match leases.get_opt(name).await? {
        None => {
            let lease = Lease {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                    holder_identity: Some(identity.into()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            match leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(Default::default);
            let holder = spec.holder_identity.clone().unwrap_or_default();
            let expired = spec.renew_time.as_ref().is_none_or(|t| {
                let age = k8s_openapi::jiff::Timestamp::now().duration_since(t.0);
                age.as_secs() > i64::from(spec.lease_duration_seconds.unwrap_or(seconds))
            });
            if holder != identity && !expired {
                return Ok(false);
            }
            if holder != identity {
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                spec.acquire_time = Some(now());
            }
            spec.holder_identity = Some(identity.into());
            spec.lease_duration_seconds = Some(seconds);
            spec.renew_time = Some(now());
            match leases.replace(name, &PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
    }
}
