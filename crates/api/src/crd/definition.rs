//! Validation of `CustomResourceDefinition` objects (`pkg/apis/apiextensions/validation`).
//!
//! The object is the `apiextensions.k8s.io/v1` JSON. As upstream converts v1 to its internal
//! version before validating, a schema (subresources, printer columns) identical in all versions
//! is checked once under `spec.validation.openAPIV3Schema` (`spec.subresources`,
//! `spec.additionalPrinterColumns`), otherwise per version under
//! `spec.versions[i].schema.openAPIV3Schema`.

use super::path::{child, index, key};
use super::schema::Schema;
use crate::names::{NameRule, is_dns1035_label, is_dns1123_subdomain, validate_object_meta};
use crate::status::FieldError;
use crate::validation::FIELD_IMMUTABLE;
use serde_json::Value;

const PRINTER_COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const PRINTER_COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
const ALLOWED_AT_ROOT_WITH_STATUS: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];
const ALLOWED_AT_ROOT_GO_NAMES: &str = "[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations]";

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The name of the version marked `storage: true` (the first one, if several are).
pub fn storage_version(crd: &Value) -> Option<&str> {
    arr(crd, "/spec/versions")
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
}

/// Validate a CustomResourceDefinition for create: metadata (name must be
/// `<plural>.<group>`), group, scope, versions (names, exactly one storage version), names,
/// schemas (structural, defaults, list types, …), subresources, printer columns, conversion,
/// `status.acceptedNames`, `status.storedVersions` when present, the API-approval annotation of
/// protected groups and `spec.preserveUnknownFields`.
///
/// Call after [`apply_definition_defaults`]. Upstream sets `status.storedVersions` to the storage
/// version before validating a create; when the field is absent it is not checked here.
pub fn validate_definition(crd: &Value) -> Vec<FieldError> {
    let plural = s(crd, "/spec/names/plural");
    let group = s(crd, "/spec/group");
    let mut errs = validate_object_meta(
        crd.get("metadata"),
        false,
        NameRule::Dns1123Subdomain,
        "metadata",
    );
    let name = s(crd, "/metadata/name");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    errs.extend(spec(crd));
    errs.extend(names(
        crd.pointer("/status/acceptedNames"),
        "status.acceptedNames",
    ));
    if crd.pointer("/status/storedVersions").is_some() {
        errs.extend(stored_versions(crd));
    }
    errs.extend(api_approval(crd, None));
    errs.extend(preserve_unknown_fields(crd, None));
    errs
}

/// Validate a CustomResourceDefinition update: everything [`validate_definition`] checks on the
/// spec, plus `spec.group` and `spec.names.plural` immutable, `spec.scope` and
/// `spec.names.kind` immutable once the old object is Established, and `status.storedVersions`
/// (must be non-empty, contain the storage version, and only name versions in `spec.versions`).
/// Metadata update rules are the caller's generic ObjectMeta update checks.
pub fn validate_definition_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = spec(new);
    let established = arr(old, "/status/conditions").iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Established")
            && c.get("status").and_then(Value::as_str) == Some("True")
    });
    let mut immutable = |ptr: &str, field: &str| {
        let (n, o) = (new.pointer(ptr), old.pointer(ptr));
        if n != o {
            errs.push(FieldError::invalid(
                field,
                n.cloned().unwrap_or(Value::Null),
                FIELD_IMMUTABLE,
            ));
        }
    };
    if established {
        immutable("/spec/scope", "spec.scope");
        immutable("/spec/names/kind", "spec.names.kind");
    }
    immutable("/spec/group", "spec.group");
    immutable("/spec/names/plural", "spec.names.plural");
    errs.extend(names(
        new.pointer("/status/acceptedNames"),
        "status.acceptedNames",
    ));
    errs.extend(stored_versions(new));
    errs.extend(api_approval(new, Some(old)));
    errs.extend(preserve_unknown_fields(new, Some(old)));
    errs
}

/// The v1 defaults upstream applies before validation: `names.singular` = lowercase kind,
/// `names.listKind` = kind + "List", `conversion.strategy` = None.
pub fn apply_definition_defaults(crd: &mut Value) {
    let kind = s(crd, "/spec/names/kind").to_string();
    if let Some(Value::Object(names)) = crd.pointer_mut("/spec/names") {
        if names
            .get("singular")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            names.insert("singular".into(), Value::from(kind.to_lowercase()));
        }
        if !kind.is_empty()
            && names
                .get("listKind")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            names.insert("listKind".into(), Value::from(format!("{kind}List")));
        }
    }
    if let Some(Value::Object(spec)) = crd.get_mut("spec") {
        let conv = spec
            .entry("conversion")
            .or_insert_with(|| serde_json::json!({}));
        if let Value::Object(c) = conv {
            c.entry("strategy").or_insert_with(|| Value::from("None"));
        }
    }
}

/// The value of `ptr` in every version if all versions have the same, non-null one.
fn identical<'a>(versions: &'a [Value], ptr: &str) -> Option<&'a Value> {
    let first = versions.first()?.pointer(ptr).filter(|v| !v.is_null())?;
    versions
        .iter()
        .all(|v| v.pointer(ptr) == Some(first))
        .then_some(first)
}

fn spec(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = s(crd, "/spec/group");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let problems = is_dns1123_subdomain(group);
        if !problems.is_empty() {
            errs.push(FieldError::invalid("spec.group", group, problems.join(",")));
        } else if group.split('.').count() < 2 {
            errs.push(FieldError::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match s(crd, "/spec/scope") {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = arr(crd, "/spec/versions");
    let top_schema = identical(versions, "/schema/openAPIV3Schema");
    let top_subresources = identical(versions, "/subresources");
    let top_columns = identical(versions, "/additionalPrinterColumns")
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()));
    if top_schema.is_none() {
        for (i, v) in versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema")
                .is_none_or(Value::is_null)
            {
                errs.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            }
        }
    }
    let has_status = |sub: Option<&Value>| {
        sub.and_then(|x| x.get("status"))
            .is_some_and(|x| !x.is_null())
    };
    let mut storage = 0;
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let vp = format!("spec.versions[{i}]");
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        if !seen.insert(name) {
            unique = false;
        }
        let problems = is_dns1035_label(name);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                child(&vp, "name"),
                name,
                problems.join(","),
            ));
        }
        // validateCustomResourceDefinitionVersion
        let deprecated = v.get("deprecated").and_then(Value::as_bool) == Some(true);
        if let Some(w) = v.get("deprecationWarning").and_then(Value::as_str) {
            let dp = child(&vp, "deprecationWarning");
            if !deprecated {
                errs.push(FieldError::invalid(
                    dp.clone(),
                    w,
                    "can only be set for deprecated versions",
                ));
            } else {
                if w.len() > 256 {
                    errs.push(FieldError::invalid(
                        dp.clone(),
                        w,
                        "must be <= 256 characters long",
                    ));
                }
                if w.is_empty() {
                    errs.push(FieldError::invalid(
                        dp.clone(),
                        w,
                        "must not be an empty string",
                    ));
                }
            }
        }
        let sub = if top_subresources.is_some() {
            top_subresources
        } else {
            v.get("subresources")
        };
        if top_schema.is_none()
            && let Some(sc) = v
                .pointer("/schema/openAPIV3Schema")
                .filter(|x| !x.is_null())
        {
            errs.extend(schema(sc, &child(&vp, "schema"), has_status(sub)));
        }
        if top_subresources.is_none() {
            errs.extend(subresources(
                v.get("subresources"),
                &child(&vp, "subresources"),
            ));
        }
        if top_columns.is_none() {
            for (j, c) in arr(v, "/additionalPrinterColumns").iter().enumerate() {
                errs.extend(column(
                    c,
                    &index(&child(&vp, "additionalPrinterColumns"), j),
                ));
            }
        }
    }
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(versions.to_vec()),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(versions.to_vec()),
            "must have exactly one version marked as storage version",
        ));
    }
    for f in ["plural", "singular", "kind", "listKind"] {
        if s(crd, &format!("/spec/names/{f}")).is_empty() {
            errs.push(FieldError::required(format!("spec.names.{f}"), ""));
        }
    }
    errs.extend(names(crd.pointer("/spec/names"), "spec.names"));
    if let Some(sc) = top_schema {
        let any_status = has_status(top_subresources)
            || versions.iter().any(|v| has_status(v.get("subresources")));
        errs.extend(schema(sc, "spec.validation", any_status));
    }
    if top_subresources.is_some() {
        errs.extend(subresources(top_subresources, "spec.subresources"));
    }
    if let Some(cols) = top_columns.and_then(Value::as_array) {
        for (j, c) in cols.iter().enumerate() {
            errs.extend(column(c, &index("spec.additionalPrinterColumns", j)));
        }
    }
    errs.extend(conversion(crd.pointer("/spec/conversion")));
    errs
}

/// `validateCustomResourceDefinitionValidation` for one schema at `p` (`spec.validation` or
/// `spec.versions[i].schema`).
fn schema(sc: &Value, p: &str, status_enabled: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let sp = child(p, "openAPIV3Schema");
    if status_enabled && let Some(m) = sc.as_object() {
        for (k, v) in m {
            let empty = match v {
                Value::Null => true,
                Value::Bool(b) => !b,
                Value::String(x) => x.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Number(_) => false,
            };
            if empty {
                continue;
            }
            if k == "type" {
                if v.as_str() != Some("object") {
                    errs.push(FieldError::invalid(
                        child(&sp, "type"),
                        v.clone(),
                        "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
                    ));
                    break;
                }
                continue;
            }
            if !ALLOWED_AT_ROOT_WITH_STATUS.contains(&k.as_str()) {
                errs.push(FieldError::invalid(
                    sp.clone(),
                    sc.clone(),
                    format!("only {ALLOWED_AT_ROOT_GO_NAMES} fields are allowed at the root of the schema if the status subresource is enabled"),
                ));
                break;
            }
        }
    }
    if let Err(e) = Schema::compile_at(sc, &sp) {
        errs.extend(e);
    }
    errs
}

/// `ValidateCustomResourceDefinitionNames`.
fn names(n: Option<&Value>, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(n) = n else { return errs };
    let get = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("");
    for f in ["plural", "singular"] {
        let v = get(f);
        let problems = is_dns1035_label(v);
        if !v.is_empty() && !problems.is_empty() {
            errs.push(FieldError::invalid(child(p, f), v, problems.join(",")));
        }
    }
    for f in ["kind", "listKind"] {
        let v = get(f);
        let problems = is_dns1035_label(&v.to_lowercase());
        if !v.is_empty() && !problems.is_empty() {
            errs.push(FieldError::invalid(
                child(p, f),
                v,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    problems.join(",")
                ),
            ));
        }
    }
    for (i, sn) in arr(n, "/shortNames").iter().enumerate() {
        let v = sn.as_str().unwrap_or("");
        let problems = is_dns1035_label(v);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                index(&child(p, "shortNames"), i),
                v,
                problems.join(","),
            ));
        }
    }
    if !get("kind").is_empty() && get("kind") == get("listKind") {
        errs.push(FieldError::invalid(
            child(p, "listKind"),
            get("listKind"),
            "kind and listKind may not be the same",
        ));
    }
    for (i, c) in arr(n, "/categories").iter().enumerate() {
        let v = c.as_str().unwrap_or("");
        let problems = is_dns1035_label(v);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                index(&child(p, "categories"), i),
                v,
                problems.join(","),
            ));
        }
    }
    errs
}

fn simple_json_path(v: &str, p: &str) -> Vec<FieldError> {
    if v.is_empty() {
        vec![FieldError::invalid(p, v, "must not be empty")]
    } else if !v.starts_with('.') {
        vec![FieldError::invalid(
            p,
            v,
            "must be a simple json path starting with .",
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateCustomResourceDefinitionSubresources`.
fn subresources(sub: Option<&Value>, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(scale) = sub.and_then(|x| x.get("scale")).filter(|x| !x.is_null()) else {
        return errs;
    };
    for (f, prefix, under) in [
        (
            "specReplicasPath",
            ".spec.",
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            ".status.",
            "should be a json path under .status",
        ),
    ] {
        let fp = child(p, &format!("scale.{f}"));
        let v = scale.get(f).and_then(Value::as_str).unwrap_or("");
        if v.is_empty() {
            errs.push(FieldError::required(fp, ""));
        } else {
            let e = simple_json_path(v, &fp);
            if !e.is_empty() {
                errs.extend(e);
            } else if !v.starts_with(prefix) {
                errs.push(FieldError::invalid(fp, v, under));
            }
        }
    }
    if let Some(v) = scale
        .get("labelSelectorPath")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    {
        let fp = child(p, "scale.labelSelectorPath");
        let e = simple_json_path(v, &fp);
        if !e.is_empty() {
            errs.extend(e);
        } else if !v.starts_with(".spec.") && !v.starts_with(".status.") {
            errs.push(FieldError::invalid(
                fp,
                v,
                "should be a json path under either .spec or .status",
            ));
        }
    }
    errs
}

/// `ValidateCustomResourceColumnDefinition`.
fn column(c: &Value, p: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    if get("name").is_empty() {
        errs.push(FieldError::required(child(p, "name"), ""));
    }
    let types = format!("must be one of {}", PRINTER_COLUMN_TYPES.join(","));
    match get("type") {
        "" => errs.push(FieldError::required(child(p, "type"), types)),
        t if !PRINTER_COLUMN_TYPES.contains(&t) => {
            errs.push(FieldError::invalid(child(p, "type"), t, types))
        }
        _ => {}
    }
    let f = get("format");
    if !f.is_empty() && !PRINTER_COLUMN_FORMATS.contains(&f) {
        errs.push(FieldError::invalid(
            child(p, "format"),
            f,
            format!("must be one of {}", PRINTER_COLUMN_FORMATS.join(",")),
        ));
    }
    let jp = get("jsonPath");
    if jp.is_empty() {
        errs.push(FieldError::required(child(p, "JSONPath"), ""));
    } else {
        errs.extend(simple_json_path(jp, &child(p, "JSONPath")));
    }
    errs
}

fn conversion(c: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return errs;
    };
    let strategy = c.get("strategy").and_then(Value::as_str).unwrap_or("");
    match strategy {
        "" => errs.push(FieldError::required("spec.conversion.strategy", "")),
        "None" | "Webhook" => {}
        other => errs.push(FieldError::not_supported(
            "spec.conversion.strategy",
            other,
            &["None", "Webhook"],
        )),
    }
    let webhook = c.get("webhook").filter(|w| !w.is_null());
    if strategy == "Webhook" {
        let cc = webhook
            .and_then(|w| w.get("clientConfig"))
            .filter(|x| !x.is_null());
        match cc {
            None => errs.push(FieldError::required(
                "spec.conversion.webhookClientConfig",
                "required when strategy is set to Webhook",
            )),
            Some(cc) => {
                let has_url = cc.get("url").is_some_and(|x| !x.is_null());
                let has_svc = cc.get("service").is_some_and(|x| !x.is_null());
                if has_url == has_svc {
                    errs.push(FieldError::required(
                        "spec.conversion.webhookClientConfig",
                        "exactly one of url or service is required",
                    ));
                }
            }
        }
        let crv = webhook
            .map(|w| arr(w, "/conversionReviewVersions"))
            .unwrap_or(&[]);
        if crv.is_empty() {
            errs.push(FieldError::required(
                "spec.conversion.conversionReviewVersions",
                "",
            ));
        } else if !crv
            .iter()
            .any(|v| matches!(v.as_str(), Some("v1" | "v1beta1")))
        {
            errs.push(FieldError::invalid(
                "spec.conversion.conversionReviewVersions",
                Value::Array(crv.to_vec()),
                "must include at least one of v1, v1beta1",
            ));
        }
    } else if let Some(w) = webhook {
        if w.get("clientConfig").is_some_and(|x| !x.is_null()) {
            errs.push(FieldError::forbidden(
                "spec.conversion.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if !arr(w, "/conversionReviewVersions").is_empty() {
            errs.push(FieldError::forbidden(
                "spec.conversion.conversionReviewVersions",
                "should not be set when strategy is not set to Webhook",
            ));
        }
    }
    errs
}

/// `ValidateCustomResourceDefinitionStoredVersions`.
fn stored_versions(crd: &Value) -> Vec<FieldError> {
    let p = "status.storedVersions";
    let stored = arr(crd, "/status/storedVersions");
    if stored.is_empty() {
        return vec![FieldError::invalid(
            p,
            Value::Array(Vec::new()),
            "must have at least one stored version",
        )];
    }
    let mut errs = Vec::new();
    let versions = arr(crd, "/spec/versions");
    let vname = |v: &Value| {
        v.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for v in versions {
        let name = vname(v);
        if v.get("storage").and_then(Value::as_bool) == Some(true)
            && !stored.iter().any(|x| x.as_str() == Some(name.as_str()))
        {
            errs.push(FieldError::invalid(
                p,
                Value::Array(stored.to_vec()),
                format!("must have the storage version {name}"),
            ));
        }
    }
    for (i, x) in stored.iter().enumerate() {
        let x = x.as_str().unwrap_or("");
        if !versions.iter().any(|v| vname(v) == x) {
            errs.push(FieldError::invalid(
                index(p, i),
                x,
                format!("missing from spec.versions; {x} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {x} and removes {x} from status.storedVersions"),
            ));
        }
    }
    errs
}

const APPROVAL: &str = "api-approved.kubernetes.io";

/// `validateAPIApproval`: groups under k8s.io / kubernetes.io need the approval annotation.
fn api_approval(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let group = s(crd, "/spec/group");
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|d| group == *d || group.ends_with(&format!(".{d}")));
    if !protected {
        return Vec::new();
    }
    let ann = |o: &Value| {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(APPROVAL))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let new_ann = ann(crd);
    if let Some(old) = old
        && ann(old) == new_ann
    {
        return Vec::new();
    }
    let fp = key("metadata.annotations", APPROVAL);
    match new_ann {
        None => vec![FieldError::required(
            fp,
            format!(
                "protected groups must have approval annotation {APPROVAL:?}, see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )],
        Some(v)
            if v.starts_with("unapproved")
                || v.starts_with("https://")
                || v.starts_with("http://") =>
        {
            Vec::new()
        }
        Some(v) => vec![FieldError::invalid(
            fp,
            v,
            "protected groups must have approval annotation \"api-approved.kubernetes.io\" with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111",
        )],
    }
}

/// `validatePreserveUnknownFields`: v1 CRDs may not set `spec.preserveUnknownFields: true`.
fn preserve_unknown_fields(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let t = |o: &Value| o.pointer("/spec/preserveUnknownFields") == Some(&Value::Bool(true));
    if old.is_some_and(t) || !t(crd) {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "spec.preserveUnknownFields",
        true,
        "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
    )]
}
