"""POST data for the requester's pages (the job's terms, the form builder) as a browser sends it."""


def terms_post(**changes):
    return {
        "title": "Label photos",
        "description": "Say what is in a photo.",
        "instructions": "Look **carefully**.",
        "reward_sats": "25",
        "assignments_per_task": "2",
        "time_limit_minutes": "15",
        "auto_approve_hours": "48",
        "expires_at": "",
        "tags": "Images, cats , ",
        **changes,
    }


def builder_post(fields, *, prompt="Is {{word}} a noun?", initial_forms=None, button="save"):
    data = {
        "form_kind": "builder",
        "prompt": prompt,
        "fields-TOTAL_FORMS": str(len(fields)),
        "fields-INITIAL_FORMS": str(len(fields) if initial_forms is None else initial_forms),
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "50",
        button: "1",
    }
    for index, field in enumerate(fields):
        for key, value in field.items():
            if key == "required":
                if value:
                    data[f"fields-{index}-required"] = "on"
            else:
                data[f"fields-{index}-{key}"] = value
    return data


NOUN_FIELD = {"name": "is_noun", "label": "Is it a noun?", "kind": "single_choice", "required": True,
              "choices": "Yes\nNo"}  # fmt: skip
NOTE_FIELD = {"name": "note", "label": "Anything else?", "kind": "short_text", "required": False}
