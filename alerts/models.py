"""Work alerts (issue 11): a worker's saved board searches, and the record that one of them matched a job.

"At most once per job" is a fact of the database, not of the code that matches: AlertMatch is unique per worker
and job, so two of a worker's searches matching one job, or the same publication handled twice, tell them once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import public_id_field

# Caps that keep one worker's searches cheap to match and easy to read on one page.
MAX_SAVED_SEARCHES_PER_WORKER = 20
MAX_KEYWORDS_CHARS = 100  # as the board's search box
MAX_KEYWORD_WORDS = 10
MAX_TAG_CHARS = 40  # as marketplace.models.Tag
MAX_MIN_SATS_PER_HOUR = 10**9


class SavedSearch(models.Model):
    """A board search a worker wants to hear about: a job published after it was saved and matching every
    criterion given (a blank or null criterion asks nothing) is an alert."""

    public_id = public_id_field()
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    # Words separated by single spaces, as typed: each must be in the job's title or description (any case).
    keywords = models.CharField(max_length=MAX_KEYWORDS_CHARS, blank=True)
    # A tag's slug, as jobs' tags are stored.
    tag = models.CharField(max_length=MAX_TAG_CHARS, blank=True)
    min_reward_msat = models.PositiveBigIntegerField(null=True, blank=True)
    # Against Job.shown_sats_per_hour: a job without any figure does not meet a minimum.
    min_sats_per_hour = models.PositiveBigIntegerField(null=True, blank=True)
    qualified_only = models.BooleanField(default=False)
    email = models.BooleanField(default=False, help_text="Also by email (if the notification settings allow it).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["worker", "-created_at"], name="saved_search_worker_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_reward_msat__isnull=True) | Q(min_reward_msat__gt=0),
                name="saved_search_min_reward_positive",
            ),
            models.CheckConstraint(
                condition=Q(min_sats_per_hour__isnull=True)
                | Q(min_sats_per_hour__gt=0, min_sats_per_hour__lte=MAX_MIN_SATS_PER_HOUR),
                name="saved_search_min_sats_per_hour_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Saved search {self.public_id} of user {self.worker_id}"

    @property
    def asks_anything(self) -> bool:
        return bool(self.keywords or self.tag or self.min_reward_msat or self.min_sats_per_hour or self.qualified_only)


class AlertMatch(models.Model):
    """A worker was alerted to a job: written by the matching service, in the transaction of the event
    (`alert.matched`) whose handler tells them."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_matches")
    job = models.ForeignKey("marketplace.Job", on_delete=models.CASCADE, related_name="alert_matches")
    # One of the worker's searches that matched (the notification names it); gone if they deleted it since.
    saved_search = models.ForeignKey(SavedSearch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.ForeignKey("core.Event", on_delete=models.PROTECT, related_name="+")
    # Whether a search that matched asked for email too (the worker's notification settings decide as well).
    email = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "job"], name="alert_match_once_per_job")]

    def __str__(self) -> str:
        return f"Job {self.job_id} alerted to user {self.worker_id}"


class JobAlertScan(models.Model):
    """A published job was matched against the saved searches. Its lock serialises the matching of one job; the
    sweeper looks for recently published jobs without one (a lost background job)."""

    job = models.OneToOneField("marketplace.Job", primary_key=True, on_delete=models.CASCADE, related_name="+")
    scanned_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Alert scan of job {self.job_id}"
