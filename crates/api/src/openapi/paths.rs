//! The REST operations of each served resource, as upstream's OpenAPI documents list them,
//! rendered in v3 and Swagger 2.0 form.

use serde_json::{Map, Value, json};

use crate::registry::{self, ResourceInfo};
use crate::schema::{Gvk, Schemas};

/// One parameter of an operation or path.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    /// `query` or `path`.
    pub location: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// `string`, `boolean` or `integer`.
    pub ty: &'static str,
}

/// One operation (HTTP method) of a path.
#[derive(Clone, Debug)]
pub struct Operation {
    /// `get`, `put`, `post`, `patch`, `delete`.
    pub method: &'static str,
    /// `x-kubernetes-action`: get, list, post, put, patch, delete, deletecollection.
    pub action: &'static str,
    pub id: String,
    pub description: String,
    pub tag: String,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub params: Vec<Param>,
    /// The request body's definition name.
    pub body: Option<String>,
    /// The body is a patch (Patch definition, patch content types).
    pub patch: bool,
    /// The patch content types include strategic merge patch (built-ins; custom resources
    /// take JSON, merge and apply patches only, and kubectl picks its patch type by this).
    pub strategic: bool,
    /// Status codes and their response definitions.
    pub responses: Vec<(u16, Option<String>)>,
}

/// One path with its path-level parameters and operations.
#[derive(Clone, Debug)]
pub struct PathItem {
    pub path: String,
    pub params: Vec<Param>,
    pub operations: Vec<Operation>,
}

const fn q(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: "query",
        description,
        required: false,
        ty,
    }
}

const PRETTY: Param = q(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
);
const DRY_RUN: Param = q(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: Param = q(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
);
const FIELD_MANAGER_PATCH: Param = q(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).",
);
const FIELD_VALIDATION: Param = q(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
);
const FORCE: Param = q(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const ALLOW_WATCH_BOOKMARKS: Param = q(
    "allowWatchBookmarks",
    "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
);
const CONTINUE: Param = q(
    "continue",
    "string",
    "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize.",
);
const FIELD_SELECTOR: Param = q(
    "fieldSelector",
    "string",
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
const LABEL_SELECTOR: Param = q(
    "labelSelector",
    "string",
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
const LIMIT: Param = q(
    "limit",
    "integer",
    "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.",
);
const RESOURCE_VERSION: Param = q(
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
);
const RESOURCE_VERSION_MATCH: Param = q(
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
);
const SEND_INITIAL_EVENTS: Param = q(
    "sendInitialEvents",
    "boolean",
    "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event will be sent.",
);
const TIMEOUT_SECONDS: Param = q(
    "timeoutSeconds",
    "integer",
    "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
);
const WATCH: Param = q(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
);
const GRACE_PERIOD_SECONDS: Param = q(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
);
const ORPHAN_DEPENDENTS: Param = q(
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
);
const PROPAGATION_POLICY: Param = q(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
);
const NAMESPACE: Param = Param {
    name: "namespace",
    location: "path",
    description: "object name and auth scope, such as for teams and projects",
    required: true,
    ty: "string",
};

/// The `{name}` path parameter (upstream names the kind; kubectl does not read it).
const NAME: Param = Param {
    name: "name",
    location: "path",
    description: "name of the resource",
    required: true,
    ty: "string",
};

/// `AppsV1`, `CoreV1`, `RbacAuthorizationV1`: the group-version part of operation ids.
fn id_infix(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    let group = group.strip_suffix(".k8s.io").unwrap_or(group);
    let mut out = String::new();
    for part in group.split('.') {
        out.push_str(&capitalize(part));
    }
    out.push_str(&capitalize(version));
    out
}

/// `apps_v1`, `core_v1`, `rbacAuthorization_v1`: the operation tag.
fn tag(group: &str, version: &str) -> String {
    let infix = id_infix(group, version);
    let cap_version = capitalize(version);
    let g = infix.strip_suffix(&cap_version).unwrap_or(&infix);
    let mut chars = g.chars();
    let lower: String = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

struct Ctx {
    res: &'static ResourceInfo,
    infix: String,
    scope: &'static str,
    tag: String,
    list_def: Option<String>,
    strategic: bool,
}

impl Ctx {
    fn op(
        &self,
        method: &'static str,
        action: &'static str,
        verb: &str,
        suffix: &str,
        description: String,
    ) -> Operation {
        Operation {
            method,
            action,
            id: format!(
                "{verb}{}{}{}{suffix}",
                self.infix, self.scope, self.res.kind
            ),
            description,
            tag: self.tag.clone(),
            group: self.res.group,
            version: self.res.version,
            kind: self.res.kind,
            params: Vec::new(),
            body: None,
            patch: false,
            strategic: self.strategic,
            responses: Vec::new(),
        }
    }
}

/// The paths and operations of one group-version's resources.
pub fn operations(schemas: &Schemas, group: &str, version: &str) -> Vec<PathItem> {
    let mut out = Vec::new();
    for res in registry::resources_of(group, version) {
        let Some(kind_def) = schemas.kind_type(res.into()).map(str::to_string) else {
            continue;
        };
        let list_kind = format!("{}List", res.kind);
        let list_def = schemas
            .kind_type(Gvk::new(res.group, res.version, &list_kind))
            .map(str::to_string);
        resource_operations(res, &kind_def, list_def, true, &mut out);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The paths and operations of one resource — built-in or custom — whose kind is the
/// definition `kind_def` and its list `list_def`, appended to `out` (unsorted). `strategic`:
/// PATCH accepts strategic merge patches (built-ins do, custom resources do not).
pub fn resource_operations(
    res: &'static ResourceInfo,
    kind_def: &str,
    list_def: Option<String>,
    strategic: bool,
    out: &mut Vec<PathItem>,
) {
    let kind_def = kind_def.to_string();
    let (group, version) = (res.group, res.version);
    let base = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let status_def = "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string();
    let delete_options = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".to_string();
    let patch_def = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".to_string();
    let ctx = Ctx {
        res,
        infix: id_infix(res.group, res.version),
        scope: if res.namespaced { "Namespaced" } else { "" },
        tag: tag(res.group, res.version),
        list_def,
        strategic,
    };
    let ns_seg = if res.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{base}{ns_seg}/{}", res.plural);
    let mut path_params = Vec::new();
    if res.namespaced {
        path_params.push(NAMESPACE);
    }
    path_params.push(PRETTY);

    // The collection: list, create, deletecollection.
    let mut ops = Vec::new();
    let list_params = || {
        vec![
            ALLOW_WATCH_BOOKMARKS,
            CONTINUE,
            FIELD_SELECTOR,
            LABEL_SELECTOR,
            LIMIT,
            RESOURCE_VERSION,
            RESOURCE_VERSION_MATCH,
            SEND_INITIAL_EVENTS,
            TIMEOUT_SECONDS,
            WATCH,
        ]
    };
    if res.has_verb("list") {
        let mut op = ctx.op(
            "get",
            "list",
            "list",
            "",
            format!("list or watch objects of kind {}", res.kind),
        );
        op.params = list_params();
        op.responses = vec![(200, ctx.list_def.clone()), (401, None)];
        ops.push(op);
    }
    if res.has_verb("create") {
        let mut op = ctx.op(
            "post",
            "post",
            "create",
            "",
            format!("create a {}", res.kind),
        );
        op.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
        op.body = Some(kind_def.clone());
        op.responses = vec![
            (200, Some(kind_def.clone())),
            (201, Some(kind_def.clone())),
            (202, Some(kind_def.clone())),
            (401, None),
        ];
        ops.push(op);
    }
    if res.has_verb("deletecollection") {
        let mut op = ctx.op(
            "delete",
            "deletecollection",
            "delete",
            "",
            format!("delete collection of {}", res.kind),
        );
        op.id = format!("delete{}Collection{}{}", ctx.infix, ctx.scope, res.kind);
        op.params = vec![
            CONTINUE,
            DRY_RUN,
            FIELD_SELECTOR,
            GRACE_PERIOD_SECONDS,
            LABEL_SELECTOR,
            LIMIT,
            ORPHAN_DEPENDENTS,
            PROPAGATION_POLICY,
            RESOURCE_VERSION,
            RESOURCE_VERSION_MATCH,
            SEND_INITIAL_EVENTS,
            TIMEOUT_SECONDS,
        ];
        op.body = Some(delete_options.clone());
        op.responses = vec![(200, Some(status_def.clone())), (401, None)];
        ops.push(op);
    }
    if !ops.is_empty() {
        out.push(PathItem {
            path: collection.clone(),
            params: path_params.clone(),
            operations: ops,
        });
    }

    // One object: read, replace, patch, delete.
    let mut item_params = vec![NAME];
    item_params.extend(path_params.iter().cloned());
    let item = format!("{collection}/{{name}}");
    let mut ops = Vec::new();
    let object_ops = |ops: &mut Vec<Operation>, suffix: &str, what: &str, def: &str| {
        let mut op = ctx.op(
            "get",
            "get",
            "read",
            suffix,
            format!("read {what} of the specified {}", res.kind),
        );
        op.responses = vec![(200, Some(def.to_string())), (401, None)];
        ops.push(op);
        let mut op = ctx.op(
            "put",
            "put",
            "replace",
            suffix,
            format!("replace {what} of the specified {}", res.kind),
        );
        op.params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
        op.body = Some(def.to_string());
        op.responses = vec![
            (200, Some(def.to_string())),
            (201, Some(def.to_string())),
            (401, None),
        ];
        ops.push(op);
        let mut op = ctx.op(
            "patch",
            "patch",
            "patch",
            suffix,
            format!("partially update {what} of the specified {}", res.kind),
        );
        op.params = vec![DRY_RUN, FIELD_MANAGER_PATCH, FIELD_VALIDATION, FORCE];
        op.body = Some(patch_def.clone());
        op.patch = true;
        op.responses = vec![
            (200, Some(def.to_string())),
            (201, Some(def.to_string())),
            (401, None),
        ];
        ops.push(op);
    };
    if res.has_verb("get") {
        object_ops(&mut ops, "", "the", &kind_def);
    }
    if res.has_verb("delete") {
        let mut op = ctx.op(
            "delete",
            "delete",
            "delete",
            "",
            format!("delete a {}", res.kind),
        );
        op.params = vec![
            DRY_RUN,
            GRACE_PERIOD_SECONDS,
            ORPHAN_DEPENDENTS,
            PROPAGATION_POLICY,
        ];
        op.body = Some(delete_options.clone());
        op.responses = vec![
            (200, Some(status_def.clone())),
            (202, Some(status_def.clone())),
            (401, None),
        ];
        ops.push(op);
    }
    if !ops.is_empty() {
        out.push(PathItem {
            path: item.clone(),
            params: item_params.clone(),
            operations: ops,
        });
    }
    if res.status {
        let mut ops = Vec::new();
        object_ops(&mut ops, "Status", "status", &kind_def);
        out.push(PathItem {
            path: format!("{item}/status"),
            params: item_params.clone(),
            operations: ops,
        });
    }
    if res.scale {
        let scale = "io.k8s.api.autoscaling.v1.Scale";
        let mut ops = Vec::new();
        object_ops(&mut ops, "Scale", "scale", scale);
        for op in &mut ops {
            op.group = "autoscaling";
            op.version = "v1";
            op.kind = "Scale";
        }
        out.push(PathItem {
            path: format!("{item}/scale"),
            params: item_params.clone(),
            operations: ops,
        });
    }
    // Listing across namespaces.
    if res.namespaced && res.has_verb("list") {
        let mut op = ctx.op(
            "get",
            "list",
            "list",
            "ForAllNamespaces",
            format!("list or watch objects of kind {}", res.kind),
        );
        op.id = format!("list{}{}ForAllNamespaces", ctx.infix, res.kind);
        op.responses = vec![(200, ctx.list_def.clone()), (401, None)];
        let mut params = list_params();
        params.push(PRETTY);
        out.push(PathItem {
            path: format!("{base}/{}", res.plural),
            params,
            operations: vec![op],
        });
    }
}

const RESPONSE_TYPES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
/// The patch types of a custom resource, as apiextensions-apiserver's builder lists them.
const CUSTOM_PATCH_TYPES: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
const PATCH_TYPES: [&str; 4] = [
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

fn description_of(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "",
    }
}

fn gvk_value(op: &Operation) -> Value {
    json!({"group": op.group, "kind": op.kind, "version": op.version})
}

impl Param {
    fn to_v3(&self) -> Value {
        let mut p = json!({
            "description": self.description,
            "in": self.location,
            "name": self.name,
            "schema": {"type": self.ty, "uniqueItems": true},
        });
        if self.required {
            p["required"] = json!(true);
        }
        p
    }
    fn to_v2(&self) -> Value {
        let mut p = json!({
            "uniqueItems": true,
            "type": self.ty,
            "description": self.description,
            "name": self.name,
            "in": self.location,
        });
        if self.required {
            p["required"] = json!(true);
        }
        p
    }
}

impl Operation {
    fn to_v3(&self) -> Value {
        let r = |name: &str| json!({"$ref": format!("{}{name}", super::V3_REF_PREFIX)});
        let mut responses = Map::new();
        for (code, def) in &self.responses {
            let mut resp = json!({"description": description_of(*code)});
            if let Some(def) = def {
                let mut content = Map::new();
                for ct in RESPONSE_TYPES {
                    content.insert(ct.into(), json!({"schema": r(def)}));
                }
                resp["content"] = Value::Object(content);
            }
            responses.insert(code.to_string(), resp);
        }
        let mut op = json!({
            "description": self.description,
            "operationId": self.id,
            "responses": responses,
            "tags": [self.tag],
            "x-kubernetes-action": self.action,
            "x-kubernetes-group-version-kind": gvk_value(self),
        });
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params.iter().map(Param::to_v3).collect());
        }
        if let Some(body) = &self.body {
            let types: &[&str] = match (self.patch, self.strategic) {
                (true, true) => &PATCH_TYPES,
                (true, false) => &CUSTOM_PATCH_TYPES,
                (false, _) => &["*/*"],
            };
            let mut content = Map::new();
            for ct in types {
                content.insert((*ct).into(), json!({"schema": r(body)}));
            }
            op["requestBody"] = json!({"content": content, "required": !self.method.eq("delete")});
        }
        op
    }

    fn to_v2(&self) -> Value {
        let r = |name: &str| json!({"$ref": format!("{}{name}", crate::schema::REF_PREFIX)});
        let mut responses = Map::new();
        for (code, def) in &self.responses {
            let mut resp = json!({"description": description_of(*code)});
            if let Some(def) = def {
                resp["schema"] = r(def);
            }
            responses.insert(code.to_string(), resp);
        }
        let mut params: Vec<Value> = Vec::new();
        if let Some(body) = &self.body {
            let mut b = json!({"name": "body", "in": "body", "schema": r(body)});
            if self.method != "delete" {
                b["required"] = json!(true);
            }
            params.push(b);
        }
        params.extend(self.params.iter().map(Param::to_v2));
        let consumes: Vec<&str> = if self.patch && self.strategic {
            PATCH_TYPES.to_vec()
        } else if self.patch {
            CUSTOM_PATCH_TYPES.to_vec()
        } else {
            vec!["*/*"]
        };
        let mut op = json!({
            "description": self.description,
            "consumes": consumes,
            "produces": RESPONSE_TYPES,
            "schemes": ["https"],
            "tags": [self.tag],
            "operationId": self.id,
            "responses": responses,
            "x-kubernetes-action": self.action,
            "x-kubernetes-group-version-kind": gvk_value(self),
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        op
    }
}

impl PathItem {
    /// The v3 path item.
    pub fn to_v3(&self) -> Value {
        let mut item = Map::new();
        for op in &self.operations {
            item.insert(op.method.into(), op.to_v3());
        }
        item.insert(
            "parameters".into(),
            Value::Array(self.params.iter().map(Param::to_v3).collect()),
        );
        Value::Object(item)
    }
    /// The Swagger 2.0 path item.
    pub fn to_v2(&self) -> Value {
        let mut item = Map::new();
        for op in &self.operations {
            item.insert(op.method.into(), op.to_v2());
        }
        item.insert(
            "parameters".into(),
            Value::Array(self.params.iter().map(Param::to_v2).collect()),
        );
        Value::Object(item)
    }
}
