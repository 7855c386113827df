"""Person pickers (``select_person``, 人员选择-单选) in card JSON 2.0: checked when a card is sent
or updated, and found when a sandbox user picks someone on one.

The rules are the component's documented fields (open.larksuite.com, feishu-cards >
card-json-v2-components > interactive-components > select-person; also larksuite/cli's
``skills/lark-im/references/card/components/select_person.md``):

- ``tag`` is the only field always required; ``name`` is required inside a ``form`` (and unique
  in the card: the form's submission is keyed by it);
- ``options`` is a list of ``{"value": open_id}`` (a value that is no user's open_id is not
  refused: see below); ``initial_option`` must be one of them;
- ``placeholder`` is a ``plain_text`` object; ``behaviors`` a list of ``callback`` /
  ``open_url`` behaviors.

Whom a picker offers (:func:`offered`) follows the doc's ``options`` field: "the option content
is displayed in the order of the option array ... When the options array is empty, or all the
values of value are invalid, the candidate options are displayed as all member options in the
conversation where the card is located" (open.larksuite.com/document/uAjLw4CM/ukzMukzMukzM/
feishu-cards/card-json-v2-components/interactive-components/single-select-user-picker). The
sandbox's cards are in one-to-one chats with the bot, whose only person is the card's holder.
A phone shows nobody else, so nobody else can be picked: :meth:`LarkSandbox.pick` refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sandbox.lark.state import CARD_CONTENT_ERROR, ApiError

TAG = "select_person"
_BEHAVIORS = ("callback", "open_url")


class NotOffered(ValueError):
    """A pick of someone the picker does not offer: the client cannot send one."""


def check_pickers(card: dict[str, Any]) -> None:
    """Refuse a card whose person pickers break the documented fields (code 230099)."""
    for picker, in_form in _pickers(card.get("body"), in_form=False):
        problem = _problem(picker, in_form)
        if problem:
            raise ApiError(400, CARD_CONTENT_ERROR, f"select_person: {problem}")


def find_picker(card: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The card's person picker outside a form (named ``name`` if given); KeyError if none."""
    for picker, in_form in _pickers(card.get("body"), in_form=False):
        if not in_form and (name is None or picker.get("name") == name):
            return picker
    raise KeyError(name or TAG)


def callback_value(picker: dict[str, Any]) -> dict[str, Any]:
    """The value the picker's callback behavior carries back ({} when it has none)."""
    for behavior in picker.get("behaviors") or []:
        if isinstance(behavior, dict) and behavior.get("type") == "callback":
            value = behavior.get("value")
            return value if isinstance(value, dict) else {}
    return {}


def offered(
    picker: dict[str, Any], members: Sequence[str], known: Callable[[str], bool]
) -> list[str]:
    """The open_ids the picker offers, in order: its options that are ``known`` users, or the
    chat's ``members`` when it has none that are (see the module's docstring)."""
    valid = [v for v in _values(picker) if known(v)]
    return valid or list(members)


def _values(picker: dict[str, Any]) -> list[str]:
    options = picker.get("options") or []
    return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)]


def _pickers(node: Any, *, in_form: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    if isinstance(node, list):
        for child in node:
            yield from _pickers(child, in_form=in_form)
    elif isinstance(node, dict):
        if node.get("tag") == TAG:
            yield node, in_form
        inside = in_form or node.get("tag") == "form"
        for key in ("elements", "columns"):
            yield from _pickers(node.get(key), in_form=inside)


def _problem(picker: dict[str, Any], in_form: bool) -> str | None:
    name, options = picker.get("name"), picker.get("options")
    if in_form and not (isinstance(name, str) and name):
        return "name is required inside a form"
    if options is not None and not _open_ids(options):
        return "options must be a list of {value: string}"
    initial = picker.get("initial_option")
    if initial is not None and initial not in _values(picker):
        return "initial_option must be one of the options"
    placeholder = picker.get("placeholder")
    if placeholder is not None and not _plain_text(placeholder):
        return "placeholder must be a plain_text object"
    behaviors = picker.get("behaviors")
    if behaviors is not None and not _behaviors(behaviors):
        return "behaviors must be a list of callback or open_url behaviors"
    return None


def _open_ids(options: Any) -> bool:
    # Values that are no open_id are not refused: the doc falls back to the chat's members.
    return isinstance(options, list) and all(
        isinstance(o, dict) and isinstance(o.get("value"), str) for o in options
    )


def _plain_text(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("tag") == "plain_text"
        and isinstance(value.get("content"), str)
    )


def _behaviors(behaviors: Any) -> bool:
    return isinstance(behaviors, list) and all(
        isinstance(b, dict) and b.get("type") in _BEHAVIORS for b in behaviors
    )
