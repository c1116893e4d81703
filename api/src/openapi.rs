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
    // Serializing a document of plain structs and maps cannot fail; an
    // empty object keeps the route answering if it ever did.
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
}
