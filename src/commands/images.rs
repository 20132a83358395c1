//! `k3rs images import FILE…` and `k3rs images ls`: the node's images by hand, through the agent's
//! containerd (or the one `--container-runtime-endpoint` names).

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use k3rs_cri::CriClient;
use k3rs_cri::image::{self, cri_snapshotter};
use k3rs_cri::v1::Image;

use crate::cli::{ImagesAction, ImagesCommand};

/// How long to wait for containerd to answer: it is either running or not.
const CONNECT_WAIT: Duration = Duration::from_secs(2);

/// Runs `k3rs images …`.
pub async fn run(command: ImagesCommand) -> anyhow::Result<()> {
    let client = connect(&command.endpoint).await?;
    match command.action {
        ImagesAction::Import(files) => {
            // Unpack where CRI looks, so that pods start from the image at once.
            let snapshotter = cri_snapshotter(&client).await.ok().flatten();
            for file in &files {
                if !file.is_file() {
                    bail!(
                        "{}: no such file (give image archives: OCI layout or docker save tar files)",
                        file.display()
                    );
                }
                image::import_archive(&command.endpoint, snapshotter.as_deref(), file).await?;
                println!("imported {}", file.display());
            }
        }
        ImagesAction::List => {
            let images = image::list_images(&client).await?;
            print!("{}", image_table(&images));
        }
    }
    Ok(())
}

async fn connect(endpoint: &Path) -> anyhow::Result<CriClient> {
    CriClient::connect_within(endpoint, CONNECT_WAIT)
        .await
        .with_context(|| {
            format!(
                "cannot reach containerd at {}: is the k3rs agent (or server) running? \
                 Otherwise pass --run-dir or --container-runtime-endpoint",
                endpoint.display()
            )
        })
}

/// `crictl images`-like columns: IMAGE, TAG, IMAGE ID, SIZE; one row per tag (untagged images
/// show their digest's repository and `<none>`).
pub fn image_table(images: &[Image]) -> String {
    let mut rows = vec![[
        "IMAGE".to_owned(),
        "TAG".to_owned(),
        "IMAGE ID".to_owned(),
        "SIZE".to_owned(),
    ]];
    for image in images {
        let id = image.id.strip_prefix("sha256:").unwrap_or(&image.id);
        let id: String = id.chars().take(13).collect();
        let size = human_size(image.size);
        let names: Vec<(String, String)> = if image.repo_tags.is_empty() {
            image
                .repo_digests
                .iter()
                .take(1)
                .map(|d| {
                    (
                        d.split('@').next().unwrap_or(d).to_owned(),
                        "<none>".to_owned(),
                    )
                })
                .collect()
        } else {
            image.repo_tags.iter().map(|t| split_tag(t)).collect()
        };
        for (repository, tag) in names {
            rows.push([repository, tag, id.clone(), size.clone()]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// `repo:tag` → (`repo`, `tag`); the colon of a registry port is not a tag.
fn split_tag(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository.to_owned(), tag.to_owned()),
        _ => (reference.to_owned(), "<none>".to_owned()),
    }
}

/// Sizes as crictl prints them: 1000-based units, three significant digits.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let number = format!("{value:.decimals$}");
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        &number
    };
    format!("{number}{}", UNITS[unit])
}
