"""The kinds of notification, each in the words the preferences page uses to say when it is sent.

The messages themselves are made from events in notifications/messages.py.

"Job's funds running out" has one simple meaning here. A published job's escrow pays, up front, for every slot
(task × assignments per task) it offers; as workers take slots, the money left for new work shrinks. When a claim
leaves a tenth of the job's slots or fewer open, the requester is told, once per job, so they can add tasks (paid
from their balance) before the work stops. Jobs of fewer than ten slots, where a tenth is less than one slot, are
not warned: "Job finished" tells their end.
"""

from notifications.models import NotificationKind

# A claim that leaves at most this share of a job's slots open (and at least one) says its funds are running out.
FUNDS_LOW_SHARE_DENOMINATOR = 10

KIND_DESCRIPTIONS: dict[str, str] = {
    NotificationKind.WORK_APPROVED: "A requester, or the end of the review period, approved your work.",
    NotificationKind.WORK_REJECTED: "A requester rejected your work: with their reason and message.",
    NotificationKind.BONUS_RECEIVED: "A requester paid you a bonus.",
    NotificationKind.PAYOUT_SENT: "A payout of your earnings or your balance was paid.",
    NotificationKind.PAYOUT_FAILED: "A payout failed and its sats went back to your balance.",
    NotificationKind.PAYOUT_NEEDS_MODERATOR: "A payout failed too many times and waits for a moderator.",
    NotificationKind.DISPUTE_OPENED: "A worker disputed your rejection of their work.",
    NotificationKind.DISPUTE_ANSWERED: "The requester answered your dispute.",
    NotificationKind.DISPUTE_ESCALATED: "A dispute went to the moderators, as nobody withdrew the rejection in time.",
    NotificationKind.DISPUTE_MESSAGE: "Someone wrote in a dispute of yours.",
    NotificationKind.DISPUTE_DECIDED: "A dispute of yours ended: the rejection was withdrawn, upheld or overturned.",
    NotificationKind.DEPOSIT_RECEIVED: "A deposit arrived in your balance.",
    NotificationKind.JOB_FINISHED: "Every task of one of your jobs has approved work.",
    NotificationKind.BLOCKED: "A requester blocked you from their jobs (you are not told which one).",
    NotificationKind.STOPPED_ON_JOB: (
        "A job stopped you from taking more of its tasks: your accuracy on its checked tasks is below what it asks."
    ),
    NotificationKind.REQUESTER_MESSAGE: "A requester you worked for wrote to you (through the Mechanical Turk API).",
    NotificationKind.WORK_ALERT: (
        "A job matching one of your work alerts was published (by email only for alerts that ask for it)."
    ),
    NotificationKind.JOB_FUNDS_LOW: (
        "A tenth or fewer of the task slots your job paid for are still open: add tasks to keep work coming."
    ),
}


def kinds_with_descriptions() -> list[tuple[str, str, str]]:
    """(kind, label, description) for each kind, in the order of NotificationKind."""
    return [(kind.value, kind.label, KIND_DESCRIPTIONS[kind]) for kind in NotificationKind]
