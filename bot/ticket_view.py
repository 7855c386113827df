"""An approval request as the backend sends it, turned into the card view the renderers take.

Shared by ``approval-gateway cards render --ticket`` and the preview page. Unlike
:func:`bot.channels.present.card_view` this needs no stored request or delivery: the first
approver holds the card, and final states borrow the sample decision (its fixed time keeps
the output deterministic).
"""

from __future__ import annotations

from pydantic import ValidationError

from bot.channels.present import ticket_card
from bot.core.intake import ApprovalRequest
from bot.errors import InvalidInput, validation_fields
from cards import ApprovalView, CardState, Locale, sample_view


def parse_ticket(raw: str | bytes, source: str = "ticket") -> ApprovalRequest:
    """Parse approval-request JSON; every problem becomes one InvalidInput naming the fields."""
    try:
        return ApprovalRequest.model_validate_json(raw)
    except ValidationError as exc:
        fields = validation_fields(exc)
        if "body" in fields and len(fields) == 1:
            raise InvalidInput(f"{source} is not valid JSON: {fields['body']}", fields) from None
        listed = "; ".join(f"{where}: {why}" for where, why in fields.items())
        raise InvalidInput(f"{source} is not a valid approval request: {listed}", fields) from None


def ticket_view(ticket: ApprovalRequest, state: CardState, locale: Locale | None) -> ApprovalView:
    """The card the first approver of ``ticket`` sees in ``state``.

    ``locale`` overrides the ticket's own; decision and failure note come from the sample.
    """
    chosen = locale or Locale(ticket.locale)
    sample = sample_view(state, chosen)
    holder = ticket.approvers[0].display_name
    decision = sample.decision.model_copy(update={"by": holder}) if sample.decision else None
    return ticket_card(
        ticket,
        approver=holder,
        state=state,
        locale=chosen,
        decision=decision,
        action_ref=sample.action_ref,
        note=sample.note,
    )


def view_for(
    state: CardState, locale: Locale | None, ticket: ApprovalRequest | None
) -> ApprovalView:
    """The view of ``ticket`` if given, else the sample ticket (English unless ``locale``)."""
    if ticket is not None:
        return ticket_view(ticket, state, locale)
    return sample_view(state, locale or Locale.EN_US)
