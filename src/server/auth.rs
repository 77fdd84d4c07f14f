//! The bearer-token check on every mcsync RPC (health and reflection are not wrapped).

use std::sync::Arc;

use tonic::{Request, Status, service::Interceptor};

#[derive(Clone)]
pub struct BearerAuth {
    /// `None`: the server runs without a token (loopback only), and every call passes.
    token: Option<Arc<str>>,
}

impl BearerAuth {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token.map(Arc::from),
        }
    }
}

impl BearerAuth {
    /// Whether an `authorization` value carries the token; why not, when it does not.
    pub fn admits(&self, header: Option<&[u8]>) -> Result<(), &'static str> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let header = header.ok_or("missing 'authorization: Bearer <token>' metadata")?;
        let given = std::str::from_utf8(header)
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or("authorization metadata must be 'Bearer <token>'")?;
        if crate::domain::validate::same_secret(given.trim(), expected) {
            Ok(())
        } else {
            Err("invalid bearer token")
        }
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let header = req.metadata().get("authorization").map(|v| v.as_bytes());
        self.admits(header).map_err(Status::unauthenticated)?;
        Ok(req)
    }
}
