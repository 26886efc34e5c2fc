//! Health, readiness and the job list.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::{Json, PlainText},
};
use proofsheet_core::{Actor, Error, JobStatus, PageRequest};

use super::{ApiTags, error::ApiError, model::*};
use crate::{auth::BearerAuth, state::AppState};

/// Operations.
/// Health, readiness and metrics: served by every role.
pub struct HealthApi {
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

/// Totals in one currency.
#[derive(Debug, Clone, Object)]
struct SalesTotalDto {
    /// Currency.
    currency: String,
    /// Paid orders.
    orders: u64,
    /// Photos sold.
    photos_sold: u64,
    /// Revenue.
    revenue: MoneyDto,
}

/// One album's sales in one currency.
#[derive(Debug, Clone, Object)]
struct SalesAlbumDto {
    /// The album.
    album_id: String,
    /// Its name, if it still exists.
    album_name: Option<String>,
    /// Currency.
    currency: String,
    /// Paid orders.
    orders: u64,
    /// Photos sold.
    photos_sold: u64,
    /// Revenue.
    revenue: MoneyDto,
}

/// Sales of orders paid in `[from, to)` and not refunded.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SalesReport")]
struct SalesReportDto {
    /// Start (inclusive).
    from: DateTime<Utc>,
    /// End (exclusive).
    to: DateTime<Utc>,
    /// Per currency.
    totals: Vec<SalesTotalDto>,
    /// Per album and currency.
    albums: Vec<SalesAlbumDto>,
    /// The ten best-selling photos, most sold first.
    top_photos: Vec<TopPhotoDto>,
}

/// A best-selling photo.
#[derive(Debug, Clone, Object)]
struct TopPhotoDto {
    /// The photo.
    photo_id: String,
    /// Its file name.
    filename: String,
    /// Times sold in the period.
    sold: u64,
}

#[derive(ApiResponse)]
enum SalesReply {
    /// The report as JSON.
    #[oai(status = 200)]
    Json(Json<SalesReportDto>),
    /// The report as CSV, one row per album and currency.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
}

/// One run of a periodic task.
#[derive(Debug, Clone, Object)]
struct RunDto {
    /// Task name.
    task: String,
    /// The period it ran for.
    fire_at: DateTime<Utc>,
    /// Started.
    started_at: DateTime<Utc>,
    /// Finished.
    finished_at: Option<DateTime<Utc>>,
    /// `ok` or `failed`.
    outcome: Option<String>,
    /// What it did, or why it failed.
    detail: Option<String>,
}

/// A kept monthly report.
#[derive(Debug, Clone, Object)]
struct MonthlyReportDto {
    /// `YYYY-MM`.
    month: String,
    /// The report, shaped like `GET /api/v1/reports/sales`.
    report: serde_json::Value,
}

/// Report output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum ReportFormat {
    /// JSON (default).
    Json,
    /// CSV.
    Csv,
}

/// RFC 3339 time or a plain `YYYY-MM-DD` date (midnight UTC).
fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| Error::invalid("invalid_period", format!("{field} must be an RFC 3339 time or YYYY-MM-DD")))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(['=', '+', '-', '@']) {
        // Quoted, and spreadsheet formulas defused.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness: the process serves HTTP.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness: the database and the object store answer.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> Ready {
        match self.state.engine.ready().await {
            Ok(()) => Ready::Ready(PlainText("ready".into())),
            Err((what, e)) => {
                tracing::warn!(error = %e, "{what} not ready");
                Ready::NotReady(PlainText(format!("{what} unavailable")))
            }
        }
    }

    /// Prometheus text format: the job queue by status (more metrics come
    /// with the observability work).
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, req: &poem::Request) -> Result<PlainText<String>, ApiError> {
        // Operators only: the configured token, or else the loopback interface.
        match &self.state.config.server.metrics_token {
            Some(token) => {
                let given = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.expose().as_bytes())) {
                    return Err(proofsheet_core::Error::Unauthenticated.into());
                }
            }
            None if !crate::limits::client_ip(req).is_loopback() => {
                return Err(proofsheet_core::Error::forbidden(
                    "metrics_local_only",
                    "/metrics answers the loopback interface only; set server.metrics_token to read it from elsewhere",
                )
                .into());
            }
            None => {}
        }
        let counts = self.state.engine.jobs().counts(Actor::Operator).await?;
        let mut out = String::from(
            "# HELP proofsheet_jobs Jobs in the durable queue, by status.\n# TYPE proofsheet_jobs gauge\n",
        );
        for status in [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed] {
            let n = counts.iter().find(|(s, _)| *s == status).map(|(_, n)| *n).unwrap_or(0);
            out.push_str(&format!("proofsheet_jobs{{status=\"{}\"}} {n}\n", status.as_str()));
        }
        out.push_str(&format!(
            "# HELP proofsheet_build_info Version of this process.\n# TYPE proofsheet_build_info gauge\nproofsheet_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str(&proofsheet_core::metrics::render());
        Ok(PlainText(out))
    }
}

/// Reports and the job list.
pub struct OpsApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Sales per album and currency: a photographer's own, an admin's all.
    /// `from` and `to` take RFC 3339 times or `YYYY-MM-DD`; the default is
    /// the last 30 days. `format` is `json` (default) or `csv`.
    #[oai(path = "/api/v1/reports/sales", method = "get")]
    async fn sales_report(
        &self,
        auth: BearerAuth,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        format: Query<Option<ReportFormat>>,
    ) -> Result<SalesReply, ApiError> {
        let now = self.state.engine.now();
        let to = to.0.map(|t| parse_time("to", &t)).transpose()?.unwrap_or(now);
        let from = from.0.map(|t| parse_time("from", &t)).transpose()?.unwrap_or(to - chrono::Duration::days(30));
        let r = self.state.engine.reports().sales(&auth.0, from, to).await?;
        let money = |amount: i64, c: proofsheet_core::Currency| MoneyDto {
            amount,
            currency: crate::api::model::Text(c.to_string()),
        };
        if format.0 == Some(ReportFormat::Csv) {
            // Amounts in major units beside their currency, as a
            // spreadsheet reads them (`62.50`).
            let mut out = String::from("album_id,album_name,currency,orders,photos_sold,revenue\n");
            for a in &r.albums {
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    a.album_id,
                    csv_field(a.album_name.as_deref().unwrap_or("")),
                    a.currency,
                    a.orders,
                    a.photos,
                    proofsheet_core::Money { amount: a.revenue, currency: a.currency }.major_units()
                ));
            }
            return Ok(SalesReply::Csv(PlainText(out)));
        }
        Ok(SalesReply::Json(Json(SalesReportDto {
            from: r.from,
            to: r.to,
            totals: r
                .totals
                .iter()
                .map(|t| SalesTotalDto {
                    currency: t.currency.to_string(),
                    orders: t.orders,
                    photos_sold: t.photos,
                    revenue: money(t.revenue, t.currency),
                })
                .collect(),
            albums: r
                .albums
                .iter()
                .map(|a| SalesAlbumDto {
                    album_id: a.album_id.to_string(),
                    album_name: a.album_name.clone(),
                    currency: a.currency.to_string(),
                    orders: a.orders,
                    photos_sold: a.photos,
                    revenue: money(a.revenue, a.currency),
                })
                .collect(),
            top_photos: r
                .top_photos
                .iter()
                .map(|(id, name, n)| TopPhotoDto { photo_id: id.to_string(), filename: name.clone(), sold: *n })
                .collect(),
        })))
    }

    /// A failed job, queued again now with its attempts reset (admins).
    #[oai(path = "/api/v1/jobs/:job_id/retry", method = "post")]
    async fn retry_job(&self, auth: BearerAuth, job_id: Path<String>) -> Result<Json<JobDto>, ApiError> {
        Ok(Json(self.state.engine.jobs().retry(Actor::User(&auth.0), &job_id.0).await?.into()))
    }

    /// The newest runs of the periodic tasks (admins).
    #[oai(path = "/api/v1/jobs/runs", method = "get")]
    async fn scheduled_runs(&self, auth: BearerAuth, limit: Query<Option<u32>>) -> Result<Json<Vec<RunDto>>, ApiError> {
        let runs = self.state.engine.jobs().runs(Actor::User(&auth.0), limit.0.unwrap_or(50)).await?;
        Ok(Json(
            runs.into_iter()
                .map(|r| RunDto {
                    task: r.task,
                    fire_at: r.fire_at,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    outcome: r.outcome,
                    detail: r.detail,
                })
                .collect(),
        ))
    }

    /// The caller's monthly sales reports kept by the scheduler (photographers).
    #[oai(path = "/api/v1/reports/monthly", method = "get")]
    async fn monthly_reports(&self, auth: BearerAuth) -> Result<Json<Vec<MonthlyReportDto>>, ApiError> {
        let kept = self.state.engine.reports().monthly(&auth.0).await?;
        Ok(Json(
            kept.into_iter()
                .map(|(month, body)| MonthlyReportDto {
                    month,
                    report: serde_json::from_str(&body).unwrap_or_default(),
                })
                .collect(),
        ))
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
        let status = status
            .0
            .map(|s| {
                JobStatus::parse(&s)
                    .map_err(|_| Error::invalid("invalid_status", "status is queued, running, succeeded or failed"))
            })
            .transpose()?;
        let page = PageRequest::new(limit.0, cursor.0.as_deref())?;
        let page = self.state.engine.jobs().list(Actor::User(&auth.0), status, page).await?;
        let (items, next_cursor) = page_parts(page, JobDto::from);
        Ok(Json(JobPage { items, next_cursor }))
    }
}
