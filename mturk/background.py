"""Celery jobs of the Mechanical Turk API: thin wrappers, run by Celery beat."""

from celery import shared_task

from mturk import tokens


@shared_task
def prune_request_tokens() -> int:
    return tokens.tokens_delete_expired()
