//! Images: pulls by imagePullPolicy, with back-off after failures, and the Events upstream
//! writes for them.

use std::time::Instant;

use k3rs_cri::v1::PodSandboxConfig;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::pod::StartFailure;

use super::super::config::default_pull_policy;
use super::super::cri::{self, ImageInfo};
use super::super::events::Kind;
use super::{ERR_IMAGE_PULL_SHOWN, Wake, Worker, now_nanos};

impl Worker {
    /// Pulls the container's image as its pull policy says.
    pub(super) async fn ensure_image(
        &mut self,
        pod: &Pod,
        c: &Container,
        sandbox: &PodSandboxConfig,
        wake: &mut Wake,
    ) -> Result<ImageInfo, StartFailure> {
        let cri = &self.shared.cri;
        let image = c.image.clone().unwrap_or_default();
        let failure = |reason: &str, message: String| StartFailure {
            reason: reason.into(),
            message,
        };
        let present = cri::image_present(cri, &image).await.map_err(|e| {
            failure(
                "ErrImageInspect",
                format!("Failed to inspect image {image:?}: {}", e.message),
            )
        })?;
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| default_pull_policy(&image).into());
        let already = |info: ImageInfo| {
            self.event(
                pod,
                Some(&c.name),
                Kind::Normal,
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            );
            info
        };
        match (policy.as_str(), present) {
            ("Never" | "IfNotPresent", Some(info)) => Ok(already(info)),
            ("Never", None) => {
                let message =
                    format!("Container image {image:?} is not present with pull policy of Never");
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Warning,
                    "ErrImageNeverPull",
                    message.clone(),
                );
                Err(failure("ErrImageNeverPull", message))
            }
            (_, present) => self.pull(pod, c, &image, present, sandbox, wake).await,
        }
    }

    /// Pulls the image, unless its last pull failed so recently that it is in back-off. A
    /// failed pull of an image that is present uses that image.
    async fn pull(
        &mut self,
        pod: &Pod,
        c: &Container,
        image: &str,
        present: Option<ImageInfo>,
        sandbox: &PodSandboxConfig,
        wake: &mut Wake,
    ) -> Result<ImageInfo, StartFailure> {
        let cri = self.shared.cri.clone();
        let failure = |reason: &str, message: String| StartFailure {
            reason: reason.into(),
            message,
        };
        let key = format!("{}/{image}", self.uid);
        if present.is_none()
            && let Some(until) = self
                .image_back_off
                .in_back_off_since_update(&key, now_nanos())
        {
            // The message keeps the pull error across back-offs.
            let message = match self.failures.get(&c.name) {
                Some(f) if f.reason == "ErrImagePull" => {
                    format!(
                        "Back-off pulling image {image:?}: ErrImagePull: {}",
                        f.message
                    )
                }
                Some(f) if f.reason == "ImagePullBackOff" => f.message.clone(),
                _ => format!("Back-off pulling image {image:?}"),
            };
            self.event(
                pod,
                Some(&c.name),
                Kind::Normal,
                "BackOff",
                format!("Back-off pulling image {image:?}"),
            );
            self.event(
                pod,
                Some(&c.name),
                Kind::Warning,
                "Failed",
                "Error: ImagePullBackOff".into(),
            );
            *wake = Some(wake.map_or(until, |w| w.min(until)));
            return Err(failure("ImagePullBackOff", message));
        }
        self.event(
            pod,
            Some(&c.name),
            Kind::Normal,
            "Pulling",
            format!("Pulling image {image:?}"),
        );
        let started = Instant::now();
        let pulled = cri::pull_image(&cri, image, sandbox).await;
        let pulled = match pulled {
            Ok(_) => cri::image_present(&cri, image).await.inspect(|_| {
                let took = started.elapsed().as_secs_f64();
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Normal,
                    "Pulled",
                    format!("Successfully pulled image {image:?} in {took:.3}s ({took:.3}s including waiting)"),
                );
            }),
            Err(e) => Err(e),
        };
        match (pulled, present) {
            (Ok(Some(info)), _) => Ok(info),
            (Ok(None), Some(info)) => Ok(info),
            (Ok(None), None) => Err(failure(
                "ErrImagePull",
                format!("Failed to pull image {image:?}: the image is not present after the pull"),
            )),
            (Err(e), Some(info)) => {
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Warning,
                    "Failed",
                    format!(
                        "Failed to pull image {image:?}: {}; using the image already present on the machine",
                        e.message
                    ),
                );
                Ok(info)
            }
            (Err(e), None) => {
                let message = format!("Failed to pull image {image:?}: {}", e.message);
                let now = now_nanos();
                self.image_back_off.next(&key, now);
                self.event(pod, Some(&c.name), Kind::Warning, "Failed", message.clone());
                self.event(
                    pod,
                    Some(&c.name),
                    Kind::Warning,
                    "Failed",
                    "Error: ErrImagePull".into(),
                );
                // ErrImagePull shows for a moment, then ImagePullBackOff until the back-off
                // ends, as upstream's resync after a failed sync shows them.
                let next = self
                    .image_back_off
                    .in_back_off_since_update(&key, now)
                    .map_or(now + ERR_IMAGE_PULL_SHOWN, |until| {
                        until.min(now + ERR_IMAGE_PULL_SHOWN)
                    });
                *wake = Some(wake.map_or(next, |w| w.min(next)));
                Err(failure("ErrImagePull", message))
            }
        }
    }
}
