"""Mechanical Turk's question XML (the Question parameter of CreateHIT) and answer XML (Assignment.Answer).

The samples are the shapes MTurk documents and requesters' scripts send: an HTMLQuestion with a crowd-form, an
ExternalQuestion, a QuestionForm with free text and a radio selection."""

from xml.etree import ElementTree

import pytest

from core.errors import InvalidInput
from mturk.questions import ANSWERS_NAMESPACE, MAX_QUESTION_BYTES, answers_xml, parse_question

HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
EXTERNAL_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
FORM_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"

CROWD_FORM_HTML = """<!DOCTYPE html>
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <p>Describe the current weather where you live</p>
  <p><textarea name="weather" cols="80" rows="3"></textarea></p>
</crowd-form>"""

HTML_QUESTION = f"""<?xml version="1.0" encoding="UTF-8"?>
<HTMLQuestion xmlns="{HTML_NS}">
  <HTMLContent><![CDATA[{CROWD_FORM_HTML}]]></HTMLContent>
  <FrameHeight>0</FrameHeight>
</HTMLQuestion>"""

EXTERNAL_QUESTION = f"""<ExternalQuestion xmlns="{EXTERNAL_NS}">
  <ExternalURL>https://study.example.org/start?condition=2&amp;lang=en</ExternalURL>
  <FrameHeight>600</FrameHeight>
</ExternalQuestion>"""


def question_form(*questions: str, overview: str = "") -> str:
    return f'<QuestionForm xmlns="{FORM_NS}">{overview}{"".join(questions)}</QuestionForm>'


NEXT_MOVE = """
  <Question>
    <QuestionIdentifier>nextmove</QuestionIdentifier>
    <DisplayName>The Next Move</DisplayName>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>What are the coordinates of the best move for player "X" in this game?</Text>
    </QuestionContent>
    <AnswerSpecification>
      <FreeTextAnswer>
        <Constraints><Length minLength="2" maxLength="2" /></Constraints>
        <DefaultText>C1</DefaultText>
      </FreeTextAnswer>
    </AnswerSpecification>
  </Question>"""

LIKELY_TO_WIN = """
  <Question>
    <QuestionIdentifier>Likely-To-Win</QuestionIdentifier>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>How likely is it that player "X" will win this game?</Text></QuestionContent>
    <AnswerSpecification>
      <SelectionAnswer>
        <StyleSuggestion>radiobutton</StyleSuggestion>
        <Selections>
          <Selection><SelectionIdentifier>notlikely</SelectionIdentifier><Text>Not likely</Text></Selection>
          <Selection><SelectionIdentifier>unsure</SelectionIdentifier><Text>It could go either way</Text></Selection>
          <Selection><SelectionIdentifier>likely</SelectionIdentifier><Text>Likely</Text></Selection>
        </Selections>
      </SelectionAnswer>
    </AnswerSpecification>
  </Question>"""

OVERVIEW = """
  <Overview>
    <Title>Game 01523, "X" to play</Title>
    <Text>
      You are helping to decide the next move in a game of Tic-Tac-Toe.
    </Text>
    <List><ListItem>It must be a valid move.</ListItem><ListItem>"X" cannot resign.</ListItem></List>
  </Overview>"""


def free_text_question(identifier: str, answer: str, *, extra: str = "") -> str:
    return f"""<Question><QuestionIdentifier>{identifier}</QuestionIdentifier>{extra}
      <QuestionContent><Text>Question {identifier}</Text></QuestionContent>
      <AnswerSpecification>{answer}</AnswerSpecification></Question>"""


# --- HTMLQuestion and ExternalQuestion -----------------------------------------------------------------------------


def test_an_html_question_keeps_its_html_and_a_frame_height_of_zero():
    question = parse_question(HTML_QUESTION)

    assert question == {"kind": "html", "html": CROWD_FORM_HTML, "frame_height": 0}


def test_an_xml_declaration_after_a_leading_newline_is_accepted():
    assert parse_question("\n  " + HTML_QUESTION)["html"] == CROWD_FORM_HTML


def test_an_external_question_keeps_its_url_and_frame_height():
    question = parse_question(EXTERNAL_QUESTION)

    assert question == {
        "kind": "external",
        "url": "https://study.example.org/start?condition=2&lang=en",
        "frame_height": 600,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://study.example.org/start", "must use https"),
        ("https://user:secret@study.example.org/", "user name or password"),
        ("javascript:alert(1)", "https"),
        ("https://study.example.org/" + "a" * 2000, "longer than 2,000"),
        ("https://study.example.org:99999/", "not a valid web address"),
    ],
)
def test_an_external_url_must_be_https_without_credentials_and_short(url, message):
    xml = f"<ExternalQuestion xmlns='{EXTERNAL_NS}'><ExternalURL>{url}</ExternalURL><FrameHeight>400</FrameHeight>"
    xml += "</ExternalQuestion>"

    with pytest.raises(InvalidInput, match=message):
        parse_question(xml)


def test_an_external_url_on_boltwork_itself_is_refused(settings):
    settings.SITE_URL = "https://boltwork.example"
    xml = f"<ExternalQuestion xmlns='{EXTERNAL_NS}'><ExternalURL>https://boltwork.example/jobs/</ExternalURL>"
    xml += "<FrameHeight>400</FrameHeight></ExternalQuestion>"

    with pytest.raises(InvalidInput, match="not on Boltwork"):
        parse_question(xml)


def test_plain_http_is_allowed_on_loopback_and_on_the_insecure_hosts_allowlist_only(settings):
    def external(url: str) -> str:
        xml = f"<ExternalQuestion xmlns='{EXTERNAL_NS}'><ExternalURL>{url}</ExternalURL>"
        return xml + "<FrameHeight>1</FrameHeight></ExternalQuestion>"

    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["study.test:8000"]

    assert parse_question(external("http://127.0.0.1:5000/study"))["url"] == "http://127.0.0.1:5000/study"
    assert parse_question(external("http://localhost/study"))["url"] == "http://localhost/study"
    assert parse_question(external("http://study.test:8000/s"))["url"] == "http://study.test:8000/s"
    with pytest.raises(InvalidInput, match="https"):
        parse_question(external("http://study.test:8001/s"))


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("not xml at all", "not well-formed XML"),
        ("<HTMLQuestion><HTMLContent>x</HTMLContent><FrameHeight>1</FrameHeight></HTMLQuestion>", "namespace"),
        (f"<HTMLQuestion xmlns='{FORM_NS}'><HTMLContent>x</HTMLContent></HTMLQuestion>", "namespace"),
        (f"<Survey xmlns='{HTML_NS}'/>", "root element is Survey"),
        (f"<HTMLQuestion xmlns='{HTML_NS}'><FrameHeight>1</FrameHeight></HTMLQuestion>", "needs an HTMLContent"),
        (f"<HTMLQuestion xmlns='{HTML_NS}'><HTMLContent>x</HTMLContent></HTMLQuestion>", "needs a FrameHeight"),
        (
            (
                f"<HTMLQuestion xmlns='{HTML_NS}'><HTMLContent>x</HTMLContent><FrameHeight>tall</FrameHeight>"
                "</HTMLQuestion>"
            ),
            "whole number of pixels",
        ),
        (f"<ExternalQuestion xmlns='{EXTERNAL_NS}'><FrameHeight>1</FrameHeight></ExternalQuestion>", "ExternalURL"),
        ("", "empty"),
    ],
)
def test_a_question_that_is_not_one_mturk_accepts_is_refused_with_a_clear_message(xml, message):
    with pytest.raises(InvalidInput, match=message):
        parse_question(xml)


# --- The hardened parser ---------------------------------------------------------------------------------------------

BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent>&lol9;</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"""

EXTERNAL_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE q [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent>&secret;</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"""

DTD_ONLY = f"""<?xml version="1.0"?>
<!DOCTYPE HTMLQuestion SYSTEM "http://attacker.example/q.dtd">
<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent>x</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, DTD_ONLY], ids=["billion-laughs", "xxe", "dtd"])
def test_dtds_entities_and_external_references_are_refused(xml):
    with pytest.raises(InvalidInput, match="DOCTYPE, entity declarations or external references"):
        parse_question(xml)


def test_a_question_over_128_kb_is_refused_before_it_is_parsed():
    html = "x" * MAX_QUESTION_BYTES
    xml = (
        f"<HTMLQuestion xmlns='{HTML_NS}'><HTMLContent>{html}</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"
    )

    with pytest.raises(InvalidInput, match="larger than 128 KB"):
        parse_question(xml)


def test_a_question_just_under_the_limit_is_accepted():
    envelope = f"<HTMLQuestion xmlns='{HTML_NS}'><HTMLContent></HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"
    html = "é" * ((MAX_QUESTION_BYTES - len(envelope)) // 2)  # two bytes each in UTF-8

    assert parse_question(envelope.replace("<HTMLContent>", "<HTMLContent>" + html))["html"] == html


# --- QuestionForm ---------------------------------------------------------------------------------------------------


def test_a_question_form_with_free_text_and_a_radio_selection_becomes_builder_fields():
    question = parse_question(question_form(NEXT_MOVE, LIKELY_TO_WIN, overview=OVERVIEW))

    assert question["kind"] == "form"
    assert question["overview"] == (
        'Game 01523, "X" to play\n\nYou are helping to decide the next move in a game of Tic-Tac-Toe.\n\n'
        '• It must be a valid move.\n• "X" cannot resign.'
    )
    next_move, likely = question["fields"]
    assert next_move == {
        "name": "nextmove",
        "kind": "short_text",
        "label": "The Next Move",
        "help_text": 'What are the coordinates of the best move for player "X" in this game?',
        "required": True,
        "choices": [],
        "min": None,
        "max": None,
        "initial": "C1",
        "min_length": 2,
        "max_length": 2,
    }
    # "Likely-To-Win" is not a name the form builder accepts: the field gets one, the answer keeps the identifier.
    assert likely == {
        "name": "likely_to_win",
        "kind": "single_choice",
        "label": 'How likely is it that player "X" will win this game?',
        "help_text": "",
        "required": True,
        "choices": ["Not likely", "It could go either way", "Likely"],
        "min": None,
        "max": None,
    }
    assert question["identifiers"] == {"nextmove": "nextmove", "likely_to_win": "Likely-To-Win"}
    assert question["selections"] == {
        "likely_to_win": {"Not likely": "notlikely", "It could go either way": "unsure", "Likely": "likely"}
    }


def test_the_2017_question_form_namespace_is_accepted_too():
    xml = question_form(NEXT_MOVE).replace("2005-10-01/QuestionForm.xsd", "2017-11-06/QuestionForm.xsd")

    assert parse_question(xml)["fields"][0]["name"] == "nextmove"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("<FreeTextAnswer/>", {"kind": "short_text", "required": False}),
        (
            "<FreeTextAnswer><NumberOfLinesSuggestion>5</NumberOfLinesSuggestion></FreeTextAnswer>",
            {"kind": "long_text"},
        ),
        (
            "<FreeTextAnswer><Constraints><Length maxLength='2000'/></Constraints></FreeTextAnswer>",
            {"kind": "long_text", "max_length": 2000},
        ),
        (
            "<FreeTextAnswer><Constraints><Length minLength='1'/></Constraints></FreeTextAnswer>",
            {"kind": "short_text", "required": True},
        ),
        (
            "<FreeTextAnswer><Constraints><IsNumeric minValue='100' maxValue='999'/></Constraints></FreeTextAnswer>",
            {"kind": "number", "min": "100", "max": "999"},
        ),
        ("<FreeTextAnswer><Constraints><IsNumeric/></Constraints></FreeTextAnswer>", {"kind": "number", "min": None}),
    ],
)
def test_free_text_answers_map_onto_the_builders_text_and_number_kinds(answer, expected):
    field = parse_question(question_form(free_text_question("q", answer)))["fields"][0]

    assert {key: field[key] for key in expected} == expected


def selection(style: str = "", counts: str = "") -> str:
    style_element = f"<StyleSuggestion>{style}</StyleSuggestion>" if style else ""
    return f"""<SelectionAnswer>{counts}{style_element}<Selections>
        <Selection><SelectionIdentifier>a</SelectionIdentifier><Text>Apple</Text></Selection>
        <Selection><SelectionIdentifier>b</SelectionIdentifier><Text>Banana</Text></Selection>
        <Selection><SelectionIdentifier>c</SelectionIdentifier><Text>Cherry</Text></Selection>
      </Selections></SelectionAnswer>"""


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (selection("radiobutton"), "single_choice"),
        (selection("dropdown"), "single_choice"),
        (selection(), "single_choice"),
        (selection("checkbox"), "multiple_choice"),
        (selection("list"), "multiple_choice"),
        (selection("checkbox", "<MaxSelectionCount>1</MaxSelectionCount>"), "single_choice"),
        (
            selection("", "<MinSelectionCount>1</MinSelectionCount><MaxSelectionCount>3</MaxSelectionCount>"),
            "multiple_choice",
        ),
    ],
)
def test_selection_answers_are_single_or_multiple_choices(answer, kind):
    field = parse_question(question_form(free_text_question("fruit", answer)))["fields"][0]

    assert field["kind"] == kind
    assert field["choices"] == ["Apple", "Banana", "Cherry"]


def test_is_required_defaults_to_false_as_mturk_documents_it():
    question = question_form(
        free_text_question("optional", "<FreeTextAnswer/>"),
        free_text_question("needed", "<FreeTextAnswer/>", extra="<IsRequired>true</IsRequired>"),
    )

    assert [field["required"] for field in parse_question(question)["fields"]] == [False, True]


@pytest.mark.parametrize(
    ("element", "xml"),
    [
        (
            "FileUploadAnswer",
            question_form(
                free_text_question(
                    "f",
                    "<FileUploadAnswer><MaxFileSizeInBytes>9</MaxFileSizeInBytes><MinFileSizeInBytes>1</MinFileSizeInBytes></FileUploadAnswer>",
                )
            ),
        ),
        (
            "Binary",
            question_form(
                NEXT_MOVE,
                overview="<Overview><Binary><MimeType><Type>image</Type></MimeType><DataURL>https://x.example/a.gif</DataURL><AltText>a</AltText></Binary></Overview>",
            ),
        ),
        (
            "FormattedContent",
            question_form(
                NEXT_MOVE, overview="<Overview><FormattedContent><![CDATA[<b>hi</b>]]></FormattedContent></Overview>"
            ),
        ),
        ("EmbeddedBinary", question_form(NEXT_MOVE, overview="<Overview><EmbeddedBinary/></Overview>")),
        ("Application", question_form(NEXT_MOVE, overview="<Overview><Application/></Overview>")),
        (
            "OtherSelection",
            question_form(
                free_text_question(
                    "f", selection("radiobutton").replace("</Selections>", "<OtherSelection/></Selections>")
                )
            ),
        ),
        (
            "AnswerFormatRegex",
            question_form(
                free_text_question(
                    "f", "<FreeTextAnswer><Constraints><AnswerFormatRegex regex='\\S'/></Constraints></FreeTextAnswer>"
                )
            ),
        ),
    ],
)
def test_question_form_elements_boltwork_cannot_show_or_enforce_are_refused_by_name(element, xml):
    expected = (
        f"QuestionForm element {element} is not supported by Boltwork: use FreeTextAnswer or SelectionAnswer, or an "
        "HTMLQuestion"
    )

    with pytest.raises(InvalidInput) as refused:
        parse_question(xml)

    assert refused.value.message == expected


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (question_form(), "has no Question"),
        (question_form(free_text_question("", "<FreeTextAnswer/>")), "needs a QuestionIdentifier"),
        (
            question_form(
                free_text_question("f", selection("radiobutton").replace("<Text>Banana</Text>", "<Text>Apple</Text>"))
            ),
            "same Text",
        ),
        (
            question_form(*(free_text_question(f"q{number}", "<FreeTextAnswer/>") for number in range(51))),
            "at most 50 fields",
        ),
        (
            question_form(
                free_text_question(
                    "f",
                    "<FreeTextAnswer><Constraints><IsNumeric minValue='9' maxValue='1'/></Constraints>"
                    "</FreeTextAnswer>",
                )
            ),
            "minimum is larger than the maximum",
        ),
        (
            question_form(
                free_text_question(
                    "f",
                    """<SelectionAnswer><Selections><Selection><SelectionIdentifier>a</SelectionIdentifier>
                    <Text>Only one</Text></Selection></Selections></SelectionAnswer>""",
                )
            ),
            "at least two different choices",
        ),
        (
            question_form(
                free_text_question(
                    "f",
                    "<FreeTextAnswer><Constraints><Length minLength='5' maxLength='2'/></Constraints></FreeTextAnswer>",
                )
            ),
            "minLength is larger than maxLength",
        ),
        (
            question_form(
                free_text_question(
                    "f",
                    selection(
                        "checkbox", "<MinSelectionCount>3</MinSelectionCount><MaxSelectionCount>2</MaxSelectionCount>"
                    ),
                )
            ),
            "MinSelectionCount is larger than MaxSelectionCount",
        ),
    ],
)
def test_a_form_the_builder_would_refuse_is_refused(xml, message):
    with pytest.raises(InvalidInput, match=message):
        parse_question(xml)


def test_question_identifiers_the_builder_would_refuse_get_field_names_of_their_own():
    xml = question_form(
        free_text_question("f", "<FreeTextAnswer/>"),
        free_text_question("f", "<FreeTextAnswer/>"),
        free_text_question("2nd Question!", "<FreeTextAnswer/>"),
        free_text_question("Q" * 60, "<FreeTextAnswer/>"),
    )

    question = parse_question(xml)

    assert [field["name"] for field in question["fields"]] == ["f", "f_2", "q_2nd_question", "q" * 36]
    assert list(question["identifiers"].values()) == ["f", "f", "2nd Question!", "Q" * 60]


# --- QuestionFormAnswers ---------------------------------------------------------------------------------------------


def parse_answers(xml: str) -> dict:
    """What a boto3 user does with Assignment.Answer: ElementTree, each Answer's identifier and its values."""
    ns = {"a": ANSWERS_NAMESPACE}
    root = ElementTree.fromstring(xml.encode())  # noqa: S314 -- our own output, parsed as a requester would
    assert root.tag == f"{{{ANSWERS_NAMESPACE}}}QuestionFormAnswers"
    parsed = {}
    for answer in root.findall("a:Answer", ns):
        identifier = answer.findtext("a:QuestionIdentifier", namespaces=ns)
        selections = [element.text for element in answer.findall("a:SelectionIdentifier", ns)]
        parsed[identifier] = selections if selections else answer.findtext("a:FreeText", namespaces=ns)
    return parsed


def test_an_html_answer_reads_back_as_the_same_dict_with_special_characters_escaped():
    answer = {
        "comment": "Tom & Jerry <script>alert(\"x\")</script> ]]> 'quoted'",
        "unicode": "naïve café 日本語 🎉",
        "lines": "first line\nsecond line",
        "empty": "",
    }

    xml = answers_xml(answer)

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"')
    assert "<script>" not in xml
    assert parse_answers(xml) == answer


def test_several_values_of_one_html_field_are_joined_with_a_pipe_as_mturk_does():
    xml = answers_xml({"colours": ["red", "green"], "size": "L"})

    assert parse_answers(xml) == {"colours": "red|green", "size": "L"}


def test_html_answers_come_in_a_stable_order_without_the_assignment_id():
    answer = {"zeta": "1", "alpha": "2", "assignmentId": "A1", "hitId": "H", "workerId": "W", "turkSubmitTo": "x"}

    xml = answers_xml(answer)

    assert list(parse_answers(xml)) == ["alpha", "hitId", "turkSubmitTo", "workerId", "zeta"]
    assert xml == answers_xml(dict(reversed(answer.items())))


def test_a_question_forms_answer_is_named_by_its_identifiers_and_selection_identifiers():
    question = parse_question(question_form(NEXT_MOVE, LIKELY_TO_WIN))

    xml = answers_xml({"likely_to_win": "It could go either way", "nextmove": "B2 & <C3>"}, question=question)

    # In the form's order, whatever the stored answer's key order.
    assert list(parse_answers(xml).items()) == [("nextmove", "B2 & <C3>"), ("Likely-To-Win", ["unsure"])]


def test_a_multiple_selection_has_one_selection_identifier_per_choice_and_unanswered_questions_are_left_out():
    question = parse_question(
        question_form(
            free_text_question("fruit", selection("checkbox")),
            free_text_question("note", "<FreeTextAnswer/>"),
        )
    )

    xml = answers_xml({"fruit": ["Apple", "Cherry"], "note": ""}, question=question)

    assert parse_answers(xml) == {"fruit": ["a", "c"]}


def test_characters_xml_cannot_carry_are_replaced_so_the_document_still_parses():
    xml = answers_xml({"text": "bell\x07 and form feed\x0c"})

    assert parse_answers(xml) == {"text": "bell\ufffd and form feed\ufffd"}


def test_an_empty_answer_is_an_empty_document():
    assert parse_answers(answers_xml({})) == {}
