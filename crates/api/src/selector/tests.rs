use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse_err(s: &str) -> String {
    match LabelSelector::parse(s) {
        Ok(sel) => panic!("{s:?} parsed as {sel:?}"),
        Err(e) => e.0,
    }
}

const NAME_PART_ERR: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn parses_and_renders_canonically() {
    let cases = [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=1,a=2", "a=2,z=1"),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x=,z= ", "x=,z="),
        ("x= ,z= ", "x=,z="),
        ("!x", "!x"),
        ("x", "x"),
        ("x==a", "x==a"),
        ("x>1", "x>1"),
        ("x<10", "x<10"),
        ("  x  =  a  ,  y  ", "x=a,y"),
        ("\tx\nin\r(b, a)", "x in (a,b)"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("x in (a,a,b)", "x in (a,b)"),
        ("x notin (a)", "x notin (a)"),
        ("in in (in,notin)", "in in (in,notin)"),
        ("notin=in", "notin=in"),
        (
            "example.com/app=web,!kubernetes.io/os",
            "example.com/app=web,!kubernetes.io/os",
        ),
        ("x in (,)", "x in ()"),
        ("x in (,a)", "x in (,a)"),
    ];
    for (input, want) in cases {
        let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), want, "{input:?}");
        // canonical form parses back to the same selector
        assert_eq!(LabelSelector::parse(want), Ok(sel), "{want:?}");
    }
    assert!(LabelSelector::parse("").is_ok_and(|s| s.is_empty()));
    assert!(LabelSelector::parse("   ").is_ok_and(|s| s.is_empty()));
}

#[test]
fn rejects_what_upstream_rejects() {
    for bad in [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x>1.5",
        "x<-1",
        "x>",
        "x=a,",
        "x,,y",
        ",x",
        "x in (a",
        "x in a",
        "x notin (",
        "x in (a b)",
        "a b",
        "x=a b",
        "(",
        "x=(",
        "x in",
        "!",
        "!!x",
        "x_=a",
        "a/b/c",
        "/a",
        "Example.com/a",
        "x=a_",
        "x in (-a)",
        "x=a/b",
    ] {
        assert!(
            LabelSelector::parse(bad).is_err(),
            "{bad:?} should not parse"
        );
    }
}

#[test]
fn error_messages_match_upstream() {
    assert_eq!(
        parse_err("("),
        "found '(', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        parse_err("x=("),
        "unable to parse requirement: found '(', expected: identifier"
    );
    assert_eq!(
        parse_err("a b"),
        "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'"
    );
    assert_eq!(
        parse_err("x=a,"),
        "found '', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("x,,y"),
        "found ',', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("x=a b"),
        "found 'b', expected: ',' or 'end of string'"
    );
    assert_eq!(
        parse_err("!x=a"),
        "found '=', expected: ',' or 'end of string'"
    );
    assert_eq!(
        parse_err("x in a"),
        "unable to parse requirement: found 'a' expected: '('"
    );
    assert_eq!(
        parse_err("x in (a"),
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    assert_eq!(
        parse_err("x in (="),
        "unable to parse requirement: found '=', expected: ',', ')' or identifier"
    );
    assert_eq!(
        parse_err("!"),
        "unable to parse requirement: found '', expected: identifier"
    );
    assert_eq!(
        parse_err("x_=a"),
        format!("unable to parse requirement: <nil>: Invalid value: \"x_\": {NAME_PART_ERR}")
    );
    assert_eq!(
        parse_err("x=a_"),
        format!("unable to parse requirement: values[0][x]: Invalid value: \"a_\": {VALUE_ERR}")
    );
    assert_eq!(
        parse_err("x>a"),
        "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    // two problems with one value: aggregated in brackets
    assert_eq!(
        parse_err("x>-a"),
        format!(
            "unable to parse requirement: [values[0]: Invalid value: \"-a\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"-a\": {VALUE_ERR}]"
        )
    );
    let long = "a".repeat(64);
    assert_eq!(
        parse_err(&format!("x={long}")),
        format!(
            "unable to parse requirement: values[0][x]: Invalid value: \"{long}\": must be no more than 63 characters"
        )
    );
    assert_eq!(
        parse_err(&format!("{long}=x")),
        format!(
            "unable to parse requirement: <nil>: Invalid value: \"{long}\": name part must be no more than 63 characters"
        )
    );
    assert_eq!(
        parse_err("/a"),
        "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"
    );
    assert!(parse_err("Example.com/a").contains("prefix part a lowercase RFC 1123 subdomain"));
    assert!(parse_err("a/b/c").contains("a qualified name must consist of"));
}

#[test]
fn matches_like_upstream() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        ("", &[("x", "y")], true),
        ("", &[], true),
        ("x=y", &[("x", "y")], true),
        ("x=y", &[("x", "z")], false),
        ("x=y", &[], false),
        ("x==y", &[("x", "y")], true),
        ("x=", &[("x", "")], true),
        ("x=", &[], false),
        ("x!=y", &[("x", "z")], true),
        ("x!=y", &[], true),
        ("x!=y", &[("x", "y")], false),
        ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
        ("x=y,z=w", &[("x", "y"), ("z", "v")], false),
        ("x in (a,b)", &[("x", "b")], true),
        ("x in (a,b)", &[("x", "c")], false),
        ("x in (a,b)", &[], false),
        ("x notin (a,b)", &[], true),
        ("x notin (a,b)", &[("x", "c")], true),
        ("x notin (a,b)", &[("x", "a")], false),
        ("x", &[("x", "")], true),
        ("x", &[("y", "")], false),
        ("!x", &[("y", "")], true),
        ("!x", &[("x", "")], false),
        ("x>1", &[("x", "2")], true),
        ("x>1", &[("x", "1")], false),
        ("x>1", &[("x", "a")], false),
        ("x>1", &[], false),
        ("x<1", &[("x", "-5")], true),
        ("x<1", &[("x", "+0")], true),
        ("x<1", &[("x", "1")], false),
    ];
    for (sel, ls, want) in cases {
        let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
        assert_eq!(s.matches(&labels(ls)), *want, "{sel:?} vs {ls:?}");
    }
}

#[test]
fn from_object_null_empty_and_full() {
    let nothing = LabelSelector::from_object(&Value::Null).expect("null");
    assert!(nothing.selects_nothing());
    assert!(!nothing.is_empty());
    assert!(!nothing.matches(&labels(&[])));
    assert_eq!(nothing, LabelSelector::nothing());

    let everything = LabelSelector::from_object(&json!({})).expect("{}");
    assert!(everything.is_empty());
    assert!(everything.matches(&labels(&[("a", "b")])));
    assert_eq!(everything, LabelSelector::everything());
    assert_eq!(
        LabelSelector::from_object(&json!({"matchLabels": {}, "matchExpressions": []})),
        Ok(LabelSelector::everything())
    );
    assert_eq!(
        LabelSelector::from_object(&json!({"matchLabels": null, "matchExpressions": null})),
        Ok(LabelSelector::everything())
    );

    let sel = LabelSelector::from_object(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["x"]},
            {"key": "team", "operator": "Exists", "values": []},
        ]
    }))
    .expect("selector");
    assert_eq!(
        sel.to_string(),
        "app=web,!env,team,tier in (a,b),zone notin (x)"
    );
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "t")])));
    assert!(!sel.matches(&labels(&[
        ("app", "web"),
        ("tier", "a"),
        ("team", "t"),
        ("env", "p")
    ])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "t")])));
    assert!(!sel.matches(&labels(&[
        ("app", "web"),
        ("tier", "a"),
        ("team", "t"),
        ("zone", "x")
    ])));
    assert_eq!(sel.requires_exact_match("app"), Some("web"));
    assert_eq!(sel.requires_exact_match("tier"), None);
    assert_eq!(sel.requirements().len(), 5);
    // same selector as the string form
    assert_eq!(
        LabelSelector::parse(&sel.to_string()).map(|s| s.to_string()),
        Ok(sel.to_string())
    );
}

#[test]
fn from_object_errors() {
    let e = |v: Value| {
        LabelSelector::from_object(&v)
            .map(|s| s.to_string())
            .unwrap_err()
            .0
    };
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]})),
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
        "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
    );
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
        "\"Gt\" is not a valid label selector operator"
    );
    assert_eq!(
        e(json!({"matchLabels": {"a_": "b"}})),
        format!("key: Invalid value: \"a_\": {NAME_PART_ERR}")
    );
    assert_eq!(
        e(json!({"matchLabels": {"a": "b c"}})),
        format!("values[0][a]: Invalid value: \"b c\": {VALUE_ERR}")
    );
    assert!(e(json!({"matchLabels": {"a": 1}})).contains("must be a string"));
    assert!(e(json!("app=web")).contains("must be an object"));
    assert!(e(json!({"matchExpressions": {}})).contains("must be an array"));
}

#[test]
fn requirement_constructor_and_from_set() {
    let r = Requirement::new("a", Operator::In, vec!["y".into(), "x".into()]).expect("valid");
    assert_eq!(r.to_string(), "a in (x,y)");
    assert_eq!(r.values(), ["y", "x"]);
    assert_eq!(r.key(), "a");
    assert_eq!(r.operator().as_str(), "in");
    assert!(Requirement::new("a", Operator::Equals, vec![]).is_err());
    assert!(Requirement::new("a", Operator::GreaterThan, vec!["1".into(), "2".into()]).is_err());

    let set = labels(&[("b", "2"), ("a", "1")]);
    let sel = LabelSelector::from_set(&set);
    assert_eq!(sel.to_string(), "a=1,b=2");
    assert!(sel.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "3")])));
    assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
}

#[test]
fn labels_of_an_object() {
    let pod = json!({"metadata": {"name": "p", "labels": {"app": "web", "n": 3}}});
    assert_eq!(labels_of(&pod), labels(&[("app", "web")]));
    assert!(labels_of(&json!({"metadata": {}})).is_empty());
    assert!(labels_of(&json!(null)).is_empty());
    let sel = LabelSelector::parse("app in (web,api)").expect("valid");
    assert!(sel.matches_object(&pod));
}

#[test]
fn go_quote_escapes_like_go() {
    assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
    assert_eq!(go_quote("ünï"), "\"ünï\"");
}
