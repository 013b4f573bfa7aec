"""A job's quality control (issue 12): controls, accuracy and the stop, training, how overlapping answers are
combined, and the review rules. `GET` reads the settings (a job without quality control has the defaults); `PUT`
sets them all at once. tasks.quality.job_quality_set checks them and says what is wrong, naming each setting
(`details.fields`)."""

from django.http import HttpRequest
from ninja import Field, Router

from api import schemas
from api.endpoints.common import ERRORS, READ, REQUESTER, own_job
from marketplace.models import JobStatus
from tasks import quality as quality_rules
from tasks.models import AggregationMethod, JobQuality, TextAggregation
from tasks.quality import MAX_CONTROL_RATE, MAX_FLAG_SECONDS, MAX_WINDOW, SETTING_HELP

router = Router(tags=["quality control"])


def _default(name: str):
    return JobQuality._meta.get_field(name).default


def _about(name: str) -> dict:
    return {"description": SETTING_HELP[name]}


class QualityIn(schemas.InputSchema):
    """Every setting; one left out is set to its default (what GET shows for a job without quality control), except
    `overlap_start`, which a published job keeps."""

    control_rate_percent: int = Field(
        _default("control_rate_percent"), ge=0, le=MAX_CONTROL_RATE, **_about("control_rate_percent")
    )
    accuracy_window: int = Field(_default("accuracy_window"), ge=1, le=MAX_WINDOW, **_about("accuracy_window"))
    stop_below_percent: int | None = Field(None, ge=1, le=100, **_about("stop_below_percent"))
    stop_after_controls: int = Field(
        _default("stop_after_controls"), ge=1, le=MAX_WINDOW, **_about("stop_after_controls")
    )
    hold_pending_when_stopped: bool = Field(False, **_about("hold_pending_when_stopped"))
    training_pass_percent: int | None = Field(None, ge=1, le=100, **_about("training_pass_percent"))
    aggregation_method: AggregationMethod = Field(_default("aggregation_method"), **_about("aggregation_method"))
    text_aggregation: TextAggregation = Field(_default("text_aggregation"), **_about("text_aggregation"))
    overlap_start: int | None = Field(None, ge=1, le=100, **_about("overlap_start"))
    agreement_percent: int = Field(_default("agreement_percent"), ge=1, le=100, **_about("agreement_percent"))
    approve_accuracy_percent: int | None = Field(None, ge=1, le=100, **_about("approve_accuracy_percent"))
    approve_after_controls: int = Field(
        _default("approve_after_controls"),
        ge=1,
        le=MAX_WINDOW,
        description="Approve by accuracy only once the worker has answered at least this many controls.",
    )
    approve_on_agreement: bool = Field(False, **_about("approve_on_agreement"))
    reject_wrong_controls: bool = Field(False, **_about("reject_wrong_controls"))
    flag_faster_than_seconds: int | None = Field(None, ge=1, le=MAX_FLAG_SECONDS, **_about("flag_faster_than_seconds"))
    flag_outliers_below_median: bool = Field(False, **_about("flag_outliers_below_median"))


class QualityOut(schemas.Schema):
    job_id: str
    control_rate_percent: int
    accuracy_window: int
    stop_below_percent: int | None
    stop_after_controls: int
    hold_pending_when_stopped: bool
    training_pass_percent: int | None
    aggregation_method: AggregationMethod
    text_aggregation: TextAggregation
    overlap_start: int | None
    agreement_percent: int
    approve_accuracy_percent: int | None
    approve_after_controls: int
    approve_on_agreement: bool
    reject_wrong_controls: bool
    flag_faster_than_seconds: int | None
    flag_outliers_below_median: bool
    rules_for_workers: list[str] = Field(
        ..., description="What workers read on the job's page: one plain sentence per rule that is on."
    )

    @staticmethod
    def resolve_job_id(quality) -> str:
        return quality.job.public_id

    @staticmethod
    def resolve_rules_for_workers(quality) -> list[str]:
        return quality_rules.rules_described(quality.job, quality)


@router.get("/jobs/{job_id}/quality", response={200: QualityOut, **ERRORS}, auth=READ)
def job_quality_get(request: HttpRequest, job_id: str):
    """Your job's quality control: its settings, each explained in the schema, and what workers are told."""
    return quality_rules.job_quality_get(job=own_job(request, job_id), actor=request.auth)


@router.put("/jobs/{job_id}/quality", response={200: QualityOut, **ERRORS}, auth=REQUESTER)
def job_quality_put(request: HttpRequest, job_id: str, body: QualityIn):
    """Set your job's quality control, every setting at once. Allowed while the job is a draft, published or
    paused; `overlap_start` changes only on a draft. A refusal says what is wrong with each setting
    (`details.fields`) and changes nothing."""
    job = own_job(request, job_id)
    settings = body.dict()
    if "overlap_start" not in body.model_fields_set and job.status != JobStatus.DRAFT:
        settings.pop("overlap_start")
    return quality_rules.job_quality_set(job=job, actor=request.auth, **settings)
