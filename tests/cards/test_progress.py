"""Cards of multi-approver requests: progress, stage, votes and typed fields, in both languages.

Golden files live in ``tests/cards/golden_votes/`` (the ``golden/`` set of single-approver
cards stays as it was). Regenerate after an intended change with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cards import CardState, Locale, render_dingtalk, render_email, render_lark, sample_view
from cards.budget import DINGTALK_CARD_LIMIT, LARK_CARD_LIMIT
from cards.validate import validate
from cards.view import ApprovalView, FieldKind, ViewField, ViewProgress, ViewVote

GOLDEN = Path(__file__).parent / "golden_votes"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LONG_SQL = "\n".join(f"UPDATE orders SET state = 'closed' WHERE id = {i};" for i in range(12))
NAMES = {Locale.EN_US: ("Ann Wu", "Bo Chen", "Cy Park"), Locale.ZH_CN: ("吴安", "陈博", "朴赛")}
STAGES = {Locale.EN_US: ("DBA review", "Service owner"), Locale.ZH_CN: ("DBA 审核", "服务负责人")}
REASON = {Locale.EN_US: "No rollback plan.", Locale.ZH_CN: "缺少回滚方案。"}


def _progress(case: str, locale: Locale) -> ViewProgress:
    a, b, c = NAMES[locale]
    first, second = STAGES[locale]
    base = ViewProgress(
        stage=1, stages=2, stage_name=first, needed=3, approved=(a, b), waiting=(c,)
    )
    if case == "voted":
        return base.model_copy(update={"own_vote": ViewVote(by=a, approved=True, at=AT)})
    if case == "passed":
        return base.model_copy(update={"approved": (a, b, c), "waiting": (), "passed_to": second})
    if case == "rejected":
        rejection = ViewVote(by=c, approved=False, at=AT, comment=REASON[locale])
        return base.model_copy(update={"waiting": (), "rejected": rejection})
    return base


def view(case: str, locale: Locale) -> ApprovalView:
    sample = sample_view(CardState.REJECTED if case == "rejected" else CardState.PENDING, locale)
    fields = (
        *sample.fields[:4],
        ViewField(name="SQL", value=LONG_SQL, kind=FieldKind.CODE),
        ViewField(name="Risk", value="high", kind=FieldKind.RISK),
    )
    return sample.model_copy(update={"fields": fields, "progress": _progress(case, locale)})


CASES = [(case, loc) for case in ("waiting", "voted", "passed", "rejected") for loc in Locale]
IDS = [f"{case}-{loc}" for case, loc in CASES]


def _json(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(("case", "locale"), CASES, ids=IDS)
def test_matches_golden(case: str, locale: Locale) -> None:
    v = view(case, locale)
    email = render_email(v)
    rendered = {
        "lark.json": _json(render_lark(v)),
        "dingtalk.json": _json(render_dingtalk(v)),
        "email.txt": f"Subject: {email.subject}\n\n{email.text}",
        "email.html": email.html,
    }
    for suffix, actual in rendered.items():
        path = GOLDEN / f"{case}.{locale.value}.{suffix}"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs from golden"


@pytest.mark.parametrize(("case", "locale"), CASES, ids=IDS)
def test_valid_on_every_platform(case: str, locale: Locale) -> None:
    v = view(case, locale)
    for channel, payload in (
        ("lark", render_lark(v)),
        ("dingtalk", render_dingtalk(v)),
        ("email", render_email(v)),
    ):
        result = validate(channel, payload)  # type: ignore[arg-type]
        assert result.ok, (channel, result.errors)


def test_the_tally_names_who_approved_and_who_is_awaited() -> None:
    text = render_email(view("waiting", Locale.EN_US)).text
    assert "Stage 1 of 2: DBA review" in text
    assert "2 of 3 approved: Ann Wu, Bo Chen · waiting for Cy Park" in text
    zh = render_email(view("waiting", Locale.ZH_CN)).text
    assert "第 1/2 步：DBA 审核" in zh and "已同意 2/3：吴安、陈博 · 等待 朴赛" in zh


def test_the_voters_card_shows_their_vote_and_no_buttons_while_others_keep_theirs() -> None:
    voted, waiting = (
        render_dingtalk(view("voted", Locale.EN_US)),
        render_dingtalk(view("waiting", Locale.EN_US)),
    )
    assert voted["showActions"] == "false" and waiting["showActions"] == "true"
    assert "You approved at 2026" in voted["markdown"]
    assert "Open the console to approve" not in voted["markdown"]
    assert "form" not in json.dumps(render_lark(view("voted", Locale.EN_US)))


def test_an_earlier_stage_card_says_where_the_request_went() -> None:
    card = render_lark(view("passed", Locale.EN_US))
    assert card["header"]["subtitle"]["content"] == "Passed to the next stage"
    assert "Passed to Service owner&#46;" in json.dumps(card)  # Lark markdown, escaped
    assert "Passed to Service owner." in render_email(view("passed", Locale.EN_US)).text


def test_a_rejection_says_who_and_why() -> None:
    assert (
        "Rejected by Cy Park · Reason: No rollback plan."
        in render_email(view("rejected", Locale.EN_US)).text
    )


def test_long_code_folds_on_lark_and_short_code_stays_open() -> None:
    elements = render_lark(view("waiting", Locale.EN_US))["body"]["elements"]
    panels = [e for e in elements if e["tag"] == "collapsible_panel"]
    assert len(panels) == 1 and panels[0]["expanded"] is False
    assert "UPDATE orders" in panels[0]["elements"][0]["content"]
    short = sample_view(CardState.PENDING, Locale.EN_US)
    short = short.model_copy(
        update={"fields": (ViewField(name="SQL", value="SELECT 1;", kind=FieldKind.CODE),)}
    )
    tags = [e["tag"] for e in render_lark(short)["body"]["elements"]]
    assert "collapsible_panel" not in tags


def test_code_cannot_close_its_own_block() -> None:
    sneaky = sample_view(CardState.PENDING, Locale.EN_US).model_copy(
        update={"fields": (ViewField(name="SQL", value="```\n**bold**", kind=FieldKind.CODE),)}
    )
    markdown = render_dingtalk(sneaky)["markdown"]
    assert "````\n```\n**bold**\n````" in markdown


def test_risk_is_a_coloured_tag() -> None:
    lark = json.dumps(render_lark(view("waiting", Locale.EN_US)), ensure_ascii=False)
    assert "<text_tag color='red'>HIGH RISK</text_tag>" in lark
    assert "高风险" in render_dingtalk(view("waiting", Locale.ZH_CN))["markdown"]
    assert (
        'background:#F54A45;">HIGH RISK</span>' in render_email(view("waiting", Locale.EN_US)).html
    )


def test_many_approvers_and_long_code_stay_within_the_limits() -> None:
    many = tuple(f"Approver number {i} with a long display name" for i in range(100))
    progress = ViewProgress(stage=1, stages=10, stage_name="x" * 500, needed=100, waiting=many)
    huge = ViewField(name="SQL", value="SELECT '\u4e00';\n" * 2000, kind=FieldKind.CODE)
    v = sample_view(CardState.PENDING, Locale.ZH_CN).model_copy(
        update={"fields": (huge,) * 30, "progress": progress}
    )
    assert validate("lark", render_lark(v)).size <= LARK_CARD_LIMIT
    assert validate("dingtalk", render_dingtalk(v)).size <= DINGTALK_CARD_LIMIT
    assert "90 more" in render_email(v.model_copy(update={"locale": Locale.EN_US})).text


def test_a_submitted_tickets_field_kinds_reach_the_card() -> None:
    from bot.ticket_view import parse_ticket, ticket_view
    from sandbox.tickets import approver, sample_ticket

    body = sample_ticket("T-KIND", [approver("a1", "Ann")])
    body["fields"] = [
        {"name": "SQL", "value": LONG_SQL, "kind": "code"},
        {"name": "Risk", "value": "medium", "kind": "risk"},
    ]
    card = render_lark(ticket_view(parse_ticket(json.dumps(body)), CardState.PENDING, None))
    assert [e["tag"] for e in card["body"]["elements"]][1:3] == ["collapsible_panel", "markdown"]
    assert "<text_tag color='orange'>MEDIUM RISK</text_tag>" in json.dumps(card)
