"""Demo data for `make run`: a requester, two workers and four published jobs of different kinds, one of them with
quality control whose rules have already approved (and paid) most of the work two other workers did.

Idempotent: users that exist are kept (their passwords reset to the demo ones), jobs are created once.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from marketplace import services
from marketplace.models import Job, User
from payments import deposits
from payments.lightning import get_backend, test_wallet_enabled
from payments.models import PayoutDestination
from tasks import quality
from tasks.models import TaskKind
from tasks.services import assignment_claim, assignment_submit, tasks_add, tasks_add_from_csv

DEMO_PASSWORD = "boltwork-demo"  # noqa: S105 - printed on the console for local demo logins
DEMO_DEPOSIT_MSAT = 200_000 * 1000
DEMO_USERS = [
    ("requester", "Ada's Data Lab"),
    ("alice", "Alice"),
    ("bob", "Bob"),
]

SENTIMENT_CSV_ROWS = [
    {"review": "The battery lasts two full days. Love it."},
    {"review": "Stopped working after a week and support never answered."},
    {"review": "It does what it says, nothing more."},
    {"review": "Best purchase this year, my kids use it daily."},
    {"review": "Arrived broken. The replacement was fine though."},
    {"review": "Too expensive for what you get."},
]

# The checked job: reviews with the answer a careful worker gives; the last ones are controls (their answer known).
CHECKED_ROWS = [
    ("Five stars. Fast delivery and it works perfectly.", "Positive", False),
    ("Cheap plastic, broke on the first day.", "Negative", False),
    ("Good sound, but the case scratches easily.", "Mixed", False),
    ("My daughter loves it, we bought a second one.", "Positive", False),
    ("Never arrived and nobody answers my emails.", "Negative", False),
    ("Comfortable, though the strap feels cheap.", "Mixed", False),
    ("Exactly as described, would buy again.", "Positive", False),
    ("The app keeps crashing; returned it.", "Negative", False),
    ("Works well after a slow setup.", "Mixed", False),
    ("Brilliant value for the price.", "Positive", False),
    ("Smells awful and the color is wrong.", "Negative", False),
    ("Quiet, quick and easy to clean.", "Positive", False),
    ("Sturdy and light. Exactly what I needed.", "Positive", False),
    ("The charger died within a month.", "Negative", False),
    ("Nice design, battery could be better.", "Mixed", False),
    ("Customer service replaced it the next day. Great!", "Positive", False),
    ("Instructions were useless and a part was missing.", "Negative", False),
    ("Tastes fine but the packaging leaks.", "Mixed", False),
    ("Our whole family uses it every day.", "Positive", False),
    ("Too small, and returning it cost more than it did.", "Negative", False),
    ("Does the job; the noise is annoying though.", "Mixed", False),
    ("Beautiful colors, very soft.", "Positive", False),
    ("It overheats after ten minutes.", "Negative", False),
    ("Fits well, looks great, fair price.", "Positive", False),
    ("Absolutely love it, best gadget I own!", "Positive", True),
    ("Terrible. Stopped working after two days.", "Negative", True),
    ("Great battery, awful screen.", "Mixed", True),
    ("Perfect gift, arrived early.", "Positive", True),
    ("Worst purchase ever, a waste of money.", "Negative", True),
    ("I am very happy with it.", "Positive", True),
    ("Broken on arrival and the refund took weeks.", "Negative", True),
    ("Lovely fabric, but the seams came apart.", "Mixed", True),
    ("Works like a charm, highly recommended.", "Positive", True),
    ("Do not buy this. It is junk.", "Negative", True),
]
CHECKED_ANSWERS = {review: answer for review, answer, _control in CHECKED_ROWS}
# Two workers did some of it before you arrived: a careful one, and one who clicks through in a second.
CHECKED_CROWD = [("dana", "Dana", 10, 25), ("eve", "Eve", 3, 1)]

TRANSCRIPTION_ROWS = [
    {"receipt_id": "R-1001", "store": "Corner Bakery"},
    {"receipt_id": "R-1002", "store": "Fresh Market"},
    {"receipt_id": "R-1003", "store": "Hardware Hub"},
]

TRANSCRIPTION_TEMPLATE = """<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; line-height: 1.5; }
  label { display: block; margin-top: .75rem; font-weight: 600; }
  input { font-size: 1rem; padding: .4rem; width: 100%; max-width: 20rem; }
</style>
<h2>Receipt ${receipt_id} from ${store}</h2>
<img src="/static/demo/receipts/${receipt_id}.svg" alt="Receipt ${receipt_id} from ${store}" width="260">
<p>Type the total amount and the date printed on the receipt.</p>
<form>
  <label for="total">Total amount</label>
  <input id="total" name="total" required inputmode="decimal" placeholder="12.50">
  <label for="date">Date on the receipt</label>
  <input id="date" name="date" type="date" required>
  <input type="hidden" name="receipt_id" value="${receipt_id}">
</form>
"""


class Command(BaseCommand):
    help = "Create demo users and three published jobs, and print the logins."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            users = {username: self._user(username, name) for username, name in DEMO_USERS}
            requester = users["requester"]
            for worker in (users["alice"], users["bob"]):
                self._test_wallet_destination(worker)
            if not Job.objects.filter(requester=requester).exists():
                self._fund_with_test_wallet(requester, DEMO_DEPOSIT_MSAT)
                self._sentiment_job(requester)
                self._transcription_job(requester)
                self._survey_job(requester)
                self._checked_job(requester)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in with any of these (password for all):"))
        for username, name in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {DEMO_PASSWORD}   ({name})")

    def _user(self, username: str, display_name: str) -> User:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@demo.boltwork.invalid", "display_name": display_name},
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
        return user

    def _fund_with_test_wallet(self, requester: User, amount_msat: int) -> None:
        """A real deposit, paid from the development backend's test wallet."""
        if not test_wallet_enabled():
            raise CommandError(
                "Demo data needs the development Lightning backend and its test wallet (LIGHTNING_BACKEND=dev, with "
                "DEBUG=1 or LIGHTNING_DEV_BACKEND_ALLOWED=1)."
            )
        backend = get_backend()
        deposit = deposits.deposit_create(user=requester, amount_msat=amount_msat)
        backend.pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
        deposits.deposit_refresh(deposit=deposit)

    def _test_wallet_destination(self, worker: User) -> None:
        # The workers are paid to the test wallet this site serves with the development backend. Not resolved now:
        # the site is not running yet while demo data loads.
        host = urlsplit(settings.SITE_URL).netloc
        PayoutDestination.objects.update_or_create(
            user=worker,
            defaults={"address": f"{worker.username}@{host}", "wallet_name": "Test wallet (development)"},
        )

    def _sentiment_job(self, requester: User) -> None:
        job = services.job_create(
            requester=requester,
            title="Is this product review positive or negative?",
            description="Read a short product review and tell us how the customer feels. Takes about 20 seconds.",
            instructions="- **Positive**: the customer is happy overall.\n- **Negative**: unhappy overall.\n"
            "- **Mixed**: clearly both.\n\nJudge the whole review, not single words.",
            reward_msat=25_000,
            assignments_per_task=2,
            time_limit_seconds=5 * 60,
            auto_approve_seconds=24 * 3600,
            tags=["sentiment", "english", "quick"],
        )
        services.job_set_builder_form(
            job=job,
            actor=requester,
            prompt="> {{review}}",
            fields=[
                {
                    "name": "sentiment",
                    "kind": "single_choice",
                    "label": "How does the customer feel?",
                    "required": True,
                    "choices": ["Positive", "Negative", "Mixed"],
                },
                {
                    "name": "notes",
                    "kind": "short_text",
                    "label": "Anything unclear? (optional)",
                    "required": False,
                },
            ],
        )
        tasks_add(job=job, actor=requester, columns=["review"], rows=SENTIMENT_CSV_ROWS)
        services.job_publish(job=job, actor=requester)

    def _transcription_job(self, requester: User) -> None:
        job = services.job_create(
            requester=requester,
            title="Transcribe the total and date from a receipt",
            description="A Mechanical Turk style task: copy two values from a store receipt.",
            reward_msat=50_000,
            time_limit_seconds=10 * 60,
            auto_approve_seconds=2 * 24 * 3600,
            tags=["transcription", "receipts"],
        )
        services.job_set_html_template(job=job, actor=requester, html_template=TRANSCRIPTION_TEMPLATE)
        tasks_add(job=job, actor=requester, columns=["receipt_id", "store"], rows=TRANSCRIPTION_ROWS)
        services.job_publish(job=job, actor=requester)

    def _survey_job(self, requester: User) -> None:
        job = services.job_create(
            requester=requester,
            title="Two-minute survey: how do you get paid online?",
            description="A short survey about payment methods for online work. One answer per person.",
            reward_msat=100_000,
            assignments_per_task=25,
            time_limit_seconds=15 * 60,
            auto_approve_seconds=3600,
            tags=["survey"],
        )
        services.job_set_builder_form(
            job=job,
            actor=requester,
            prompt="Thank you for taking part. There are no right or wrong answers.",
            fields=[
                {
                    "name": "methods",
                    "kind": "multiple_choice",
                    "label": "Which of these have you been paid with?",
                    "required": True,
                    "choices": ["Bank transfer", "PayPal", "Gift cards", "Bitcoin on-chain", "Lightning"],
                },
                {
                    "name": "hours",
                    "kind": "number",
                    "label": "Hours of online work per week",
                    "required": True,
                    "min": 0,
                    "max": 100,
                },
                {
                    "name": "would_recommend",
                    "kind": "checkbox",
                    "label": "I would recommend Lightning payouts",
                },
                {"name": "comments", "kind": "long_text", "label": "Anything else?", "required": False},
            ],
        )
        tasks_add(job=job, actor=requester, columns=[], rows=[{}])
        services.job_publish(job=job, actor=requester)

    def _checked_job(self, requester: User) -> None:
        """A job with controls and review rules, and work already done on it: the careful worker's answers approved
        by the accuracy rule as they were submitted (and their payouts queued), the hurried one's sent to the
        requester, the first ones waiting for a control to go by."""
        job = services.job_create(
            requester=requester,
            title="Is this review positive? Checked answers, paid in seconds",
            description=(
                "Rate short product reviews. Some are checked against known answers: once you get them right, your "
                "work is approved and paid the moment you submit it."
            ),
            instructions="Judge the whole review: **Positive**, **Negative**, or **Mixed** when it is clearly both.",
            reward_msat=20_000,
            time_limit_seconds=5 * 60,
            auto_approve_seconds=2 * 24 * 3600,
            tags=["sentiment", "english", "quick"],
        )
        services.job_set_builder_form(
            job=job,
            actor=requester,
            prompt="> {{review}}",
            fields=[
                {
                    "name": "sentiment",
                    "kind": "single_choice",
                    "label": "How does the customer feel?",
                    "required": True,
                    "choices": ["Positive", "Negative", "Mixed"],
                }
            ],
        )
        lines = ["review,Gold.sentiment"] + [
            f'"{review}",{answer if control else ""}' for review, answer, control in CHECKED_ROWS
        ]
        tasks_add_from_csv(job=job, actor=requester, csv_text="\n".join(lines) + "\n")
        quality.job_quality_set(
            job=job,
            actor=requester,
            control_rate_percent=40,
            accuracy_window=10,
            stop_below_percent=50,
            stop_after_controls=3,
            approve_accuracy_percent=80,
            approve_after_controls=2,
            reject_wrong_controls=True,
            flag_faster_than_seconds=3,
        )
        services.job_publish(job=job, actor=requester)
        for username, name, tasks, seconds in CHECKED_CROWD:
            worker = self._user(username, name)
            self._test_wallet_destination(worker)
            for _ in range(tasks):
                self._work_checked_task(job, worker, seconds=seconds)

    def _work_checked_task(self, job: Job, worker: User, *, seconds: int) -> None:
        now = timezone.now()
        assignment = assignment_claim(job=job, worker=worker, now=now - timedelta(seconds=seconds))
        task = assignment.task
        answer = task.gold["sentiment"] if task.kind == TaskKind.CONTROL else CHECKED_ANSWERS[task.input["review"]]
        assignment_submit(assignment=assignment, worker=worker, data={"answer-sentiment": answer}, now=now)
        # What the submission's handler does once it commits, done here so the demo reads the same everywhere.
        quality.submission_checked(assignment_id=assignment.pk, now=now)
