//! Image garbage collection, as upstream's image manager: every 5 minutes, when the image
//! filesystem is fuller than `image-gc-high-threshold` percent, remove images no container
//! uses (never the sandbox image) until it is below `image-gc-low-threshold`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use k3rs_cri::CriClient;
use k3rs_cri::v1::{
    ImageFsInfoRequest, ImageSpec, ListContainersRequest, ListImagesRequest, RemoveImageRequest,
};
use tokio::sync::watch;

/// How often image usage is checked (upstream's `ImageGCPeriod`).
pub const IMAGE_GC_PERIOD: Duration = Duration::from_secs(300);

/// One image as the collector sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUse {
    pub id: String,
    pub size: u64,
    /// A container (running or not) refers to it, or it is the sandbox image.
    pub keep: bool,
}

/// The images to remove from a filesystem of `capacity` bytes with `available` free, largest
/// unused first, to bring usage from above `high` percent down to `low` percent.
pub fn images_to_remove(
    capacity: u64,
    available: u64,
    high: u8,
    low: u8,
    images: &[ImageUse],
) -> Vec<String> {
    if capacity == 0 {
        return Vec::new();
    }
    let used_percent = 100 - (available.saturating_mul(100) / capacity).min(100);
    if used_percent <= u64::from(high) {
        return Vec::new();
    }
    let target_available = capacity / 100 * (100 - u64::from(low));
    let mut to_free = target_available.saturating_sub(available);
    let mut candidates: Vec<&ImageUse> = images.iter().filter(|i| !i.keep).collect();
    candidates.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
    let mut remove = Vec::new();
    for image in candidates {
        if to_free == 0 {
            break;
        }
        to_free = to_free.saturating_sub(image.size);
        remove.push(image.id.clone());
    }
    remove
}

/// Collect images until `shutdown` turns true.
pub async fn run(
    cri: CriClient,
    sandbox_image: String,
    high: u8,
    low: u8,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(IMAGE_GC_PERIOD);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = collect(&cri, &sandbox_image, high, low).await {
            tracing::warn!("image garbage collection: {e}");
        }
    }
}

async fn collect(
    cri: &CriClient,
    sandbox_image: &str,
    high: u8,
    low: u8,
) -> Result<(), k3rs_cri::CriError> {
    let fs = cri
        .images()
        .image_fs_info(ImageFsInfoRequest {})
        .await?
        .into_inner();
    let Some(mountpoint) = fs
        .image_filesystems
        .first()
        .and_then(|f| f.fs_id.as_ref())
        .map(|id| id.mountpoint.clone())
    else {
        return Ok(());
    };
    let Ok(st) = rustix::fs::statvfs(Path::new(&mountpoint)) else {
        return Ok(());
    };
    let capacity = st.f_blocks.saturating_mul(st.f_frsize);
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    let containers = cri
        .runtime()
        .list_containers(ListContainersRequest { filter: None })
        .await?
        .into_inner()
        .containers;
    let in_use: BTreeSet<String> = containers
        .iter()
        .flat_map(|c| {
            [
                c.image_ref.clone(),
                c.image
                    .as_ref()
                    .map(|i| i.image.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let images = cri
        .images()
        .list_images(ListImagesRequest { filter: None })
        .await?
        .into_inner()
        .images;
    let uses: Vec<ImageUse> = images
        .iter()
        .map(|i| ImageUse {
            id: i.id.clone(),
            size: i.size,
            keep: i.pinned
                || in_use.contains(&i.id)
                || i.repo_tags
                    .iter()
                    .any(|t| t == sandbox_image || in_use.contains(t))
                || i.repo_digests.iter().any(|d| in_use.contains(d)),
        })
        .collect();
    for id in images_to_remove(capacity, available, high, low, &uses) {
        let removed = cri
            .images()
            .remove_image(RemoveImageRequest {
                image: Some(ImageSpec {
                    image: id.clone(),
                    ..Default::default()
                }),
            })
            .await;
        match removed {
            Ok(_) => {
                tracing::info!(image = %id, "removed an unused image (disk usage above the threshold)")
            }
            Err(e) => tracing::warn!(image = %id, "cannot remove an unused image: {}", e.message()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
