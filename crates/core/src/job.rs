//! Jobs: the durable events that connect the services.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, JobId, OrderId, PhotoId, Result};

/// What a job asks for. Each variant is an event of DESIGN.md: a photo was
/// uploaded (make its previews), an order was paid (make its zip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// `PhotoUploaded`: decode, orient, resize, watermark, encode.
    RenderPreview {
        /// The photo.
        photo_id: PhotoId,
    },
    /// The album's watermark changed: render a ready photo's preview and
    /// thumbnail again, in place (it stays `ready` throughout), or try a
    /// failed photo again.
    RefreshPreview {
        /// The photo.
        photo_id: PhotoId,
        /// The album's watermark this refresh was queued for
        /// ([`crate::watermark_version`]). If the watermark changed
        /// again before the job ran, a newer job renders it and this one
        /// does nothing: several changes in a row cost one render a photo.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watermark: Option<String>,
    },
    /// `OrderPaid`: package the originals and issue a link.
    BuildZip {
        /// The order.
        order_id: OrderId,
    },
    /// Send a notification (e-mail).
    Notify {
        /// What to tell whom.
        notification: crate::Notification,
    },
    /// A buyer asked for a fresh link after the zip was deleted: package
    /// again and issue a new link (the order stays `fulfilled`).
    RebuildZip {
        /// The order.
        order_id: OrderId,
    },
    /// `OrderRefunded`: delete the order's zips (its links were revoked
    /// with the status change).
    RevokeDownloads {
        /// The order.
        order_id: OrderId,
    },
    /// Something happened that webhooks report: fan it out into one
    /// delivery per endpoint that wants it.
    EmitEvent {
        /// The event.
        event: Box<crate::Event>,
    },
    /// A ready photo of an album with "Find me" on: find its faces and
    /// store their embeddings.
    IndexFaces {
        /// The photo.
        photo_id: PhotoId,
    },
    /// Send one delivery to its endpoint (one attempt).
    DeliverWebhook {
        /// The delivery.
        delivery_id: crate::DeliveryId,
        /// The attempts made when this job was queued; if more were made
        /// since, the job is stale and does nothing.
        after: u32,
    },
}

impl Task {
    /// The stable kind name stored with the job.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::RenderPreview { .. } => "render_preview",
            Task::RefreshPreview { .. } => "refresh_preview",
            Task::BuildZip { .. } => "build_zip",
            Task::RebuildZip { .. } => "rebuild_zip",
            Task::Notify { .. } => "notify",
            Task::RevokeDownloads { .. } => "revoke_downloads",
            Task::EmitEvent { .. } => "emit_event",
            Task::DeliverWebhook { .. } => "deliver_webhook",
            Task::IndexFaces { .. } => "index_faces",
        }
    }

    /// The JSON stored with the job.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("tasks always serialise")
    }

    /// Reads a stored task back (ignoring the `request_id` stored beside it).
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let mut value = value.clone();
        if let Some(o) = value.as_object_mut() {
            o.remove("request_id");
        }
        serde_json::from_value(value).map_err(|e| Error::backend_permanent("unreadable job payload", e))
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its id (known before it is stored, so callers can report it).
    pub id: JobId,
    /// What to do.
    pub task: Task,
    /// Not before.
    pub run_at: DateTime<Utc>,
    /// Attempts before it ends `failed`.
    pub max_attempts: u32,
    /// The request that caused it (see [`crate::context`]), for the logs.
    pub request_id: Option<String>,
}

impl NewJob {
    /// Default number of attempts.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

    /// A job to run now.
    pub fn now(task: Task, now: DateTime<Utc>) -> Self {
        NewJob {
            id: JobId::new(),
            task,
            run_at: now,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            request_id: crate::context::request_id(),
        }
    }

    /// The payload stored: the task, and the request id beside it.
    pub fn payload(&self) -> serde_json::Value {
        let mut v = self.task.to_json();
        if let (Some(id), Some(o)) = (&self.request_id, v.as_object_mut()) {
            o.insert("request_id".into(), serde_json::Value::String(id.clone()));
        }
        v
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Queued,
    /// Held by a worker until `lease_until`.
    Running,
    /// Done.
    Succeeded,
    /// Gave up; `last_error` says why.
    Failed,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            _ => return Err(Error::backend_permanent("bad job status", format!("{s:?}"))),
        })
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Opaque id.
    pub id: JobId,
    /// `Task::kind()`.
    pub kind: String,
    /// `Task::to_json()`.
    pub payload: serde_json::Value,
    /// Where it is.
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not before.
    pub run_at: DateTime<Utc>,
    /// While running: the holder's lease ends here; after it, another
    /// worker may take the job over.
    pub lease_until: Option<DateTime<Utc>>,
    /// While running: proves the holder is the current one.
    pub lease_token: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When enqueued.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Exponential backoff for attempt `n` (1-based): 2 s, 4 s, 8 s ... capped at 10 minutes.
pub fn backoff(attempt: u32) -> Duration {
    let secs = 1i64 << attempt.clamp(1, 10);
    Duration::seconds(secs.min(600))
}
