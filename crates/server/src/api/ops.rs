//! Health, readiness and the job list.

use std::sync::Arc;

use poem_openapi::{
    ApiResponse, OpenApi,
    param::Query,
    payload::{Json, PlainText},
};
use proofsheet_core::{Error, JobStatus, PageRequest, Role};

use super::{ApiTags, error::ApiError, model::*};
use crate::{app::AppState, auth::BearerAuth};

/// Operations.
pub struct OpsApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum Ready {
    /// Database and storage answer.
    #[oai(status = 200)]
    Ready(PlainText<String>),
    /// Something does not answer.
    #[oai(status = 503)]
    NotReady(PlainText<String>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness: the process serves HTTP.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness: the database and the object store answer.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> Ready {
        let b = self.state.engine.backends();
        if let Err(e) = b.metadata.ping().await {
            tracing::warn!(error = %e, "database not ready");
            return Ready::NotReady(PlainText("database unavailable".into()));
        }
        if let Err(e) = b.blobs.ping().await {
            tracing::warn!(error = %e, "storage not ready");
            return Ready::NotReady(PlainText("storage unavailable".into()));
        }
        Ready::Ready(PlainText("ready".into()))
    }

    /// Queued, running and failed jobs (admins). `status` filters.
    #[oai(path = "/api/v1/jobs", method = "get")]
    async fn list_jobs(
        &self,
        auth: BearerAuth,
        status: Query<Option<String>>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> Result<Json<JobPage>, ApiError> {
        if auth.0.role != Role::Admin {
            return Err(Error::forbidden("admins_only", "only admins see the job queue").into());
        }
        let status = status
            .0
            .map(|s| {
                JobStatus::parse(&s).map_err(|_| {
                    Error::invalid(
                        "invalid_status",
                        "status is queued, running, succeeded or failed",
                    )
                })
            })
            .transpose()?;
        let page = PageRequest::new(limit.0, cursor.0.as_deref())?;
        let page = self
            .state
            .engine
            .backends()
            .queue
            .list_jobs(status, page)
            .await?;
        let (items, next_cursor) = page_parts(page, JobDto::from);
        Ok(Json(JobPage { items, next_cursor }))
    }
}
