//! HTTP clients: [`SingleShotHttpClient`] (one request, response head,
//! body chunks, end), with the [`Url`] and [`Request`] values they take
//! and the typed [`ClientError`] their `signal` carries on failure.

mod error;
mod request;
mod single_shot;
mod url;

pub use error::{ClientError, ErrorKind, Phase};
pub use request::{Request, RequestError, USER_AGENT};
pub use single_shot::{
    redirected, ClientConfig, ClientEvent, SingleShotHttpClient, DEFAULT_TIMEOUT, MAX_REDIRECTS,
};
pub use url::{Scheme, Url, UrlError};
