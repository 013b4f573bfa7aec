"""Requester Markdown is rendered once, when it is saved, by a renderer linear in its input; pages show the stored
HTML. Security issue 7: `"[" * 50_000` took Python-Markdown minutes, on every view of a public job page."""

import pytest
from django.urls import reverse
from markdown_it import MarkdownIt

from api import schemas
from core.errors import InvalidInput
from core.text import (
    EXCERPT_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_PROMPT_CHARS,
    html_excerpt,
    render_markdown,
)
from marketplace import answer_forms, services
from marketplace.models import Job
from tasks import services as task_services
from tests.factories import SENTIMENT_FIELDS, make_bare_draft, make_user
from tests.html_parsing import tags_and_attributes
from web.forms import BuilderPromptForm, JobTermsForm

DESCRIPTION = "Rate **bold reviews** of [our shop](https://shop.example)."
INSTRUCTIONS = "| Mood | Answer |\n|:-|-:|\n| happy | ~~Negative~~ Positive |\n\n1. Read\n2. Decide"
PROMPT = "> {{review}}\n\n![photo]({{image_url}})"


def fill(prompt: str, task_input: dict) -> str:
    """What a worker is shown: the prompt rendered as it is saved, filled in as it is viewed."""
    return answer_forms.fill_prompt(answer_forms.render_prompt_html(prompt), task_input)


@pytest.fixture
def markdown_forbidden(monkeypatch):
    """From here on any Markdown rendering fails the test, with markdown-it-py or Python-Markdown (which the pages
    called through the `markdown` template filter before)."""

    def refuse(*args, **kwargs):
        raise AssertionError("Markdown was rendered during a page view")

    monkeypatch.setattr(MarkdownIt, "parse", refuse)
    try:
        import markdown
    except ImportError:
        pass
    else:
        monkeypatch.setattr(markdown.Markdown, "convert", refuse)


@pytest.fixture
def rendered_calls(monkeypatch):
    """The texts markdown-it-py renders."""
    calls: list[str] = []
    original = MarkdownIt.parse

    def counting_parse(self, src, env=None):
        calls.append(src)
        return original(self, src, env)

    monkeypatch.setattr(MarkdownIt, "parse", counting_parse)
    return calls


@pytest.fixture
def markdown_job(db):
    requester = make_user()
    job = services.job_create(
        requester=requester,
        title="Markdown everywhere",
        description=DESCRIPTION,
        instructions=INSTRUCTIONS,
        reward_msat=10_000,
        assignments_per_task=2,
    )
    services.job_set_builder_form(job=job, actor=requester, prompt=PROMPT, fields=SENTIMENT_FIELDS)
    task_services.tasks_add(
        job=job,
        actor=requester,
        columns=["review", "image_url"],
        rows=[{"review": "Loved it **a lot** <b>!</b>", "image_url": "https://img.example/1.png"}] * 2,
    )
    services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    return job


# Pages show what was stored ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_page_renders_markdown(client, markdown_job, markdown_forbidden):
    job = markdown_job
    worker = make_user()
    assignment = task_services.assignment_claim(job=job, worker=worker)

    board = client.get(reverse("board"))
    assert board.status_code == 200
    assert "Rate bold reviews of our shop." in board.content.decode()

    page = client.get(reverse("job_detail", args=[job.public_id]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "<strong>bold reviews</strong>" in content
    assert '<th align="left">Mood</th>' in content
    assert "<s>Negative</s>" in content

    client.force_login(worker)
    work = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    assert work.status_code == 200
    content = work.content.decode()
    assert "<ol>\n<li>Read</li>" in content, "the instructions"
    assert "<blockquote>\n<p>Loved it **a lot** &lt;b&gt;!&lt;/b&gt;</p>\n</blockquote>" in content, "the prompt"
    assert '<img src="https://img.example/1.png" alt="photo">' in content

    client.force_login(job.requester)
    preview = client.get(reverse("job_preview", args=[job.public_id]))
    assert preview.status_code == 200
    content = preview.content.decode()
    assert "<ol>\n<li>Read</li>" in content
    assert "Loved it **a lot**" in content


@pytest.mark.django_db
def test_a_closed_job_page_shows_stored_html_too(client, markdown_job, markdown_forbidden):
    services.job_close(job=markdown_job, actor=markdown_job.requester)
    page = client.get(reverse("job_detail", args=[markdown_job.public_id]))
    assert page.status_code == 200
    assert "<strong>bold reviews</strong>" in page.content.decode()


@pytest.mark.django_db
def test_saving_renders_each_markdown_field_once(rendered_calls):
    requester = make_user()
    job = services.job_create(
        requester=requester, title="t", description=DESCRIPTION, instructions=INSTRUCTIONS, reward_msat=10_000
    )
    assert sorted(rendered_calls) == sorted([DESCRIPTION, INSTRUCTIONS])
    assert "<strong>bold reviews</strong>" in job.description_html
    assert job.description_excerpt == "Rate bold reviews of our shop."
    assert '<td align="right"><s>Negative</s> Positive</td>' in job.instructions_html

    rendered_calls.clear()
    services.job_set_builder_form(job=job, actor=requester, prompt=PROMPT, fields=SENTIMENT_FIELDS)
    assert len(rendered_calls) == 1

    rendered_calls.clear()
    services.job_update_draft(
        job=job,
        actor=requester,
        title="t",
        description="New *description*",
        instructions="",
        reward_msat=10_000,
        assignments_per_task=1,
        time_limit_seconds=600,
        auto_approve_seconds=3600,
        expires_at=None,
        tags=[],
    )
    assert rendered_calls == ["New *description*"], "empty instructions need no rendering"
    job = Job.objects.get(pk=job.pk)
    assert job.description_html == "<p>New <em>description</em></p>\n"
    assert job.description_excerpt == "New description"
    assert job.instructions_html == ""
    assert "bwslot" in job.prompt_html, "the prompt is stored with marks for its placeholders"

    rendered_calls.clear()
    services.job_set_html_template(job=job, actor=requester, html_template='<input name="x"><p>${review}</p>')
    job = Job.objects.get(pk=job.pk)
    assert (job.prompt, job.prompt_html) == ("", "")
    assert rendered_calls == []


# The renderer is linear: pathological inputs render --------------------------------------------------------------

N = 50_000
PATHOLOGICAL = {
    "brackets": "[" * N,
    "stars": "*" * N,
    "underscores": "_" * N,
    "star-letter": "*a" * (N // 2),
    "emphasis-mix": "*_" * (N // 2),
    "quotes": "> " * (N // 2),
    "quotes-unspaced": ">" * N + "a",
    "list-markers": "- " * (N // 2) + "x",
    "ordered-markers": "1. " * (N // 3) + "x",
    "mixed-containers": "> - " * (N // 4) + "x",
    "backticks": "`" * N,
    "backtick-runs": "` a" * (N // 3),
    "empty-links": "a" + "[](" * (N // 3),
    "link-openers": "[a](" * (N // 4),
    "images": "![" * (N // 2),
    "brackets-backticks": "[`" * (N // 2),
    "escaped-brackets": "[\\]" * (N // 3),
    "angle-brackets": "<" * N,
    "tag-openers": "<a " * (N // 3),
    "entities": "&#" * (N // 2),
    "backslashes": "\\" * N,
    "strikethrough": "~~a" * (N // 3),
    "table-pipes": "|" * N + "\n" + "|-" * (N // 2),
    "reference-definitions": "[x]: " * (N // 5),
}


@pytest.mark.parametrize("text", list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_markdown_renders(text):
    html = render_markdown(text)
    assert isinstance(html, str)
    assert "<script" not in html


def test_pathological_markdown_renders_as_text():
    assert render_markdown("[" * N) == "<p>" + "[" * N + "</p>\n"
    assert render_markdown("a" + "[](" * 10) == "<p>a" + "[](" * 10 + "</p>\n"
    assert render_markdown("<" * 10) == "<p>" + "&lt;" * 10 + "</p>\n"


@pytest.mark.django_db
def test_pathological_markdown_at_every_limit_saves(client, markdown_forbidden_after_save):
    requester = make_user()
    job = services.job_create(
        requester=requester,
        title="Brackets",
        description="[" * MAX_DESCRIPTION_CHARS,
        instructions="[" * MAX_INSTRUCTIONS_CHARS,
        reward_msat=10_000,
    )
    prompt = "{{x}}" + "[" * (MAX_PROMPT_CHARS - 5)
    services.job_set_builder_form(job=job, actor=requester, prompt=prompt, fields=SENTIMENT_FIELDS)
    task_services.tasks_add(job=job, actor=requester, columns=["x"], rows=[{"x": "value"}])
    services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert job.instructions_html == "<p>" + "[" * MAX_INSTRUCTIONS_CHARS + "</p>\n"
    assert len(job.description_excerpt) == EXCERPT_CHARS

    markdown_forbidden_after_save()
    assert client.get(reverse("board")).status_code == 200
    assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 200
    client.force_login(requester)
    preview = client.get(reverse("job_preview", args=[job.public_id]))
    assert preview.status_code == 200
    assert "<p>value" + "[" * 100 in preview.content.decode()


@pytest.fixture
def markdown_forbidden_after_save(request):
    """`markdown_forbidden`, switched on when the test calls it (after saving, which must render)."""
    return lambda: request.getfixturevalue("markdown_forbidden")


# Limits: one set, used by the services, the forms, the API and the model -------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "limit"),
    [("description", MAX_DESCRIPTION_CHARS), ("instructions", MAX_INSTRUCTIONS_CHARS)],
)
def test_the_services_refuse_markdown_over_its_limit_before_rendering(field, limit, rendered_calls):
    terms = {"title": "t", "description": "d", "reward_msat": 10_000, field: "[" * (limit + 1)}
    with pytest.raises(InvalidInput):
        services.job_create(requester=make_user(), **terms)
    assert rendered_calls == []


@pytest.mark.django_db
def test_the_prompt_over_its_limit_is_refused_before_rendering(rendered_calls):
    job = make_bare_draft()
    rendered_calls.clear()
    with pytest.raises(InvalidInput):
        services.job_set_builder_form(
            job=job, actor=job.requester, prompt="[" * (MAX_PROMPT_CHARS + 1), fields=SENTIMENT_FIELDS
        )
    assert rendered_calls == []


def test_every_interface_uses_the_same_limits():
    api_terms = schemas.JobTerms.model_json_schema()["properties"]
    api_patch = schemas.JobPatch.model_json_schema()["properties"]
    api_form = schemas.FormIn.model_json_schema()["properties"]
    for name, limit in [("description", MAX_DESCRIPTION_CHARS), ("instructions", MAX_INSTRUCTIONS_CHARS)]:
        assert JobTermsForm.base_fields[name].max_length == limit
        assert Job._meta.get_field(name).max_length == limit
        assert api_terms[name]["maxLength"] == limit
        assert api_patch[name]["anyOf"][0]["maxLength"] == limit
    assert BuilderPromptForm.base_fields["prompt"].max_length == MAX_PROMPT_CHARS
    assert Job._meta.get_field("prompt").max_length == MAX_PROMPT_CHARS
    assert api_form["prompt"]["maxLength"] == MAX_PROMPT_CHARS


# Board excerpts: plain text, cut by characters ---------------------------------------------------------------


def test_excerpt_cuts_a_wall_of_text_by_characters():
    excerpt = html_excerpt(render_markdown("x" * MAX_DESCRIPTION_CHARS))
    assert excerpt == "x" * (EXCERPT_CHARS - 1) + "…"


def test_excerpt_cuts_at_a_word_boundary():
    excerpt = html_excerpt(render_markdown("word " * 200))
    assert len(excerpt) <= EXCERPT_CHARS
    assert excerpt.endswith("word…")
    assert "wor…" not in excerpt


def test_excerpt_is_the_text_without_markup():
    html = render_markdown(
        "# Title\n\n**Bold** `code` [link](https://x.example) <b>raw</b> &amp; &lt;tag&gt;\n\n- a\n- b"
    )
    assert html_excerpt(html) == "Title Bold code link raw & <tag> a b"


def test_a_short_description_is_its_own_excerpt():
    assert html_excerpt(render_markdown("Label *cats*.")) == "Label cats."


@pytest.mark.django_db
def test_the_board_shows_the_excerpt_escaped(client):
    requester = make_user()
    wall = "y" * MAX_DESCRIPTION_CHARS
    for description in (wall, "Tags like &lt;script&gt; are **text** here"):
        job = services.job_create(requester=requester, title="t", description=description, reward_msat=10_000)
        services.job_set_builder_form(job=job, actor=requester, prompt="Go", fields=SENTIMENT_FIELDS)
        task_services.tasks_add(job=job, actor=requester, columns=["x"], rows=[{"x": "1"}])
        services.job_publish(job=job, actor=requester)
    content = client.get(reverse("board")).content.decode()
    assert "y" * (EXCERPT_CHARS - 1) + "…" in content
    assert "y" * EXCERPT_CHARS not in content, "cut by characters, not by words"
    assert "Tags like &lt;script&gt; are text here" in content


# The prompt: rendered at save with marks, filled per view ----------------------------------------------------


def test_placeholders_in_image_and_link_urls():
    html = fill("![photo]({{image_url}}) [open](https://x.example/item/{{id}}?q={{q}})", {
        "image_url": "https://img.example/a b.png", "id": "42", "q": "a&b",
    })  # fmt: skip
    found = tags_and_attributes(html)
    assert ("img", "src", "https://img.example/a b.png") in found
    assert ("a", "href", "https://x.example/item/42?q=a&b") in found


def test_a_placeholder_for_a_whole_url_scheme_is_judged_once_filled():
    assert ("a", "href", "https://x.example") in tags_and_attributes(
        fill("[go]({{scheme}}://x.example)", {"scheme": "https"})
    )
    html = fill("[go]({{scheme}}://x.example)", {"scheme": "javascript"})
    assert not [value for _, name, value in tags_and_attributes(html) if name == "href"]


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "\tjava\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_a_value_never_makes_a_dangerous_link(value):
    html = fill("[open]({{url}}) ![img]({{url}}) <a href='{{url}}'>raw</a>", {"url": value})
    for _, name, link in tags_and_attributes(html):
        assert name not in {"href", "src"}, (name, link)


def test_values_with_html_or_quotes_stay_inside_their_attribute():
    html = fill(
        '![{{alt}}]({{url}} "{{title}}")', {"alt": '" onerror="x', "url": "https://i.example/a.png", "title": "<b>"}
    )
    assert [name for _, name, _ in tags_and_attributes(html)] == ["src", "alt", "title"]
    assert ("img", "alt", '" onerror="x') in tags_and_attributes(html)


def test_placeholders_in_code_spans_and_blocks_show_the_value_as_code():
    html = fill("`{{word}}`\n\n```\n{{word}}\n```", {"word": "<b>x</b> & {{other}}"})
    assert "<code>&lt;b&gt;x&lt;/b&gt; &amp; {{other}}</code>" in html
    assert "<pre><code>&lt;b&gt;x&lt;/b&gt; &amp; {{other}}\n</code></pre>" in html


def test_values_are_data_not_markdown():
    html = fill("Is **{{word}}** a noun?", {"word": "*em* [link](https://x.example) # head\n\n- item"})
    assert html == "<p>Is <strong>*em* [link](https://x.example) # head\n\n- item</strong> a noun?</p>\n"


def test_a_requester_typing_the_mark_gets_the_text_back():
    typed = "I type bwslot776f7264x, bwslotx and bwslot literally; {{word}}."
    assert fill(typed, {"word": "LEAK"}) == "<p>I type bwslot776f7264x, bwslotx and bwslot literally; LEAK.</p>\n"


def test_a_value_looking_like_a_mark_is_not_filled_again():
    assert fill("{{a}} {{b}}", {"a": "bwslot62x", "b": "B"}) == "<p>bwslot62x B</p>\n"


def test_placeholder_names_with_any_characters_and_missing_values():
    html = fill("{{ a-b }} {{größe}} {{a.b}} {{missing}}|", {"a-b": "1", "größe": "2", "a.b": "3"})
    assert html == "<p>1 2 3 |</p>\n"


def test_a_prompt_without_placeholders_is_just_markdown():
    assert fill("Thank *you*.", {}) == "<p>Thank <em>you</em>.</p>\n"
