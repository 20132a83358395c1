//! CustomResourceDefinitions: the pure schema logic of `apiextensions-apiserver`.
//!
//! - [`Schema`] is a compiled `spec.versions[].schema.openAPIV3Schema`: [`Schema::compile`] checks
//!   that it is a *structural* schema (upstream `pkg/apiserver/schema` and the OpenAPI checks of
//!   `pkg/apis/apiextensions/validation`) and builds it once, patterns included;
//!   [`Schema::prune`] drops undeclared fields (`pruning/algorithm.go`, plus the ObjectMeta
//!   coercion of root and embedded `metadata`), [`Schema::apply_defaults`] applies `default`s
//!   (`defaulting/algorithm.go`), [`Schema::validate`] validates a custom resource with the
//!   messages of kube-openapi's validator as `apiextensions-apiserver` converts them to field
//!   errors, plus `x-kubernetes-list-type` uniqueness and embedded-resource metadata.
//! - [`validate_definition`] / [`validate_definition_update`] validate a
//!   `CustomResourceDefinition` object (names, group, scope, versions, schemas, printer columns,
//!   subresources, storedVersions).
//! - [`json_path`] evaluates the JSONPath of `additionalPrinterColumns` (kubectl's subset).
//!
//! Nothing here does IO.

mod definition;
mod formats;
mod jsonpath;
mod prune;
pub(crate) mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use definition::{
    apply_definition_defaults, storage_version, validate_definition, validate_definition_update,
};
pub use jsonpath::{JsonPathError, json_path, json_path_all};
pub use schema::Schema;

pub(crate) use formats::formats_ok;

/// Field-path helpers shared by the submodules, formatted as upstream `field.Path` prints them.
pub(crate) mod path {
    /// `p.child` (`child` alone when `p` is empty).
    pub fn child(p: &str, name: &str) -> String {
        if p.is_empty() {
            name.to_string()
        } else {
            format!("{p}.{name}")
        }
    }
    /// `p[key]`.
    pub fn key(p: &str, key: &str) -> String {
        format!("{p}[{key}]")
    }
    /// `p[i]`.
    pub fn index(p: &str, i: usize) -> String {
        format!("{p}[{i}]")
    }
}
