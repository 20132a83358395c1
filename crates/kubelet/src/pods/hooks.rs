//! postStart and preStop hooks: exec in the container, httpGet, or sleep.

use std::time::Duration;

use k8s_openapi::api::core::v1::LifecycleHandler;

use crate::probe::Outcome;
use crate::probe::exec::{Target, exec_command, http_get};

/// Runs a lifecycle handler; `Err` carries upstream's failure text.
pub async fn run_hook(
    handler: &LifecycleHandler,
    target: &Target<'_>,
    timeout: Duration,
) -> Result<(), String> {
    let outcome = if let Some(exec) = &handler.exec {
        exec_command(target, exec.command.as_deref().unwrap_or(&[]), timeout).await
    } else if let Some(http) = &handler.http_get {
        http_get(http, target.container, target.pod_ip, timeout).await
    } else if let Some(sleep) = &handler.sleep {
        let seconds = u64::try_from(sleep.seconds).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(seconds).min(timeout)).await;
        Outcome::Success
    } else {
        // tcpSocket handlers are accepted by the API but do nothing, as upstream.
        Outcome::Success
    };
    match outcome {
        Outcome::Success => Ok(()),
        Outcome::Failure(why) => Err(why),
    }
}
