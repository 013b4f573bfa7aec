"""The external study form of a job's answer form page: the study's URL and its completion codes."""

from django import forms

from marketplace.external_studies import MAX_COMPLETION_CODES, MAX_URL_CHARS


class ExternalStudyForm(forms.Form):
    external_url = forms.CharField(
        label="Study URL",
        max_length=MAX_URL_CHARS,
        widget=forms.TextInput(attrs={"class": "code", "spellcheck": "false", "autocomplete": "off"}),
        help_text="The https address of your study. Boltwork fills in {worker_id}, {assignment_id}, {task_id} and "
        "{job_id} wherever you put them, under the names your tool expects, e.g. "
        "https://study.example/?PROLIFIC_PID={worker_id}&SESSION_ID={assignment_id}.",
    )


class CompletionCodeForm(forms.Form):
    code = forms.CharField(
        label="Completion code",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"class": "code", "spellcheck": "false", "autocomplete": "off"}),
    )
    action = forms.ChoiceField(
        label="Then",
        choices=[("review", "Send to review"), ("approve", "Approve at once")],
        initial="review",
    )


CompletionCodeFormSet = forms.formset_factory(
    CompletionCodeForm, extra=0, max_num=MAX_COMPLETION_CODES, absolute_max=MAX_COMPLETION_CODES, validate_max=True
)


def completion_code_rows(formset) -> list[dict]:
    """The codes typed (rows left empty are not codes), for job_set_external_study to check."""
    return [
        {"code": form.cleaned_data["code"], "action": form.cleaned_data["action"]}
        for form in formset.forms
        if form.cleaned_data.get("code", "").strip()
    ]


def completion_code_initial(codes: list[dict], *, rows: int = 3) -> list[dict]:
    """The job's codes and empty rows up to `rows` (at least one empty row while there is room)."""
    initial = [{"code": entry["code"], "action": entry["action"]} for entry in codes]
    empty = max(rows - len(initial), 1 if len(initial) < MAX_COMPLETION_CODES else 0)
    return initial + [{"action": "review"}] * empty
