use super::*;

fn vars(name: &str) -> Option<&'static str> {
    match name {
        "A" => Some("alpha"),
        "EMPTY" => Some(""),
        "B" => Some("$(A)"),
        _ => None,
    }
}

#[test]
fn known_references_expand() {
    assert_eq!(expand("$(A)", vars), "alpha");
    assert_eq!(expand("x-$(A)-y", vars), "x-alpha-y");
    assert_eq!(expand("$(A)$(A)", vars), "alphaalpha");
    assert_eq!(expand("[$(EMPTY)]", vars), "[]");
}

#[test]
fn values_are_not_expanded_again() {
    assert_eq!(expand("$(B)", vars), "$(A)");
}

#[test]
fn unknown_references_stay_literal() {
    assert_eq!(expand("$(NOPE)", vars), "$(NOPE)");
    assert_eq!(expand("a $(NOPE) $(A)", vars), "a $(NOPE) alpha");
    assert_eq!(expand("$()", vars), "$()");
}

#[test]
fn double_dollar_escapes() {
    assert_eq!(expand("$$(A)", vars), "$(A)");
    assert_eq!(expand("$$$(A)", vars), "$alpha");
    assert_eq!(expand("$$$$(A)", vars), "$$(A)");
    assert_eq!(expand("a$$b", vars), "a$b");
}

#[test]
fn lone_operators_are_kept() {
    assert_eq!(expand("$", vars), "$");
    assert_eq!(expand("a$", vars), "a$");
    assert_eq!(expand("$A", vars), "$A");
    assert_eq!(expand("$(A", vars), "$(A");
    assert_eq!(expand("$($(A)", vars), "$($(A)");
    assert_eq!(expand("cost: 5$ or $(A)", vars), "cost: 5$ or alpha");
}

#[test]
fn non_ascii_text_survives() {
    assert_eq!(expand("héllo $(A) wörld", vars), "héllo alpha wörld");
    assert_eq!(expand("$é$(A)", vars), "$éalpha");
}
