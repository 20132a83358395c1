use k3rs_cri::v1::Image;

use super::{human_size, image_table, split_tag};

fn image(id: &str, tags: &[&str], digests: &[&str], size: u64) -> Image {
    Image {
        id: id.to_owned(),
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        repo_digests: digests.iter().map(|d| d.to_string()).collect(),
        size,
        ..Image::default()
    }
}

#[test]
fn table_has_a_row_per_tag_with_short_ids_and_sizes() {
    let images = [
        image(
            "sha256:0123456789abcdef0123",
            &["k3rs.local/pause:0.1.0", "k3rs.local/pause:latest"],
            &[],
            1_234_567,
        ),
        image(
            "sha256:fedcba9876543210fedc",
            &[],
            &["localhost:5000/app@sha256:aaaa"],
            999,
        ),
    ];
    assert_eq!(
        image_table(&images),
        "IMAGE                TAG      IMAGE ID        SIZE\n\
         k3rs.local/pause     0.1.0    0123456789abc   1.23MB\n\
         k3rs.local/pause     latest   0123456789abc   1.23MB\n\
         localhost:5000/app   <none>   fedcba9876543   999B\n"
    );
}

#[test]
fn registry_ports_are_not_tags() {
    assert_eq!(
        split_tag("localhost:5000/app"),
        ("localhost:5000/app".to_owned(), "<none>".to_owned())
    );
    assert_eq!(
        split_tag("localhost:5000/app:v1"),
        ("localhost:5000/app".to_owned(), "v1".to_owned())
    );
}

#[test]
fn sizes_have_three_significant_digits() {
    assert_eq!(human_size(0), "0B");
    assert_eq!(human_size(1000), "1kB");
    assert_eq!(human_size(12_345_678), "12.3MB");
    assert_eq!(human_size(123_456_789), "123MB");
    assert_eq!(human_size(4_500_000_000), "4.5GB");
}
