//! Query parameters of resource requests, parsed once into a typed value.

use k3rs_api::status::ApiError;

/// The query parameters k3rs understands (unknown ones are ignored, as upstream does).
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout_seconds: Option<u64>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// `force` (server-side apply: take conflicting fields).
    pub force: Option<bool>,
    /// The request's User-Agent (not a query parameter; set by the handler), which names the
    /// field manager of writes without `fieldManager`.
    pub user_agent: Option<String>,
    pub field_validation: Option<String>,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub verbose: bool,
}

fn parse_bool(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut q = Query::default();
        let Some(raw) = raw else { return Ok(q) };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        for (k, v) in pairs {
            match k.as_str() {
                "labelSelector" => q.label_selector = Some(v),
                "fieldSelector" => q.field_selector = Some(v),
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid value for limit: {v:?}"))
                    })?;
                    q.limit = (n > 0).then_some(n as usize);
                }
                "continue" => q.continue_token = (!v.is_empty()).then_some(v),
                "resourceVersion" => q.resource_version = (!v.is_empty()).then_some(v),
                "resourceVersionMatch" => q.resource_version_match = (!v.is_empty()).then_some(v),
                "watch" => q.watch = parse_bool(&v),
                "allowWatchBookmarks" => q.allow_watch_bookmarks = parse_bool(&v),
                "sendInitialEvents" => q.send_initial_events = parse_bool(&v),
                "timeoutSeconds" => {
                    q.timeout_seconds = Some(v.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid value for timeoutSeconds: {v:?}"))
                    })?)
                }
                "timeout" => {}
                "dryRun" => {
                    if v != "All" {
                        return Err(ApiError::bad_request(format!(
                            "Invalid dryRun value: {v:?}: supported values: \"All\""
                        )));
                    }
                    q.dry_run = true;
                }
                "fieldManager" => q.field_manager = Some(v),
                "force" => q.force = Some(parse_bool(&v)),
                "fieldValidation" => {
                    if !matches!(v.as_str(), "" | "Ignore" | "Warn" | "Strict") {
                        return Err(ApiError::bad_request(format!(
                            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
                        )));
                    }
                    q.field_validation = Some(v)
                }
                "propagationPolicy" => q.propagation_policy = Some(v),
                "gracePeriodSeconds" => {
                    q.grace_period_seconds = Some(v.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid value for gracePeriodSeconds: {v:?}"
                        ))
                    })?)
                }
                "verbose" => q.verbose = v.is_empty() || parse_bool(&v),
                _ => {}
            }
        }
        Ok(q)
    }
}
