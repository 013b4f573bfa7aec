"""The requester's form for a task's known answers (issue 12, tasks.controls): one input per answer field of the job,
in the shape of the field's kind. It only parses; tasks.services.task_known_answers_set checks the values with the
job's answer form, as for a worker's answer."""

from django import forms

from marketplace.answer_fields import (
    MAX_LONG_TEXT,
    CheckboxKind,
    MultipleChoiceKind,
    NumberKind,
    SingleChoiceKind,
    answer_kinds,
)
from marketplace.models import FormKind, Job
from tasks.models import Task

NO_KNOWN_ANSWER = ("", "— no known answer —")
CHECKBOX_CHOICES = [NO_KNOWN_ANSWER, ("yes", "Ticked"), ("no", "Not ticked")]


class KnownAnswersForm(forms.Form):
    """A field per answer field of the job. As in a CSV's Gold columns, a task with any known answer is a control
    (a training task stays one); with none, a regular task."""

    def __init__(self, job: Job, task: Task, *args, **kwargs) -> None:
        kwargs.setdefault("prefix", "gold")
        kwargs.setdefault("initial", _initial(job, task))
        super().__init__(*args, **kwargs)
        self.kinds = answer_kinds(
            form_fields=job.form_fields if job.form_kind == FormKind.BUILDER else [], answer_fields=job.answer_fields
        )
        definitions = {field["name"]: field for field in job.form_fields} if job.form_kind == FormKind.BUILDER else {}
        for name, kind in self.kinds.items():
            definition = definitions.get(name, {})
            label = definition.get("label") or name
            self.fields[name] = _field_of(kind, definition, label=label)

    def gold(self) -> dict:
        """The known answers as JSON answer values (what the API takes), blank ones left out."""
        gold = {}
        for name, kind in self.kinds.items():
            value = self.cleaned_data.get(name)
            if isinstance(kind, CheckboxKind):
                value = {"yes": True, "no": False}.get(value)
            if value not in (None, "", []):
                gold[name] = value
        return gold


def _field_of(kind, definition: dict, *, label: str) -> forms.Field:
    common = {"label": label, "required": False}
    if isinstance(kind, SingleChoiceKind):
        choices = [NO_KNOWN_ANSWER, *((choice, choice) for choice in definition["choices"])]
        return forms.ChoiceField(choices=choices, **common)
    if isinstance(kind, MultipleChoiceKind):
        return forms.MultipleChoiceField(
            choices=[(choice, choice) for choice in definition["choices"]],
            widget=forms.CheckboxSelectMultiple,
            help_text="Tick every choice of the right answer.",
            **common,
        )
    if isinstance(kind, CheckboxKind):
        return forms.ChoiceField(choices=CHECKBOX_CHOICES, **common)
    if isinstance(kind, NumberKind):
        return forms.CharField(
            max_length=100,
            help_text="A number, or a number and how far an answer may be from it: 12.5±0.1 (or 12.5+-0.1).",
            **common,
        )
    help_text = "Compared without case or extra spaces."
    if definition == {}:  # an HTML template's field
        help_text += " Several values (checkboxes or a list of one name) as a|b, in any order."
    return forms.CharField(max_length=MAX_LONG_TEXT, help_text=help_text, **common)


def _initial(job: Job, task: Task) -> dict:
    initial = {}
    for name, value in (task.gold or {}).items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        initial[name] = value
    return initial
