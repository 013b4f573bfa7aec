"""Every operation the endpoint offers, by its Mechanical Turk name. An operation is a plain function
`(caller, params) -> answer`: it reads its parameters (mturk.protocol), calls Boltwork's services and shapes the
answer as botocore's service model says."""

from mturk.operations import account, assignments, hits, qualifications, workers

OPERATIONS = {
    **account.OPERATIONS,
    **hits.OPERATIONS,
    **assignments.OPERATIONS,
    **qualifications.OPERATIONS,
    **workers.OPERATIONS,
}
