"""Hypothesis on the parsers that read what outsiders send: task CSV uploads, HTML task templates and Markdown
prompts, Mechanical Turk question XML, LNURL answers and destinations, BOLT11 invoices, and the URLs of webhooks,
external studies and asset hosts.

For each, arbitrary input gives a result or the parser's own documented error, never another exception, within a
deadline (a pattern that backtracks catastrophically would blow it); and where a round trip exists (CSV rows written
then read back, an answer written as QuestionFormAnswers XML then read back) it holds. The strategies are built to
reach deep: valid-looking CSV with odd quoting, line ends and BOMs; question XML with entities, DOCTYPEs and deep
nesting; LNURL JSON with wrong types; invoices mutated from a signed one; URLs with odd hosts, ports, IPv6,
userinfo and IDNA.

`RELIABILITY_SCALE` (environment) multiplies the number of examples.
"""

import csv
import io
import json
import os
import re
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from defusedxml.ElementTree import fromstring as defused_fromstring
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.safe_http import UnsafeUrl, check_url_policy
from marketplace.answer_forms import (
    HTML_PLACEHOLDER_RE,
    clean_asset_hosts,
    fill_prompt,
    html_answer_field_names,
    render_html_template,
    render_prompt_html,
)
from mturk.questions import ANSWERS_NAMESPACE, answers_xml, clean_external_url, parse_question
from payments import invoices
from payments.lnurl_client import (
    InvalidDestination,
    InvalidPayRequest,
    checked_success_action,
    parse_pay_destination,
    pay_request_from_json,
)
from tasks.controls import is_reserved_column
from tasks.csv_import import decode_task_csv, parse_task_csv
from tasks.errors import TaskCsvInvalid
from tests.mturk.clients import HTML_QUESTION, QUESTION_FORM
from tests.payments.invoices import signed_invoice

SCALE = int(os.environ.get("RELIABILITY_SCALE", "1"))
EXAMPLES = 100 * SCALE
EXAMPLES_RUN: Counter = Counter()  # per parser, reported at the end
PARSERS = 13

# Every test is a database test (some parsers read settings or the database), so pytest-django keeps them together
# and the module's report sees them all.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

fuzzed = settings(
    max_examples=EXAMPLES,
    # Generous, for a loaded test machine; a catastrophic backtrack on these inputs takes far longer.
    deadline=timedelta(seconds=2),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def example_report(request):
    EXAMPLES_RUN.clear()
    yield
    lines = [f"parser properties: {sum(EXAMPLES_RUN.values())} examples over {len(EXAMPLES_RUN)} parsers"]
    lines += [f"  {count:5d}  {name}" for name, count in sorted(EXAMPLES_RUN.items())]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))
    if len(EXAMPLES_RUN) == PARSERS:  # the whole module ran, not a selection of it
        # Hypothesis stops early only when it has tried every input a strategy can make: none of these is that small.
        assert all(count >= EXAMPLES for count in EXAMPLES_RUN.values()), lines


def result_or_refusal(parse, refusals, *args, **kwargs):
    """(what `parse` returns, None), or (None, the refusal it raised); any other exception fails the test."""
    try:
        return parse(*args, **kwargs), None
    except refusals as refusal:
        return None, refusal


# Task CSV ----------------------------------------------------------------------------------------------------------

# Text a CSV cell can hold (no NUL, which the parser refuses as binary), quotes, commas and line ends included.
CELL_TEXT = st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8"), max_size=30) | st.sampled_from(
    ['"', '""', ",", "\n", "\r\n", "\r", " ", '"quoted, with\nline"', "\ufeff", "é", "😀"]
)
COLUMN_NAME = (
    st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8"), min_size=1, max_size=20)
    .map(str.strip)
    # A name that starts with U+FEFF cannot be told from a byte order mark.
    .filter(lambda name: name and not is_reserved_column(name) and not name.startswith("\ufeff"))
)


@st.composite
def csv_tables(draw):
    columns = draw(st.lists(COLUMN_NAME, min_size=1, max_size=5, unique=True))
    row = st.lists(CELL_TEXT, min_size=len(columns), max_size=len(columns)).filter(
        lambda values: any(value.strip() for value in values)  # a blank row is skipped, not a task
    )
    rows = draw(st.lists(row, min_size=1, max_size=5))
    return columns, rows


@fuzzed
@given(
    table=csv_tables(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    line_end=st.sampled_from(["\r\n", "\n"]),
    bom=st.booleans(),
)
def test_task_csv_rows_written_then_read_back_are_the_same_rows(table, quoting, line_end, bom):
    EXAMPLES_RUN["task CSV round trip"] += 1
    columns, rows = table
    out = io.StringIO()
    # Python's writer quotes a cell only for the characters of its own line end: with "\n" a lone "\r" would go
    # unquoted, which no reader (and no spreadsheet's writer) takes as part of the cell.
    quoting = csv.QUOTE_ALL if line_end == "\n" and quoting == csv.QUOTE_MINIMAL else quoting
    writer = csv.writer(out, quoting=quoting, lineterminator=line_end)
    writer.writerow(columns)
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")
    parsed = parse_task_csv(decode_task_csv(data), required_columns=[], expected_columns=None)
    assert parsed.columns == columns
    assert parsed.rows == [dict(zip(columns, row, strict=True)) for row in rows]


def csv_mutations(text: str):
    """Damage a valid CSV the ways real files are damaged."""
    return st.one_of(
        st.just(text),
        st.builds(lambda cut: text[:cut], st.integers(0, len(text))),
        st.builds(lambda at, junk: text[:at] + junk + text[at:], st.integers(0, len(text)), CELL_TEXT),
    )


@fuzzed
@given(data=st.one_of(st.binary(max_size=200), csv_tables().map(lambda table: _as_csv(*table).encode())), cut=st.data())
@example(data=b'a,b\n"1,2\n', cut=None)  # an unclosed quote
@example(data=b"\xef\xbb\xbf\xef\xbb\xbfa\n1\n", cut=None)  # two BOMs
@example(data=b"a\n" + b'"' * 10_000, cut=None)
def test_any_bytes_are_tasks_or_a_task_csv_invalid(data, cut):
    EXAMPLES_RUN["task CSV, any bytes"] += 1
    if cut is not None and data:
        text = data.decode("utf-8", "replace")
        data = cut.draw(csv_mutations(text)).encode("utf-8", "surrogatepass")
    text, refusal = result_or_refusal(decode_task_csv, TaskCsvInvalid, data)
    if refusal is None:
        parsed, refusal = result_or_refusal(
            parse_task_csv, TaskCsvInvalid, text, required_columns=["a"], expected_columns=None
        )
    if refusal is not None:
        assert refusal.message
        return
    assert "a" in parsed.columns
    assert all(set(row) == set(parsed.columns) for row in parsed.rows)


def _as_csv(columns: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


# HTML task templates and Markdown prompts --------------------------------------------------------------------------

HTML_PIECES = st.sampled_from(
    [
        "<input name='a'>",
        '<select name="b"><option>1</select>',
        "<textarea name=c></textarea>",
        "<input name>",
        "<input name=''>",
        "${col}",
        "${ col }",
        "${",
        "}",
        "<![CDATA[",
        "<!--",
        "-->",
        "<!",
        "<?",
        "</",
        "<script>",
        "&#xffffffff;",
        "&#0;",
        "&amp",
        "<a href='javascript:alert(1)'>x</a>",
        '"',
        "'",
        "<",
        ">",
        "[",
        "](",
        "**",
        "`",
        "{{ col }}",
        "{{",
        "bwslot",
        "\x00",
    ]
)
HTML_LIKE = st.lists(st.one_of(HTML_PIECES, st.text(max_size=10)), max_size=30).map("".join)
VALUES = st.dictionaries(st.sampled_from(["col", "a", "b", ""]), st.text(max_size=20), max_size=3)


@fuzzed
@given(template=HTML_LIKE, values=VALUES)
@example(template="<" + "![" * 5000, values={})
@example(template="${" * 5000, values={})
@example(template="<![![<input name=a>", values={})  # was: AssertionError out of html.parser (a 500)
def test_an_html_template_is_parsed_and_filled_and_every_value_escaped(template, values):
    EXAMPLES_RUN["HTML template"] += 1
    names, refusal = result_or_refusal(html_answer_field_names, InvalidInput, template)
    if refusal is not None:
        assert refusal.message
        names = []
    assert all(isinstance(name, str) and name for name in names)
    filled = render_html_template(template, values)
    assert HTML_PLACEHOLDER_RE.search(filled) is None or "${" in "".join(values.values())
    for value in values.values():
        if "<" in value:
            assert value not in filled or value in template.replace("${col}", "")  # the raw value is never put in


@fuzzed
@given(prompt=HTML_LIKE, values=VALUES)
@example(prompt="[" * 20_000, values={})
@example(prompt="*a" * 10_000, values={})
def test_a_prompt_renders_to_safe_html_whatever_it_and_the_values_hold(prompt, values):
    EXAMPLES_RUN["Markdown prompt"] += 1
    page = fill_prompt(render_prompt_html(prompt), values)
    assert "<script" not in page.lower()
    assert "javascript:" not in page.lower()


# Mechanical Turk question XML --------------------------------------------------------------------------------------

QUESTION_PIECES = st.sampled_from(
    [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="latin-1"?>',
        '<!DOCTYPE q [<!ENTITY e "x">]>',
        '<!DOCTYPE q SYSTEM "file:///etc/passwd">',
        '<!ENTITY lol "lol">',
        "&e;",
        "&lol;",
        "&#0;",
        "&#x1F600;",
        "<![CDATA[<b>]]>",
        "<Text>",
        "</Text>",
        "<FrameHeight>-1</FrameHeight>",
        "<FrameHeight>99999999999999999999</FrameHeight>",
        "<Question>",
        "</Question>",
        "<QuestionIdentifier>q</QuestionIdentifier>",
        "<SelectionAnswer><Selections>",
        "</Selections></SelectionAnswer>",
        "<Selection><SelectionIdentifier>a</SelectionIdentifier><Text>A</Text></Selection>",
        "<Length minLength='5' maxLength='1'/>",
        "<ExternalURL>https://[::1]:0/x</ExternalURL>",
        "<ExternalURL>http://user:pw@example.com</ExternalURL>",
        "<Overview>",
        "</Overview>",
        'xmlns="urn:other"',
        "\x00",
        "\ud800",
    ]
)


def question_mutations(document: str):
    return st.one_of(
        st.builds(
            lambda at, piece: document[:at] + piece + document[at:], st.integers(0, len(document)), QUESTION_PIECES
        ),
        st.builds(
            lambda start, length: document[:start] + document[start + length :],
            st.integers(0, len(document)),
            st.integers(1, 40),
        ),
        st.lists(QUESTION_PIECES | st.text(max_size=10), max_size=20).map("".join),
    )


EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>https://study.example/start</ExternalURL><FrameHeight>600</FrameHeight>'
    "</ExternalQuestion>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    "<QuestionForm>&lol2;</QuestionForm>"
)


@fuzzed
@given(xml=st.sampled_from([HTML_QUESTION, QUESTION_FORM, EXTERNAL_QUESTION]).flatmap(question_mutations))
@example(xml=BILLION_LAUGHS)
@example(xml="<QuestionForm>" + "<Overview>" * 100_000)
@example(xml="<a>" * 5_000 + "</a>" * 5_000)
def test_question_xml_is_a_question_or_an_invalid_input(xml):
    EXAMPLES_RUN["question XML"] += 1
    question, refusal = result_or_refusal(parse_question, InvalidInput, xml)
    if refusal is not None:
        assert refusal.message
        return
    markup = re.sub(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->", "", xml, flags=re.DOTALL)
    assert "<!DOCTYPE" not in markup, "a DOCTYPE (and its entities) must be refused"
    assert question["kind"] in {"html", "external", "form"}


ANSWER_NAME = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
ANSWER_VALUE = st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3), st.booleans(), st.integers())


@fuzzed
@given(answer=st.dictionaries(ANSWER_NAME.filter(lambda name: name != "assignmentId"), ANSWER_VALUE, max_size=5))
@example(answer={"\x08": "x"})  # was: a field name written as is, so the Answer XML could not be parsed
def test_an_answer_written_as_question_form_answers_reads_back(answer):
    EXAMPLES_RUN["answers XML round trip"] += 1
    document = defused_fromstring(answers_xml(answer).split("\n", 1)[1])
    ns = {"a": ANSWERS_NAMESPACE}
    read = {
        element.findtext("a:QuestionIdentifier", namespaces=ns): element.findtext(
            "a:FreeText", default="", namespaces=ns
        )
        for element in document.findall("a:Answer", ns)
    }
    assert set(read) == {_xml_text(name) for name in answer}
    for name, value in answer.items():
        assert read[_xml_text(name)] == _xml_text(_joined(value))


def _joined(value) -> str:
    if isinstance(value, list):
        return "|".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_text(text: str) -> str:
    """What XML 1.0 carries back: characters it cannot hold become U+FFFD, and a parser turns \\r\\n and \\r into
    \\n (end-of-line handling), which is a lossless enough reading of a worker's answer."""
    from mturk.questions import _NOT_XML_RE

    return _NOT_XML_RE.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")


# LNURL answers and destinations ------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
PAY_REQUEST = {
    "tag": "payRequest",
    "callback": "https://wallet.example/lnurlp/cb?x=1",
    "minSendable": 1000,
    "maxSendable": 1_000_000,
    "metadata": json.dumps([["text/plain", "Pay me"], ["text/identifier", "me@wallet.example"]]),
    "commentAllowed": 100,
}


@st.composite
def pay_request_answers(draw):
    """The wallet's answer with some fields given a value of any JSON type, dropped, or made odd."""
    answer = dict(PAY_REQUEST)
    for field in draw(st.lists(st.sampled_from([*PAY_REQUEST, "status", "reason"]), max_size=4, unique=True)):
        answer[field] = draw(
            st.one_of(
                JSON_VALUES,
                st.sampled_from(
                    [
                        1000.0,
                        1000.5,
                        "1000",
                        True,
                        -1,
                        0,
                        10**30,
                        "[]",
                        "[[]]",
                        "[[1]]",
                        "[" * 5000,
                        "http://127.0.0.1/cb",
                        "https://user:pw@wallet.example/",
                        "https://[::1]/",
                        "https://wallet.example:0/",
                        "ERROR",
                    ]
                ),
            )
        )
    if draw(st.booleans()):
        answer.pop(draw(st.sampled_from(list(PAY_REQUEST))), None)
    return answer


@fuzzed
@given(answer=pay_request_answers())
def test_an_lnurl_pay_answer_is_a_pay_request_or_a_documented_refusal(answer):
    EXAMPLES_RUN["LNURL-pay answer"] += 1
    pay_request, refusal = result_or_refusal(
        pay_request_from_json,
        (InvalidPayRequest, UnsafeUrl),
        answer,
        url="https://wallet.example/.well-known/lnurlp/me",
    )
    if refusal is not None:
        assert refusal.message
        return
    assert 1 <= pay_request.min_sendable_msat <= pay_request.max_sendable_msat
    assert pay_request.comment_allowed >= 0
    check_url_policy(pay_request.callback)


@fuzzed
@given(
    action=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"tag": st.sampled_from(["message", "url", "aes", "x"])},
            optional={
                "message": JSON_VALUES,
                "url": JSON_VALUES
                | st.sampled_from(
                    ["https://wallet.example/ok", "https://other.example/", "http://wallet.example/", "https://[::1/"]
                ),
                "description": JSON_VALUES,
                "ciphertext": JSON_VALUES,
                "iv": JSON_VALUES,
            },
        ),
    )
)
def test_a_success_action_is_kept_only_when_understood_and_never_raises(action):
    EXAMPLES_RUN["LNURL success action"] += 1
    kept = checked_success_action(action, callback="https://wallet.example/cb")
    assert kept is None or kept["tag"] in {"message", "url", "aes"}
    if kept and kept["tag"] == "url":
        assert httpx.URL(kept["url"]).host == "wallet.example"


# URLs: webhooks, LNURL destinations, external studies, asset hosts ---------------------------------------------------

HOSTS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "wallet.example",
            "127.0.0.1",
            "[::1]",
            "[::ffff:10.0.0.1]",
            "[fe80::1%25eth0]",
            "[::1",
            "::1",
            "0",
            "0x7f000001",
            "2130706433",
            "xn--bcher-kva.example",
            "bücher.example",
            "xn--",
            "ex ample.com",
            "exa%00mple.com",
            "a" * 300 + ".com",
            "",
            ".",
            "localhost",
            "example.com.",
            "EXAMPLE.COM",
            "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width letters
            "example.onion",
            "☃.net",
        ]
    ),
    st.text(max_size=15),
)
PORTS = st.one_of(
    st.just(""),
    st.integers(-1, 70_000).map(lambda port: f":{port}"),
    st.sampled_from([":", ":abc", ":99999999999999999999", ":٣"]),
)
USERINFO = st.sampled_from(["", "user@", "user:pw@", ":@", "@", "a@b@"])
SCHEMES = st.sampled_from(
    ["https://", "http://", "HTTPS://", "ftp://", "javascript:", "//", "", "lnurlp://", "https:/"]
)
PATHS = st.one_of(
    st.sampled_from(["", "/", "/hook?x=1#f", "/%zz", "/\\..", "?lightning=lnurl1dp68gurn8ghj7"]), st.text(max_size=10)
)


@st.composite
def urls(draw):
    return draw(SCHEMES) + draw(USERINFO) + draw(HOSTS) + draw(PORTS) + draw(PATHS)


@fuzzed
@given(url=urls())
@example(url="https://" + "a." * 5000 + "com")
@example(url="https://example.com:" + "9" * 5000)
@example(url="https://xn--/hook")  # was: idna's IDNAError out of check_url_policy (a 500)
def test_a_webhook_url_is_accepted_only_when_it_is_a_plain_https_address(url):
    EXAMPLES_RUN["webhook URL"] += 1
    parsed, refusal = result_or_refusal(check_url_policy, UnsafeUrl, url)
    if refusal is not None:
        assert refusal.message
        return
    assert parsed.scheme == "https" or parsed.scheme == "http"  # http only for an allowlisted host:port
    assert parsed.host
    assert not parsed.userinfo
    assert parsed.port is None or 0 < parsed.port < 65536


@fuzzed
@given(
    text=st.one_of(
        urls(),
        st.builds(lambda name, host: f"{name}@{host}", st.text(max_size=10), HOSTS),
        st.text(max_size=40).map(lambda text: "lnurl1" + text),
        st.sampled_from(["lightning:", "LIGHTNING:lnurl1", "lnurlw://x.example/", "keyauth://x"]),
    )
)
@example(text="me@xn--")  # was: idna's IDNAError out of parse_pay_destination (a 500)
def test_a_pay_destination_is_an_lnurl_pay_url_or_invalid_destination(text):
    EXAMPLES_RUN["LNURL destination"] += 1
    url, refusal = result_or_refusal(parse_pay_destination, InvalidDestination, text)
    if refusal is not None:
        assert refusal.message
        return
    check_url_policy(url)


@fuzzed
@given(url=urls())
def test_an_external_question_url_is_accepted_or_an_invalid_input(url):
    EXAMPLES_RUN["ExternalURL"] += 1
    cleaned, refusal = result_or_refusal(clean_external_url, InvalidInput, url)
    assert refusal.message if refusal is not None else cleaned == url


@fuzzed
@given(hosts=st.lists(urls(), max_size=3))
def test_asset_hosts_are_https_origins_or_an_invalid_input(hosts):
    EXAMPLES_RUN["asset hosts"] += 1
    origins, refusal = result_or_refusal(clean_asset_hosts, InvalidInput, hosts)
    if refusal is not None:
        assert refusal.message
        return
    for origin in origins:
        assert origin.startswith("https://")
        assert httpx.URL(origin).path in {"", "/"}


# BOLT11 ------------------------------------------------------------------------------------------------------------

VALID_INVOICE = signed_invoice(amount_msat=21_000).bolt11
BECH32_CHARACTERS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def invoice_mutations(text: str):
    position = st.integers(0, len(text) - 1)
    return st.one_of(
        st.builds(
            lambda at, char: text[:at] + char + text[at + 1 :], position, st.sampled_from(BECH32_CHARACTERS + "1Bb!é")
        ),
        st.builds(lambda at: text[:at] + text[at + 1 :], position),
        st.builds(lambda at: text[:at], position),
        st.builds(lambda at, piece: text[:at] + piece + text[at:], position, st.text(max_size=5)),
        st.sampled_from(
            [text.upper(), text.swapcase(), "lightning:" + text, " " + text + "\n", text[:4] + "1p" + text[4:]]
        ),
        st.builds(
            lambda hrp: hrp + text[text.index("1") :],
            st.sampled_from(["lnbc", "lntb", "lnbcrt1p", "lnbcrt", "ln", "lnxx10m", "lnbcrt0", "lnbcrt1.5m"]),
        ),
    )


@fuzzed
@given(text=invoice_mutations(VALID_INVOICE) | st.text(max_size=40))
@example(text="lnbcrt1" + "q" * 5000)
@example(text=VALID_INVOICE)
def test_a_bolt11_text_is_an_invoice_or_an_invalid_invoice(text):
    EXAMPLES_RUN["BOLT11"] += 1
    invoice, refusal = result_or_refusal(invoices.decode, invoices.InvalidInvoice, text)
    if refusal is not None:
        assert refusal.message
        assert refusal.problem in set(invoices.InvoiceProblem)
        return
    assert len(invoice.payment_hash) == 64
    assert invoice.amount_msat is None or invoice.amount_msat >= 0
    for check in (invoices.check_network, invoices.check_has_amount, invoices.check_not_expiring):
        _, refusal = result_or_refusal(check, invoices.InvalidInvoice, invoice)
        assert refusal is None or refusal.message
