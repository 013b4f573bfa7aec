"""Moderators' decisions: bans, reports, hiding and force-closing jobs (issue 10)."""
