#!/usr/bin/env bash
# The whole loop over the Boltwork API with curl, against `make run` (demo users, development Lightning backend).
# Run from the repository root while `make run` is up:  bash docs/api-example.sh
set -euo pipefail
API=${API:-http://127.0.0.1:8000/api/v1}
id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }

REQUESTER_KEY=$(DEBUG=1 .venv/bin/python manage.py create_api_key requester --name "curl example")
WORKER_KEY=$(DEBUG=1 .venv/bin/python manage.py create_api_key alice --name "curl example")
as_requester=(-sS -H "Authorization: Bearer $REQUESTER_KEY")
as_worker=(-sS -H "Authorization: Bearer $WORKER_KEY")
json=(-H "Content-Type: application/json")

curl "${as_requester[@]}" "$API/me"; echo

# A draft job with a form-builder form: 21 sats per answer.
JOB=$(curl "${as_requester[@]}" "${json[@]}" -X POST "$API/jobs" -d '{
  "title": "Is this review positive?", "description": "Judge one short product review.",
  "reward_msat": 21000, "assignments_per_task": 1, "time_limit_seconds": 300, "auto_approve_seconds": 86400,
  "form": {"prompt": "> {{review}}", "fields": [
    {"name": "sentiment", "kind": "single_choice", "label": "How does the customer feel?", "required": true,
     "choices": ["Positive", "Negative"]}]}}' | id)
echo "job $JOB"

# Tasks as CSV (all or nothing), then publish: escrow is funded from the requester's balance (402 if short).
curl "${as_requester[@]}" -X POST "$API/jobs/$JOB/tasks" -H "Content-Type: text/csv" \
  --data-binary $'review\n"Great battery, lasts days"\nBroke after a week\n'; echo
curl "${as_requester[@]}" -X POST "$API/jobs/$JOB/publish" -H "Idempotency-Key: publish-$JOB" >/dev/null

# A worker claims a task and submits an answer.
ASSIGNMENT=$(curl "${as_worker[@]}" -X POST "$API/jobs/$JOB/claim" | id)
curl "${as_worker[@]}" "${json[@]}" -X POST "$API/assignments/$ASSIGNMENT/submit" -d '{"answer": {"sentiment": "Positive"}}'; echo

# The requester approves: the reward leaves escrow and a Celery worker pays it to alice's Lightning Address.
curl "${as_requester[@]}" "${json[@]}" -X POST "$API/assignments/$ASSIGNMENT/approve" \
  -H "Idempotency-Key: approve-$ASSIGNMENT" -d '{"feedback": "Thanks!"}'; echo
sleep 3
curl "${as_worker[@]}" "$API/payouts?limit=1"; echo
curl "${as_requester[@]}" "$API/jobs/$JOB/results.csv"
