"""Boltwork API v1: everything a requester (and a worker's tools) can do on the web pages, over JSON.

One module per resource. Endpoints parse, call one service or selector, and return what it gives; the schemas
shape the answer, the services decide and raise domain errors, which `api.core` turns into the error body and
status. Each endpoint names the key scope it needs in its route (`auth=READ`, ...); `api.core.ApiKeyAuth`
enforces it. Every GET needs `read`; the scopes are separate.
"""

from ninja import Router

from api.endpoints import alerts, jobs, money, qualifications, quality, review, work

router = Router()
router.add_router("", money.router)
router.add_router("", jobs.router)
router.add_router("", review.router)
router.add_router("", work.router)
router.add_router("", alerts.router)
router.add_router("", qualifications.router)
router.add_router("", quality.router)
