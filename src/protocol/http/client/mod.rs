//! HTTP clients: [`SingleShotHttpClient`] (one request, response head,
//! body chunks, end) and [`SimpleHttpClient`] (requests in, one whole
//! response each out, in order, on kept-alive connections), with the
//! [`Url`] and [`Request`] values they take and the typed [`ClientError`]
//! their failures carry.

mod error;
mod exchange;
mod https;
mod request;
mod simple;
mod single_shot;
mod url;

pub use error::{ClientError, ErrorKind, Phase};
pub use https::SingleShotHttpsClient;
pub use request::{Request, RequestError, USER_AGENT};
pub use simple::{Fetched, HttpJob, Response, SimpleHttpClient, MAX_BODY, MAX_IDLE};
pub use single_shot::{
    redirected, ClientConfig, ClientEvent, SingleShotHttpClient, DEFAULT_HEAD_TIMEOUT,
    DEFAULT_TIMEOUT, MAX_REDIRECTS,
};
pub use url::{Scheme, Url, UrlError};
