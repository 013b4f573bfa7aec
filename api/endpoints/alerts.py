"""A worker's saved searches (work alerts): list, create, delete. The matching and the notifications happen in the
alerts and notifications apps; the API sees only the searches."""

from django.http import HttpRequest
from ninja import Field, Router, Status
from ninja.decorators import decorate_view

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.models import MAX_KEYWORDS_CHARS, MAX_MIN_SATS_PER_HOUR, MAX_TAG_CHARS
from api import schemas
from api.core import idempotent, page_of
from api.endpoints.common import ERRORS, READ, WORK
from marketplace.models import MAX_REWARD_MSAT

router = Router(tags=["saved searches"])


class SavedSearchIn(schemas.InputSchema):
    keywords: str = Field(
        "", max_length=MAX_KEYWORDS_CHARS, description="Words that must all be in a job's title or description."
    )
    tag: str = Field("", max_length=MAX_TAG_CHARS, description="A tag the job must have (normalised as jobs' tags).")
    min_reward_msat: int | None = Field(None, ge=0, le=MAX_REWARD_MSAT, description="0 or null: no minimum.")
    min_sats_per_hour: int | None = Field(
        None,
        ge=0,
        le=MAX_MIN_SATS_PER_HOUR,
        description="Against the rate the board shows; a job without one meets no minimum. 0 or null: no minimum.",
    )
    qualified_only: bool = Field(False, description="Only jobs whose requirements the worker meets to accept.")
    email: bool = Field(False, description="Also by email, if the worker's notification settings allow it.")


class SavedSearchOut(schemas.Schema):
    id: str
    keywords: str
    tag: str
    min_reward_msat: int | None
    min_sats_per_hour: int | None
    qualified_only: bool
    email: bool
    created_at: schemas.Timestamp

    @staticmethod
    def resolve_id(search) -> str:
        return search.public_id


class SavedSearchPage(schemas.Schema):
    items: list[SavedSearchOut]
    next: str | None


@router.get("/saved-searches", response={200: SavedSearchPage, **ERRORS}, auth=READ)
def saved_searches(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    return page_of(alert_selectors.saved_searches_of_worker(worker=request.auth), cursor=cursor, limit=limit)


@router.post("/saved-searches", response={201: SavedSearchOut, **ERRORS}, auth=WORK)
@decorate_view(idempotent)
def saved_search_create(request: HttpRequest, body: SavedSearchIn):
    return Status(201, alert_services.saved_search_create(worker=request.auth, **body.dict()))


@router.delete("/saved-searches/{saved_search_id}", response={204: None, **ERRORS}, auth=WORK)
def saved_search_delete(request: HttpRequest, saved_search_id: str):
    alert_services.saved_search_delete(worker=request.auth, saved_search_id=saved_search_id)
    return Status(204, None)
