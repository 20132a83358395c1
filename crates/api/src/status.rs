//! `metav1.Status` errors with upstream reasons, codes and causes.

use serde::Serialize;
use serde_json::Value;

/// The reason of a field-level validation failure, as upstream names it in `details.causes[].reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorType {
    /// The `reason` string of a Status cause.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
        }
    }
}

/// One validation failure at a field path, e.g. `spec.template.spec.containers[0].image`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorType,
    pub field: String,
    /// The offending value, shown for Invalid/NotSupported/Duplicate.
    pub value: Option<Value>,
    /// Extra detail (for Invalid: why; for NotSupported: the supported values).
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorType::Required,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: FieldErrorType::Invalid,
            field: field.into(),
            value: Some(value.into()),
            detail: detail.into(),
        }
    }
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            kind: FieldErrorType::NotSupported,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("supported values: {list}"),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            kind: FieldErrorType::Duplicate,
            field: field.into(),
            value: Some(value.into()),
            detail: String::new(),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorType::Forbidden,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }
    pub fn too_long(field: impl Into<String>, value: impl Into<Value>, max: usize) -> Self {
        Self {
            kind: FieldErrorType::TooLong,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// The message upstream prints for this error, without the field path
    /// (e.g. `Required value`, `Invalid value: "x": must be ...`).
    pub fn message(&self) -> String {
        let value = self.value.as_ref().map(render_value);
        let mut out = match self.kind {
            FieldErrorType::Required => "Required value".to_string(),
            FieldErrorType::Invalid => format!("Invalid value: {}", value.unwrap_or_default()),
            FieldErrorType::NotSupported => {
                format!("Unsupported value: {}", value.unwrap_or_default())
            }
            FieldErrorType::Duplicate => format!("Duplicate value: {}", value.unwrap_or_default()),
            FieldErrorType::Forbidden => "Forbidden".to_string(),
            FieldErrorType::TooLong => "Too long".to_string(),
            FieldErrorType::TooMany => "Too many".to_string(),
            FieldErrorType::NotFound => format!("Not found: {}", value.unwrap_or_default()),
        };
        if !self.detail.is_empty() {
            out.push_str(": ");
            out.push_str(&self.detail);
        }
        out
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Which object an error is about: `Deployment.apps "web"` in messages, `details` in the Status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    /// API group ("" for core).
    pub group: String,
    /// Resource plural for NotFound/AlreadyExists/Conflict, Kind for Invalid (as upstream).
    pub kind_or_resource: String,
    pub name: String,
}

impl Target {
    pub fn new(group: &str, kind_or_resource: &str, name: &str) -> Self {
        Self {
            group: group.to_string(),
            kind_or_resource: kind_or_resource.to_string(),
            name: name.to_string(),
        }
    }
    /// `pods` or `deployments.apps`.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind_or_resource.clone()
        } else {
            format!("{}.{}", self.kind_or_resource, self.group)
        }
    }
}

/// Every error the API returns to clients.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{}", not_found_message(.0))]
    NotFound(Target),
    /// 404 for something k3rs knows of but does not serve (yet): the message says why.
    #[error("{0}")]
    NotServed(String),
    #[error("{} {:?} already exists", .0.qualified(), .0.name)]
    AlreadyExists(Target),
    /// A write lost a race or carried a stale resourceVersion.
    #[error("Operation cannot be fulfilled on {} {:?}: {}", .target.qualified(), .target.name, .message)]
    Conflict { target: Target, message: String },
    /// Validation failed (422) with field causes.
    #[error("{}", invalid_message(.target, .causes))]
    Invalid {
        target: Target,
        causes: Vec<FieldError>,
    },
    /// Server-side apply conflicts (409): `causes` are (message, field) pairs, reported with
    /// reason `FieldManagerConflict` and no object details, as upstream's `NewApplyConflict`.
    #[error("{message}")]
    ApplyConflict {
        message: String,
        causes: Vec<(String, String)>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// 410 for a compacted resourceVersion or continue token.
    #[error("{0}")]
    Expired(String),
    /// 410 Gone (used by watch for a too old resourceVersion).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("Internal error occurred: {0}")]
    Internal(String),
    #[error("{0}")]
    ServiceUnavailable(String),
}

fn not_found_message(t: &Target) -> String {
    if t.name.is_empty() {
        "the server could not find the requested resource".to_string()
    } else {
        format!("{} {:?} not found", t.qualified(), t.name)
    }
}

fn invalid_message(t: &Target, causes: &[FieldError]) -> String {
    let head = format!("{} {:?} is invalid", t.qualified(), t.name);
    match causes {
        [] => head,
        [one] => format!("{head}: {one}"),
        many => format!(
            "{head}: [{}]",
            many.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ApiError {
    /// Shortcut for a 400 with a message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound(_) | Self::NotServed(_) => 404,
            Self::AlreadyExists(_) | Self::Conflict { .. } | Self::ApplyConflict { .. } => 409,
            Self::Invalid { .. } => 422,
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::MethodNotAllowed(_) => 405,
            Self::NotAcceptable(_) => 406,
            Self::UnsupportedMediaType(_) => 415,
            Self::RequestEntityTooLarge(_) => 413,
            Self::Expired(_) | Self::Gone(_) => 410,
            Self::Timeout(_) => 504,
            Self::TooManyRequests(_) => 429,
            Self::Internal(_) => 500,
            Self::ServiceUnavailable(_) => 503,
        }
    }

    /// The `reason` field upstream puts in the Status.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound(_) | Self::NotServed(_) => "NotFound",
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::Conflict { .. } | Self::ApplyConflict { .. } => "Conflict",
            Self::Invalid { .. } => "Invalid",
            Self::BadRequest(_) => "BadRequest",
            Self::Unauthorized(_) => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::MethodNotAllowed(_) => "MethodNotAllowed",
            Self::NotAcceptable(_) => "NotAcceptable",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            Self::Expired(_) => "Expired",
            Self::Gone(_) => "Gone",
            Self::Timeout(_) => "Timeout",
            Self::TooManyRequests(_) => "TooManyRequests",
            Self::Internal(_) => "InternalError",
            Self::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `metav1.Status` object for this error.
    pub fn to_status(&self) -> Status {
        let details = match self {
            Self::NotFound(t) | Self::AlreadyExists(t) | Self::Conflict { target: t, .. } => {
                Some(StatusDetails {
                    name: non_empty(&t.name),
                    group: non_empty(&t.group),
                    kind: non_empty(&t.kind_or_resource),
                    causes: Vec::new(),
                })
            }
            Self::Invalid { target: t, causes } => Some(StatusDetails {
                name: non_empty(&t.name),
                group: non_empty(&t.group),
                kind: non_empty(&t.kind_or_resource),
                causes: causes
                    .iter()
                    .map(|c| StatusCause {
                        reason: c.kind.reason().to_string(),
                        message: c.message(),
                        field: c.field.clone(),
                    })
                    .collect(),
            }),
            Self::ApplyConflict { causes, .. } => Some(StatusDetails {
                name: None,
                group: None,
                kind: None,
                causes: causes
                    .iter()
                    .map(|(message, field)| StatusCause {
                        reason: "FieldManagerConflict".to_string(),
                        message: message.clone(),
                        field: field.clone(),
                    })
                    .collect(),
            }),
            _ => None,
        };
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: serde_json::Map::new(),
            status: "Failure",
            message: self.to_string(),
            reason: self.reason(),
            details,
            code: self.code(),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `metav1.Status`; fields serialize in upstream's order.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: serde_json::Map<String, Value>,
    pub status: &'static str,
    pub message: String,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    pub code: u16,
}

/// `metav1.StatusDetails`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

/// `metav1.StatusCause`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusCause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// The Status a successful delete of a whole object returns when no object is returned.
pub fn success_status(details: Option<StatusDetails>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), "Status".into());
    m.insert("apiVersion".into(), "v1".into());
    m.insert("metadata".into(), Value::Object(Default::default()));
    m.insert("status".into(), "Success".into());
    if let Some(d) = details {
        m.insert(
            "details".into(),
            serde_json::to_value(d).unwrap_or_default(),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests;
