//! Types that exist only to describe the API in its OpenAPI document (`openapi` feature).

use serde::Serialize;

/// A field's value, or a tensor element: a number or a string.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FeatureValue {
    /// A number field (or a numeric tensor element).
    Number(f64),
    /// A category field (or a `BYTES` tensor element).
    Text(String),
}
