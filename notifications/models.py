"""What users are told, in the site and by email, when events concern them (issue 10)."""
