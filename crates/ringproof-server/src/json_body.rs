//! The one JSON body extractor of every face: [`Json`], parameterised by the face's
//! [`JsonFace`] (which `Content-Type` it takes, whether the body must be an object read
//! field by field, and how each problem is rendered in the face's own error body).
//!
//! The native API decodes with axum's typed decoding (its serde messages are the API's);
//! the compatibility faces take a JSON object into a request struct whose fields are
//! [`serde_json::Value`]s, so each handler can check them in its vendor's order and answer
//! each problem with its vendor's body. Those structs are also what the OpenAPI document
//! shows: the documented shape and the parsed shape are one.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What was wrong with a request body, for a face to render.
#[derive(Debug)]
pub enum BodyProblem {
    /// The `Content-Type` is not one the face takes as JSON (checked before reading).
    ContentType,
    /// The body could not be read: over the server's limit (413) or cut off.
    Read(BytesRejection),
    /// An object face's body is not UTF-8.
    NotUtf8,
    /// An object face's body is not JSON, or not a JSON object.
    NotAnObject,
    /// A typed face's body is not JSON, or does not fit the target type.
    Json(JsonRejection),
}

/// How a face reads JSON bodies.
pub trait JsonFace {
    /// The face's error, which renders its own body.
    type Rejection: IntoResponse;
    /// `true`: the body must be a JSON object, given to the target as a map, and every
    /// other check is the handler's (the compatibility faces). `false`: axum's typed
    /// decoding (the native API).
    const OBJECT: bool;
    /// Whether the request's `Content-Type` is one this face reads as JSON.
    fn content_type_ok(headers: &HeaderMap) -> bool;
    /// The face's answer to a problem with the body.
    fn reject(problem: BodyProblem) -> Self::Rejection;
}

/// A JSON request body, read by the rules of face `F`.
pub struct Json<T, F>(pub T, PhantomData<fn() -> F>);

impl<T, F> Json<T, F> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Handlers read the fields through the extractor, as through `axum::Json`.
impl<T, F> std::ops::Deref for Json<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<S, T, F> FromRequest<S> for Json<T, F>
where
    S: Send + Sync,
    T: DeserializeOwned,
    F: JsonFace,
{
    type Rejection = F::Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !F::content_type_ok(req.headers()) {
            return Err(F::reject(BodyProblem::ContentType));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| F::reject(BodyProblem::Read(r)))?;
        let value = if F::OBJECT {
            decode_object(&bytes).map_err(F::reject)?
        } else {
            axum::Json::<T>::from_bytes(&bytes)
                .map_err(|r| F::reject(BodyProblem::Json(r)))?
                .0
        };
        Ok(Self(value, PhantomData))
    }
}

/// An object face's body: UTF-8, a JSON object, given to `T` as a map (so a JSON array
/// never fills a struct by position, and of a repeated key the last one counts).
fn decode_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyProblem> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(BodyProblem::NotUtf8);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(object @ Value::Object(_)) => T::deserialize(object).map_err(|_| BodyProblem::NotAnObject),
        _ => Err(BodyProblem::NotAnObject),
    }
}

/// axum's rule for a JSON `Content-Type` (`application/json`, or `application/*+json`,
/// parameters allowed), as `axum::Json` applies it.
pub fn axum_json_content_type(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let Ok(mime) = content_type.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == "application" && (mime.subtype() == "json" || mime.suffix().is_some_and(|name| name == "json"))
}

/// A field of an object face's request: whatever JSON value the key holds, `None` when
/// the key is missing or `null`. The handler checks it (type, emptiness) in its face's
/// terms; the struct holding it documents the field's real type for OpenAPI.
pub type Field = Option<Value>;

/// The JSON string in a field, or what else is there.
pub enum FieldValue<'a> {
    /// Missing or `null`.
    Absent,
    Str(&'a str),
    /// A number, a boolean, an array or an object.
    Other,
}

/// What a [`Field`] holds.
pub fn field_value(field: &Field) -> FieldValue<'_> {
    match field {
        None | Some(Value::Null) => FieldValue::Absent,
        Some(Value::String(s)) => FieldValue::Str(s),
        Some(_) => FieldValue::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct Body {
        a: Field,
        #[serde(rename = "bB")]
        b: Field,
    }

    #[test]
    fn objects_only_last_key_wins_null_is_absent() {
        let b: Body = decode_object(br#"{"a":1,"a":"x","bB":null,"c":true}"#).unwrap();
        assert!(matches!(field_value(&b.a), FieldValue::Str("x")));
        assert!(matches!(field_value(&b.b), FieldValue::Absent));
        let b: Body = decode_object(b"{}").unwrap();
        assert!(matches!(field_value(&b.a), FieldValue::Absent));
        for not_object in [&b"[\"x\",\"y\"]"[..], b"\"x\"", b"1", b"null", b"{", b""] {
            assert!(matches!(
                decode_object::<Body>(not_object),
                Err(BodyProblem::NotAnObject)
            ));
        }
        assert!(matches!(
            decode_object::<Body>(b"{\"a\":\"\xff\"}"),
            Err(BodyProblem::NotUtf8)
        ));
    }

    #[test]
    fn axum_content_types() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            axum_json_content_type(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/cloudevents+json"));
        assert!(!with("text/json"));
        assert!(!axum_json_content_type(&HeaderMap::new()));
    }
}
