//! Running a job by hand: `POST /api/jobs/run/{id}` and `POST /api/jobs/test/{id}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::resources::not_found;
use crate::app::AppState;
use crate::db::JOB;
use crate::error::AppError;
use crate::jobs::Mode;
use crate::jobs::scheduler::{JobError, Runner, SchedulerSettings, SystemClock};

fn runner(state: &web::Data<AppState>) -> Runner {
    Runner::new(
        state.clone(),
        Arc::new(SystemClock),
        SchedulerSettings::default().lease,
    )
}

fn job_error(error: JobError) -> AppError {
    match error {
        JobError::NotFound(key) => not_found(JOB.name, &key),
        JobError::NotDue { ref next_run, .. } => AppError::Conflict {
            details: BTreeMap::from([("nextRun".to_owned(), next_run.clone())]),
            message: error.to_string(),
        },
        JobError::Busy(_) => AppError::Conflict {
            message: error.to_string(),
            details: BTreeMap::new(),
        },
        JobError::Store(error) => error.into(),
    }
}

/// `POST /api/jobs/run/{id}` with `{forceRun}`: runs the job when due (or forced) and answers
/// its JobLog.
pub async fn run(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let fields = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        super::extract::json_object(&body)?
    };
    let force = match fields.get("forceRun") {
        None | Some(serde_json::Value::Null) => false,
        Some(value) => crate::db::parse_bool(value).ok_or_else(|| {
            AppError::invalid_fields(BTreeMap::from([(
                "forceRun".to_owned(),
                "expected true or false".to_owned(),
            )]))
        })?,
    };
    let mode = if force { Mode::Forced } else { Mode::Scheduled };
    let log = runner(&state)
        .run_by_hand(&id, mode)
        .await
        .map_err(job_error)?;
    Ok(HttpResponse::Ok().json(log))
}

/// `POST /api/jobs/test/{id}`: runs the job now without moving its schedule; a
/// synchronization writes nothing.
pub async fn test(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let log = runner(&state)
        .run_by_hand(&id, Mode::Test)
        .await
        .map_err(job_error)?;
    Ok(HttpResponse::Ok().json(log))
}
