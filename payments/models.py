# The ledger, deposits, escrow and payouts arrive with the money issue.
