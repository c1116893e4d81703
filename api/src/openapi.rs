//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the types' `ToSchema` derives: what the code does is what
//! the document says.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{health, jobs, schedules};

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chime API",
        description = "Manage the job definitions of Chime, a distributed cron orchestrator. \
            Every error is `{\"error\":{\"code\",\"message\",\"field\"}}`. \
            With tokens configured, send `Authorization: Bearer <token>`: reads need scope \
            `read`, changes need `write` (`admin` includes `write`, which includes `read`). \
            `/healthz`, `/readyz`, `/metrics` and `/openapi.json` are open."
    ),
    paths(
        jobs::create,
        jobs::list,
        jobs::get_job,
        jobs::replace,
        jobs::patch,
        jobs::delete,
        jobs::upsert,
        jobs::pause,
        jobs::resume,
        schedules::preview,
        health::healthz,
        health::readyz,
        health::metrics,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "jobs", description = "Job definitions"),
        (name = "schedules", description = "Schedule expressions"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub(crate) struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as JSON text.
pub(crate) fn document() -> String {
    let mut document = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(document) => document,
        // Serializing plain structs and maps cannot fail; an empty object
        // keeps the route answering if it ever did.
        Err(_) => return "{}".to_owned(),
    };
    inline_target_tags(&mut document);
    document.to_string()
}

/// The variants of the internally tagged `Target` and their tags.
const TARGET_VARIANTS: [(&str, &str); 3] = [
    ("shell", "ShellTarget"),
    ("http", "HttpTarget"),
    ("event", "EventTarget"),
];

/// utoipa renders the internally tagged `Target` as `allOf` of the variant
/// (which has `additionalProperties: false`) and an object holding `type`,
/// which no value can satisfy: the variant forbids `type`. This moves the
/// tag into each variant's own schema and points `oneOf` straight at them,
/// with a discriminator, which is what serde accepts.
fn inline_target_tags(document: &mut serde_json::Value) {
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for (tag, name) in TARGET_VARIANTS {
        let Some(variant) = schemas.get_mut(name).and_then(|v| v.as_object_mut()) else {
            continue;
        };
        if let Some(properties) = variant
            .get_mut("properties")
            .and_then(|p| p.as_object_mut())
        {
            properties.insert(
                "type".to_owned(),
                serde_json::json!({"type": "string", "enum": [tag]}),
            );
        }
        if let Some(required) = variant.get_mut("required").and_then(|r| r.as_array_mut()) {
            required.insert(0, serde_json::Value::String("type".to_owned()));
        } else {
            variant.insert("required".to_owned(), serde_json::json!(["type"]));
        }
    }
    if let Some(target) = schemas.get_mut("Target").and_then(|t| t.as_object_mut()) {
        let refs: Vec<serde_json::Value> = TARGET_VARIANTS
            .iter()
            .map(|(_, name)| serde_json::json!({"$ref": format!("#/components/schemas/{name}")}))
            .collect();
        let mapping: serde_json::Map<String, serde_json::Value> = TARGET_VARIANTS
            .iter()
            .map(|(tag, name)| {
                (
                    (*tag).to_owned(),
                    serde_json::Value::String(format!("#/components/schemas/{name}")),
                )
            })
            .collect();
        target.insert("oneOf".to_owned(), serde_json::Value::Array(refs));
        target.insert(
            "discriminator".to_owned(),
            serde_json::json!({"propertyName": "type", "mapping": mapping}),
        );
    }
}
