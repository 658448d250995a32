//! Images: uploaded by signed-in people, checked by their content (not their
//! name or claimed type), stored in the NATS Object Store with a thumbnail,
//! and served with long-lived cache headers (an image id never changes).

use std::io::Cursor;
use std::time::Duration;

use async_nats::jetstream::object_store::{ObjectMetadata, ObjectStore};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bazaar_subjects::auth::GetMe;
use bazaar_subjects::{Empty, ErrorEnvelope, FieldError};
use image::ImageFormat;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::error::ApiError;
use crate::extract::Meta;
use crate::state::EdgeState;

/// The largest image accepted.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Images larger than this in either dimension, or than this many pixels,
/// are refused before they are decoded (decompression bombs: a few hundred
/// KB of PNG can decode to a quarter GB).
const MAX_DIMENSION: u32 = 8000;
const MAX_PIXELS: u64 = 40_000_000;
/// Decodes running at once on this edge; more uploads wait their turn, so
/// a burst of large images cannot take all the memory.
const DECODES_AT_ONCE: usize = 2;

/// Decodes in flight on this edge (see [`DECODES_AT_ONCE`]).
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(DECODES_AT_ONCE);
const THUMB: u32 = 320;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route(
            "/api/images",
            post(upload).layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/images/{id}", get(serve))
}

/// The images' object store, opened on first use.
async fn object_store(s: &EdgeState) -> Result<&ObjectStore, ApiError> {
    s.inner
        .images
        .get_or_try_init(|| async {
            bazaar_runtime::jetstream::ensure_object_store(
                &s.inner.jetstream,
                bazaar_subjects::catalog::IMAGES_BUCKET,
            )
            .await
        })
        .await
        .map_err(|e| ApiError(bazaar_runtime::internal(e)))
}

/// A stored image.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub id: String,
    pub url: String,
    pub thumbnail_url: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

fn invalid(message: &str) -> ApiError {
    ApiError(ErrorEnvelope::validation(vec![FieldError {
        field: "file".into(),
        message: message.into(),
    }]))
}

/// What the bytes are, judged by their content; only web image types pass.
fn sniff(bytes: &[u8]) -> Result<(ImageFormat, &'static str), ApiError> {
    let format = image::guess_format(bytes)
        .map_err(|_| invalid("this is not an image (use JPEG, PNG, WebP or GIF)"))?;
    let mime = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        _ => return Err(invalid("use JPEG, PNG, WebP or GIF")),
    };
    Ok((format, mime))
}

/// An upload, decoded and cleaned: its size, the original to store
/// (re-encoded without metadata, so no camera or GPS data is published;
/// GIFs as sent, for their animation) and a JPEG thumbnail.
struct Decoded {
    width: u32,
    height: u32,
    original: Option<Vec<u8>>,
    thumb: Vec<u8>,
}

/// Decodes (proving the file is whole): the header first, so a small file
/// that would decode to a huge bitmap is refused before any pixel is.
fn decode(bytes: &[u8], format: ImageFormat) -> Result<Decoded, ApiError> {
    let too_large =
        || invalid("the image is too large: at most 40 megapixels and 8000 pixels a side");
    let header = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| invalid("the image is damaged"))?;
    let (w, h) = header;
    if w > MAX_DIMENSION || h > MAX_DIMENSION || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(too_large());
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 16 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| too_large())?;
    let (w, h) = (img.width(), img.height());
    let encode = |img: &image::DynamicImage, format: ImageFormat| {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format)
            .map(|()| out.into_inner())
            .map_err(|e| ApiError(bazaar_runtime::internal(e)))
    };
    let original = match format {
        ImageFormat::Jpeg => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
                .encode_image(&img.to_rgb8())
                .map_err(|e| ApiError(bazaar_runtime::internal(e)))?;
            Some(out)
        }
        ImageFormat::Png | ImageFormat::WebP => Some(encode(&img, format)?),
        _ => None,
    };
    let thumb = encode(
        &image::DynamicImage::ImageRgb8(img.thumbnail(THUMB, THUMB).to_rgb8()),
        ImageFormat::Jpeg,
    )?;
    Ok(Decoded {
        width: w,
        height: h,
        original,
        thumb,
    })
}

/// What `POST /api/images` reads: one multipart field, `file`.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "only its schema is used: the handler reads the multipart stream"
)]
pub struct ImageUpload {
    /// A JPEG, PNG, WebP or GIF file of at most 5 MiB.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Upload an image (multipart field `file`, at most 5 MiB) as a signed-in account.
#[utoipa::path(post, path = "/api/images", tag = "images",
    request_body(content = ImageUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 401, body = ErrorEnvelope),
              (status = 413, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
              (status = 400, body = ErrorEnvelope), (status = 507, body = ErrorEnvelope)))]
pub async fn upload(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // The auth node judges the token; anonymous uploads stop here.
    let me = s.call::<GetMe>(&meta, &Empty {}).await?;
    let multipart = multipart.map_err(|e| ApiError(ErrorEnvelope::bad_request(e.body_text())))?;
    let uploaded = store_upload(&s, multipart, Some(&me.id)).await?;
    Ok((StatusCode::CREATED, Json(uploaded)).into_response())
}

/// Reads the `file` field and stores it; shared with the avatar page form.
pub(crate) async fn store_upload(
    s: &EdgeState,
    mut multipart: Multipart,
    uploader: Option<&str>,
) -> Result<Uploaded, ApiError> {
    let mut bytes = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError(ErrorEnvelope::bad_request(e.body_text())))?
    {
        if field.name() == Some("file") {
            bytes = Some(field_bytes(field).await?);
        }
    }
    let bytes = bytes.ok_or_else(|| invalid("choose an image file"))?;
    store_image(s, bytes, uploader).await
}

/// Reads one multipart field whole; a body over the route's limit is a 413.
pub(crate) async fn field_bytes(
    field: axum::extract::multipart::Field<'_>,
) -> Result<bytes::Bytes, ApiError> {
    field.bytes().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError(ErrorEnvelope::new(
                bazaar_subjects::ErrorCode::PayloadTooLarge,
                "images are at most 5 MiB",
            ))
        } else {
            ApiError(ErrorEnvelope::bad_request(e.body_text()))
        }
    })
}

/// Checks and stores one uploaded image's bytes with its thumbnail; shared by
/// the upload API, the avatar form and the shop form. The uploader, when
/// known, is recorded with it: only they may send it in a chat message.
pub(crate) async fn store_image(
    s: &EdgeState,
    bytes: bytes::Bytes,
    uploader: Option<&str>,
) -> Result<Uploaded, ApiError> {
    if bytes.is_empty() {
        return Err(invalid("the file is empty"));
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError(ErrorEnvelope::new(
            bazaar_subjects::ErrorCode::PayloadTooLarge,
            "images are at most 5 MiB",
        )));
    }
    let (format, mime) = sniff(&bytes)?;
    let data = bytes.clone();
    let decoded = {
        let _turn = DECODES
            .acquire()
            .await
            .map_err(|e| ApiError(bazaar_runtime::internal(e)))?;
        tokio::task::spawn_blocking(move || decode(&data, format))
            .await
            .map_err(|e| ApiError(bazaar_runtime::internal(e)))??
    };
    let Decoded {
        width,
        height,
        original,
        thumb,
    } = decoded;
    let original = original.unwrap_or_else(|| bytes.to_vec());
    let id = uuid::Uuid::now_v7().simple().to_string();
    let store = object_store(s).await?;
    // Refused whole when the bucket cannot take it (rather than half
    // stored); a put that fails for want of room says the same.
    let needed = (original.len() + thumb.len()) as u64;
    let room = bazaar_runtime::jetstream::object_store_room(
        &s.inner.jetstream,
        bazaar_subjects::catalog::IMAGES_BUCKET,
    )
    .await
    .map_err(|e| ApiError(bazaar_runtime::internal(e)))?;
    if room.is_some_and(|room| room < needed + PUT_OVERHEAD) {
        return Err(storage_full());
    }
    for (name, body, content_type) in [
        (id.clone(), original, mime),
        (format!("{id}.thumb"), thumb, "image/jpeg"),
    ] {
        let meta = ObjectMetadata {
            name,
            description: Some(content_type.to_owned()),
            metadata: uploader
                .map(|u| {
                    [(
                        bazaar_subjects::catalog::IMAGE_UPLOADER_KEY.to_owned(),
                        u.to_owned(),
                    )]
                    .into()
                })
                .unwrap_or_default(),
            ..Default::default()
        };
        if let Err(e) = store.put(meta, &mut Cursor::new(body)).await {
            let full = bazaar_runtime::jetstream::object_store_room(
                &s.inner.jetstream,
                bazaar_subjects::catalog::IMAGES_BUCKET,
            )
            .await
            .is_ok_and(|room| room.is_some_and(|room| room < needed + PUT_OVERHEAD));
            return Err(if full {
                storage_full()
            } else {
                ApiError(bazaar_runtime::internal(e))
            });
        }
    }
    Ok(Uploaded {
        url: format!("/images/{id}"),
        thumbnail_url: format!("/images/{id}?size=thumb"),
        id,
        content_type: mime.to_owned(),
        width,
        height,
    })
}

/// Room kept for an upload's bookkeeping in the bucket (object metadata
/// and per-chunk headers), on top of its bytes.
const PUT_OVERHEAD: u64 = 16 * 1024;

/// The images bucket is at its configured cap.
fn storage_full() -> ApiError {
    ApiError(ErrorEnvelope::new(
        bazaar_subjects::ErrorCode::InsufficientStorage,
        "image storage is full: no more images can be uploaded for now",
    ))
}

#[derive(Deserialize)]
pub struct Size {
    size: Option<String>,
}

async fn serve(
    State(s): State<EdgeState>,
    Path(id): Path<String>,
    Query(q): Query<Size>,
    headers: HeaderMap,
) -> Response {
    let not_found =
        || crate::ui::errors::error_page(ErrorEnvelope::not_found("there is no such image"));
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return not_found();
    }
    let name = match q.size.as_deref() {
        Some("thumb") => format!("{id}.thumb"),
        _ => id,
    };
    let store = match object_store(&s).await {
        Ok(store) => store,
        Err(e) => return e.into_response(),
    };
    let Ok(mut object) = store.get(&name).await else {
        return not_found();
    };
    let info = object.info().clone();
    let etag = format!(
        "\"{}\"",
        info.digest.clone().unwrap_or_default().replace('=', "")
    );
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut body = Vec::with_capacity(info.size);
    // An image deleted while it is being read has its chunks purged under
    // the reader, which then waits for chunks that never come: bound the read
    // and, if it fails, ask again whether the image still exists.
    let read = tokio::time::timeout(Duration::from_secs(10), object.read_to_end(&mut body)).await;
    if !matches!(read, Ok(Ok(_))) {
        return match store.info(&name).await {
            Ok(info) if !info.deleted => {
                ApiError(bazaar_runtime::internal("image read failed")).into_response()
            }
            _ => not_found(),
        };
    }
    let content_type = info
        .description
        .unwrap_or_else(|| "application/octet-stream".into());
    (
        cache,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
