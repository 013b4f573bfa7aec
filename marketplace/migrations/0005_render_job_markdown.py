"""Render the Markdown of the jobs saved before the services stored its HTML (pages no longer render it)."""

from django.db import migrations

from marketplace.answer_forms import render_prompt_html
from core.text import html_excerpt, render_markdown


def render_existing_jobs(apps, schema_editor):
    Job = apps.get_model("marketplace", "Job")
    jobs = Job.objects.only("id", "description", "instructions", "prompt").order_by("pk")
    for job in jobs.iterator(chunk_size=200):
        job.description_html = render_markdown(job.description)
        job.description_excerpt = html_excerpt(job.description_html)
        job.instructions_html = render_markdown(job.instructions) if job.instructions else ""
        job.prompt_html = render_prompt_html(job.prompt) if job.prompt else ""
        job.save(update_fields=["description_html", "description_excerpt", "instructions_html", "prompt_html"])


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0004_job_rendered_markdown"),
    ]

    operations = [
        migrations.RunPython(render_existing_jobs, migrations.RunPython.noop, elidable=True),
    ]
