//! HTTP clients: the [`Url`] and [`Request`] values they take.

mod request;
mod url;

pub use request::{Request, RequestError, USER_AGENT};
pub use url::{Scheme, Url, UrlError};
