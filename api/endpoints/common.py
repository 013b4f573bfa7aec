"""What every endpoint module shares: the scopes, the error answers, and finding the caller's own job."""

from django.http import HttpRequest

from api import schemas
from api.core import ApiKeyAuth
from api.models import ApiScope
from marketplace import selectors as job_selectors
from marketplace.models import Job

# The scope each endpoint needs, named in its route.
READ = ApiKeyAuth(ApiScope.READ)
WORK = ApiKeyAuth(ApiScope.WORK)
REQUESTER = ApiKeyAuth(ApiScope.REQUESTER)
MONEY = ApiKeyAuth(ApiScope.MONEY)

ERRORS = {
    400: schemas.ErrorOut,
    401: schemas.ErrorOut,
    403: schemas.ErrorOut,
    404: schemas.ErrorOut,
    409: schemas.ErrorOut,
    429: schemas.ErrorOut,
}


def own_job(request: HttpRequest, job_id: str) -> Job:
    return job_selectors.job_of_requester_get(requester=request.auth, public_id=job_id)
