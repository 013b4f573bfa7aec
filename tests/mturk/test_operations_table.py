"""The operations Boltwork offers are Mechanical Turk's own, by the names botocore's service model gives them; the
table in docs/mturk.md names each of them."""

from pathlib import Path

import botocore.session

from mturk.operations import OPERATIONS

TIER_1 = {
    "GetAccountBalance", "CreateHITType", "CreateHIT", "CreateHITWithHITType", "GetHIT", "ListHITs",
    "ListReviewableHITs", "ListAssignmentsForHIT", "GetAssignment", "ApproveAssignment", "RejectAssignment",
    "SendBonus", "ListBonusPayments", "UpdateExpirationForHIT", "UpdateHITReviewStatus",
    "CreateAdditionalAssignmentsForHIT", "DeleteHIT",
}  # fmt: skip
TIER_2 = {
    "CreateQualificationType", "GetQualificationType", "ListQualificationTypes", "UpdateQualificationType",
    "DeleteQualificationType", "AssociateQualificationWithWorker", "DisassociateQualificationFromWorker",
    "GetQualificationScore", "ListWorkersWithQualificationType", "CreateWorkerBlock", "DeleteWorkerBlock",
    "ListWorkerBlocks", "NotifyWorkers",
}  # fmt: skip


def test_every_operation_of_both_tiers_is_offered_under_its_mechanical_turk_name():
    model = botocore.session.get_session().get_service_model("mturk")
    assert set(OPERATIONS) == TIER_1 | TIER_2
    assert set(OPERATIONS) <= set(model.operation_names)


def test_the_documented_table_names_every_operation_offered():
    table = (Path(__file__).resolve().parents[2] / "docs" / "mturk.md").read_text()
    assert all(name in table for name in OPERATIONS)
