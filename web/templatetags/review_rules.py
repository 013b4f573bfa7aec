"""What workers are told about a job's quality control and review rules (tasks.quality.rules_described)."""

from django import template

from tasks.quality import rules_described

register = template.Library()


@register.simple_tag
def rules_for_workers(job) -> list[str]:
    """One plain sentence per rule that is on; none for a job without quality control. Reads the job's rules with
    it when the job was read with select_related("quality"), else with one query."""
    return rules_described(job)
