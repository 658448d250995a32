//! The OpenAPI document, generated from the handlers, and its browsable UI
//! (Swagger UI's assets are compiled in, so it works without internet).

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{
    analytics, auth, chat, commerce, console, images, logs, products, recommend, reviews, shops,
    site, system,
};
use crate::health;
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bazaar API",
        description = "The multi-vendor marketplace's public API. Every error has the same JSON envelope."
    ),
    paths(
        site::list_categories,
        site::get_category,
        site::create_category,
        site::replace_category,
        site::delete_category,
        site::get_site,
        site::update_site,
        health::healthz,
        health::readyz,
        auth::register_user,
        auth::register_seller,
        auth::verify,
        auth::resend,
        auth::login,
        auth::logout,
        auth::refresh,
        auth::forgot_password,
        auth::reset_password,
        auth::change_password,
        auth::me,
        auth::update_me,
        auth::list_addresses,
        auth::create_address,
        auth::update_address,
        auth::delete_address,
        auth::add_admin,
        images::upload,
        system::system,
    ),
    components(schemas(
        bazaar_subjects::ErrorEnvelope,
        bazaar_subjects::FieldError,
        bazaar_subjects::ErrorCode
    ))
)]
pub struct ApiDoc;

/// The whole document: this one plus each area's own.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(shops::Doc::openapi());
    doc.merge(products::Doc::openapi());
    doc.merge(commerce::Doc::openapi());
    doc.merge(reviews::Doc::openapi());
    doc.merge(recommend::Doc::openapi());
    doc.merge(chat::Doc::openapi());
    doc.merge(logs::Doc::openapi());
    doc.merge(analytics::Doc::openapi());
    doc.merge(console::Doc::openapi());
    EdgeRefusals.modify(&mut doc);
    doc
}

/// The refusals any API operation can give before its handler decides
/// anything, documented on every operation they apply to: the general rate
/// limit (429), a token that is invalid or expired (401, from whichever node
/// serves the call), a parameter that does not parse (400) and, for
/// operations with a body, a body that is not JSON or not the JSON the
/// operation reads (400, 413, 415, 422). Each is the error envelope.
struct EdgeRefusals;

impl Modify for EdgeRefusals {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                refuse(op, 401, "the access token is invalid or has expired");
                refuse(
                    op,
                    429,
                    "too many requests from this address: try again after `Retry-After` seconds",
                );
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    refuse(op, 400, "a parameter is malformed");
                }
                if op.request_body.is_some() {
                    refuse(op, 400, "the body is malformed");
                    refuse(op, 413, "the body is too large");
                    refuse(
                        op,
                        415,
                        "the body's content type is not the one the operation reads",
                    );
                    refuse(
                        op,
                        422,
                        "the body does not have the fields and values the operation reads",
                    );
                }
            }
        }
    }
}

/// Documents `status` as an error envelope on `op`, unless it already is.
fn refuse(op: &mut Operation, status: u16, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                        .build(),
                )
                .build()
                .into()
        });
}

pub fn routes() -> Router<EdgeState> {
    Router::new().merge(SwaggerUi::new("/api-docs").url("/api-docs/openapi.json", document()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_operation_documents_the_refusals_the_edge_gives() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let api = paths.iter().filter(|(path, _)| path.starts_with("/api/"));
        let mut operations = 0;
        for (path, item) in api {
            for method in ["get", "put", "post", "patch", "delete"] {
                let Some(op) = item.get(method) else {
                    continue;
                };
                operations += 1;
                let mut expected = vec!["401", "429"];
                if op.get("requestBody").is_some() {
                    expected.extend(["400", "413", "415", "422"]);
                }
                for status in expected {
                    let schema = &op["responses"][status]["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/ErrorEnvelope",
                        "{method} {path} does not document its {status}"
                    );
                }
            }
        }
        assert!(operations > 80, "only {operations} operations documented");
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(m) => {
                    out.extend(m.get("$ref").and_then(|r| r.as_str()));
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(document()).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} names no schema in the document"
            );
        }
    }
}
