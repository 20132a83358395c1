use super::*;

fn image(id: &str, size: u64, keep: bool) -> ImageUse {
    ImageUse {
        id: id.into(),
        size,
        keep,
    }
}

#[test]
fn nothing_is_removed_below_the_high_threshold() {
    let images = [image("a", 50, false)];
    // 80 % used, high 85.
    assert!(images_to_remove(1000, 200, 85, 80, &images).is_empty());
}

#[test]
fn unused_images_go_largest_first_until_below_the_low_threshold() {
    let images = [
        image("small", 30, false),
        image("big", 60, false),
        image("used", 500, true),
        image("mid", 40, false),
    ];
    // 90 % used (100 of 1000 free); low 80 % → 200 free wanted → free 100.
    assert_eq!(
        images_to_remove(1000, 100, 85, 80, &images),
        vec!["big".to_string(), "mid".to_string()]
    );
}

#[test]
fn images_in_use_or_pinned_stay_even_if_not_enough_is_freed() {
    let images = [image("used", 900, true), image("tiny", 1, false)];
    assert_eq!(
        images_to_remove(1000, 10, 85, 80, &images),
        vec!["tiny".to_string()]
    );
    assert!(images_to_remove(0, 0, 85, 80, &images).is_empty());
}
