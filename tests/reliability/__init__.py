"""Reliability tests (issue 15): properties of the money under random sequences of the real services."""
