"""One example per API model, shown in the OpenAPI document wherever the model is a body.

Each example is validated against its model by the tests, so an example cannot drift from the
model it illustrates.

Over 400 lines on purpose: it is a table of data, one example per model and no logic; split by
area, the OpenAPI document would have to gather the examples from several places again.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from bot.channel_access import AuthorizeResult, ChannelStatus, Notice
from bot.core.intake import ApprovalRequest
from bot.core.ports import DecisionEvent, StepEvent, VoteEvent
from bot.core.service import SubmitReceipt, Withdrawal
from bot.core.storage import AuditPage, UsageReport
from bot.core.timing.now import RemindNowResult
from bot.http.bindings import (
    AccountBindingsOut,
    BindingIn,
    BindingOut,
    BindingPageOut,
    LookupIn,
    LookupOut,
)
from bot.http.channels import AuthorizeIn, RevokeOut
from bot.http.delegations import DelegationIn, DelegationOut, DelegationsOut, MyDelegationIn
from bot.http.handover import HandOverIn
from bot.http.me import ActingAccount, BindingCodeOut, MyBindingsOut
from bot.http.preferences import (
    ConfirmedOut,
    ConfirmIn,
    EmailIn,
    MyPreferencesIn,
    PendingEmailOut,
    PreferencesIn,
    PreferencesOut,
)
from bot.http.schemas import (
    ApprovalOut,
    CallbackRefusal,
    DingTalkAnswer,
    DingTalkEnvelope,
    ErrorBody,
    HealthOut,
    LarkAnswer,
    LarkEnvelope,
    ReadyOut,
)
from bot.http.sendtest import TestSend, TestSent

AT: Final = "2026-11-23T18:04:05Z"
TICKET: Final[dict[str, Any]] = {
    "ticket_id": "DMS-1042",
    "title": "Add an index on orders.created_at",
    "summary": "Speeds up the daily settlement report.",
    "fields": [{"name": "Database", "value": "prod-mysql-01"}],
    "submitter": {"account_id": "1001", "display_name": "Chen Jie", "account_type": "main"},
    "approvers": [
        {"account_id": "2001", "account_type": "main", "display_name": "Li Na", "region": "cn"}
    ],
    "notify_submitter": True,
    "console_url": "https://dms.example.com/tickets/DMS-1042",
    "expires_at": "2026-11-24T18:00:00Z",
    "locale": "zh-CN",
}
_DELIVERY: Final[dict[str, Any]] = {
    "delivery_id": "5b1e0c7a9d2f4e8b8a1c3d5e7f901234",
    "account_id": "2001",
    "channel": "dingtalk",
    "state": "sent",
    "reason": None,
}
_TRACE: Final[dict[str, Any]] = {
    "request_id": "0f6a2c4e8b1d4f3a9c7e5b2d1a0f9e8d",
    "ticket_id": "DMS-1042",
    "title": TICKET["title"],
    "status": "approved",
    "created_at": "2026-11-23T18:00:00Z",
    "expires_at": TICKET["expires_at"],
    "closed_at": AT,
    "close_reason": "decided",
    "deliveries": [
        {
            **_DELIVERY,
            "state": "updated",
            "history": [
                {"at": "2026-11-23T18:00:01Z", "state": "sent", "detail": "sent"},
                {"at": "2026-11-23T18:04:06Z", "state": "updated", "detail": "card updated"},
            ],
        }
    ],
    "decision": {
        "event_id": "9f1c2b3a4d5e6f708192a3b4c5d6e7f8",
        "decision": "approved",
        "approver": {"account_id": "2001", "display_name": "Li Na"},
        "channel": "dingtalk",
        "comment": "LGTM",
        "decided_at": AT,
        "forward_state": "forwarded",
        "forward_detail": "200",
    },
    "stages": [
        {
            "name": "",
            "rule": "any",
            "needed": 1,
            "state": "approved",
            "votes": [
                {
                    "account_id": "2001",
                    "display_name": "Li Na",
                    "outcome": "approved",
                    "comment": "LGTM",
                    "channel": "dingtalk",
                    "at": AT,
                }
            ],
            "awaited": [],
        }
    ],
    "awaited": [],
    "steps": [
        {
            "kind": "reminder",
            "number": 1,
            "action": "remind",
            "account_id": "2001",
            "due": "2026-11-23T19:00:00Z",
            "state": "cancelled",
            "done_at": AT,
        }
    ],
    "submitter_notice": {
        "channel": "dingtalk",
        "text": f"已批准：{TICKET['title']} (DMS-1042)\n审批人：Li Na\n控制台：{TICKET['console_url']}",
        "state": "done",
        "queued_at": AT,
        "done_at": "2026-11-23T18:04:06Z",
        "error": None,
    },
}
_BINDING: Final[dict[str, Any]] = {
    "account_id": "2001",
    "channel": "lark",
    "address": "ou_7d8a6e6df7621556ce0d21922b676706",
    "bound_by": "admin-token-1",
    "method": "admin-api",
    "bound_at": AT,
}
_PREFS: Final[dict[str, Any]] = {
    "account_id": "2001",
    "channel_order": ["lark", "dingtalk"],
    "email_enabled": True,
    "time_zone": "Asia/Shanghai",
    "email_pending": False,
    "updated_by": "2001",
    "updated_at": AT,
}

_DELEGATION: Final[dict[str, Any]] = {
    "account_id": "2001",
    "delegate_id": "2002",
    "starts_at": "2026-12-01T01:00:00Z",
    "ends_at": "2026-12-04T10:00:00Z",
    "set_by": "2001",
}

SAMPLES: Final[dict[type[BaseModel], Any]] = {
    ApprovalRequest: TICKET,
    SubmitReceipt: {
        "request_id": _TRACE["request_id"],
        "ticket_id": "DMS-1042",
        "status": "pending",
        "deliveries": [_DELIVERY],
    },
    Withdrawal: {"reason": "withdrawn"},
    RemindNowResult: {
        "ticket_id": "DMS-1042",
        "reminded": [
            {"account_id": "2001", "display_name": "Ann", "channel": "lark", "urgent": "app"}
        ],
        "skipped": [
            {
                "account_id": "2002",
                "display_name": "Bo",
                "reason": "reminded too recently",
                "last_reminded_at": "2026-12-01T09:02:00Z",
                "again_at": "2026-12-01T09:12:00Z",
            }
        ],
    },
    ApprovalOut: _TRACE,
    ErrorBody: {
        "error": {
            "code": "invalid_input",
            "message": "the body is invalid",
            "fields": {"approvers": "List should have at least 1 item after validation"},
        }
    },
    DecisionEvent: {
        "event_id": "9f1c2b3a4d5e6f708192a3b4c5d6e7f8",
        "type": "approval.decision",
        "ticket_id": "DMS-1042",
        "decision": "approved",
        "approver": {"account_id": "2001", "display_name": "Li Na"},
        "channel": "dingtalk",
        "comment": "LGTM",
        "decided_at": AT,
        "votes": [
            {
                "account_id": "2001",
                "display_name": "Li Na",
                "outcome": "approved",
                "comment": "LGTM",
                "channel": "dingtalk",
                "at": AT,
                "stage": 0,
            }
        ],
        "stages": [
            {
                "name": "",
                "rule": "any",
                "needed": 1,
                "result": "approved",
                "approved": 1,
                "rejected": 0,
            }
        ],
    },
    HealthOut: {"status": "ok"},
    StepEvent: {
        "event_id": "9c2f0e1d4b3a5c6d7e8f9a0b1c2d3e4f",
        "type": "approval.escalated",
        "ticket_id": "DMS-1042",
        "step": "escalation 1",
        "account_id": "2002",
        "display_name": "Wang Wei",
        "channel": "lark",
        "sent": "app",
        "asked": "sms",
        "detail": "escalation 1: app urgency on the original card (lark) (sms urgency not used: "
        "lark's consent does not accept paid urgency (authorize it with paid_urgency: true))",
        "at": AT,
    },
    VoteEvent: {
        "event_id": "3b7e91c04a2d5f6e8a9b0c1d2e3f4a5b",
        "type": "approval.vote",
        "ticket_id": "DMS-1042",
        "vote": {
            "account_id": "2002",
            "display_name": "Wang Wei",
            "outcome": "approved",
            "comment": None,
            "channel": "lark",
            "at": AT,
            "stage": 0,
        },
        "stages": [
            {
                "name": "",
                "rule": "quorum",
                "needed": 2,
                "result": "pending",
                "approved": 1,
                "rejected": 0,
            }
        ],
    },
    ReadyOut: {
        "status": "ready",
        "checks": {"store": "writable", "dingtalk": "connected"},
        "replica": {"id": "gw-1:4242", "pid": 4242, "connections": {"dingtalk": True}},
    },
    AuditPage: {
        "items": [
            {
                "id": 17,
                "at": AT,
                "who": "2001",
                "action": "decision",
                "target": "DMS-1042",
                "detail": "approved on dingtalk",
                "source": "stream:conn-1",
            }
        ],
        "next_before": 17,
    },
    UsageReport: {
        "from_day": "2026-11-01",
        "to_day": "2026-11-23",
        "group_by": "day",
        "rows": [
            {
                "channel": "lark",
                "day": "2026-11-23",
                "sent": 12,
                "updated": 9,
                "urgent_sms": 2,
                "urgent_phone": 0,
            }
        ],
        "totals": {"lark": {"sent": 12, "updated": 9, "urgent_sms": 2, "urgent_phone": 0}},
    },
    ChannelStatus: {
        "channel": "lark",
        "kind": "lark",
        "state": "authorized",
        "running": True,
        "authorized_by": "admin-token-1",
        "authorized_at": AT,
        "notice_version": "3f2a1b0c9d8e",
        "notice_current": True,
        "credentials": "stored",
        "health": {"connected": True, "detail": "connected"},
        "paid_urgency": True,
        "usage_this_month": {"sent": 12, "updated": 9, "urgent_sms": 2, "urgent_phone": 0},
    },
    Notice: {
        "channel": "lark",
        "version": "3f2a1b0c9d8e",
        "uses": "sends approval cards as the app's bot and updates them",
        "billing": {"unit": "message", "currency": "CNY", "platform_per_message": 0.0},
        "credential_fields": ["app_id", "app_secret"],
        "credentials_in_settings": False,
    },
    AuthorizeResult: {
        "channel": "lark",
        "state": "authorized",
        "notice_version": "3f2a1b0c9d8e",
        "credentials": "stored encrypted",
        "check": "token fetched",
        "next_steps": ["bind approvers: PUT /v1/bindings/{account_id}"],
    },
    CallbackRefusal: {"error": "callback timestamp is outside the replay window"},
    LarkEnvelope: {
        "schema": "2.0",
        "header": {
            "event_id": "f7984f25108f8137722bb63cee927e66",
            "event_type": "card.action.trigger",
            "create_time": "1779560645000",
            "token": "v-token",
            "app_id": "cli_a1b2c3d4e5f6",
            "tenant_key": "2ca1d211f64f6438",
        },
        "event": {"action": {"value": {"ref": _DELIVERY["delivery_id"], "action": "approve"}}},
    },
    LarkAnswer: {"toast": {"type": "success", "content": "Approved"}},
    DingTalkEnvelope: {
        "encrypt": "1ojQf0NSvw2WPvW7LijxS8UvISr8pdDP+rXpPbcLGOmIBNbWetRg7IP0vdhVgkVw"
    },
    DingTalkAnswer: {
        "msg_signature": "111108bb8e6dbce3c9671d6fdb69d15066227608",
        "timeStamp": "1779560645000",
        "nonce": "a1b2c3d4e5f60718",
        "encrypt": "1ojQf0NSvw2WPvW7LijxS8UvISr8pdDP+rXpPbcLGOmIBNbWetRg7IP0vdhVgkVw",
    },
    BindingIn: {"channel": "lark", "address": _BINDING["address"]},
    BindingOut: _BINDING,
    BindingPageOut: {"items": [_BINDING], "next_cursor": None},
    AccountBindingsOut: {"account_id": "2001", "bindings": [_BINDING]},
    LookupIn: {"lark_email": "li.na@example.com"},
    LookupOut: {"channel": "lark", "address": _BINDING["address"], "found": True},
    ActingAccount: {"account_id": "2001"},
    BindingCodeOut: {"code": "K7QX-2M9P", "command": "bind K7QX-2M9P", "expires_at": AT},
    MyBindingsOut: {
        "account_id": "2001",
        "bindings": [
            {
                "channel": "lark",
                "address": _BINDING["address"],
                "method": "self",
                "bound_at": AT,
            }
        ],
    },
    PreferencesIn: {
        "channel_order": ["lark", "dingtalk"],
        "email_enabled": True,
        "time_zone": "Asia/Shanghai",
    },
    MyPreferencesIn: {"account_id": "2001", "email_enabled": False},
    PreferencesOut: _PREFS,
    EmailIn: {"account_id": "2001", "address": "li.na@example.com"},
    ConfirmIn: {"account_id": "2001", "code": "482913"},
    PendingEmailOut: {
        "account_id": "2001",
        "address": "li.na@example.com",
        "status": "pending",
        "expires_at": "2026-11-24T18:04:05Z",
    },
    ConfirmedOut: {
        "account_id": "2001",
        "address": "li.na@example.com",
        "status": "verified",
    },
    DelegationIn: {"delegate_id": "2002", "ends_at": "2026-12-04T18:00:00+08:00"},
    MyDelegationIn: {
        "account_id": "2001",
        "delegate_id": "2002",
        "starts_at": "2026-12-01T09:00:00+08:00",
        "ends_at": "2026-12-04T18:00:00+08:00",
    },
    DelegationOut: _DELEGATION,
    HandOverIn: {"account_id": "2001", "to": {"account_id": "2002", "display_name": "Wang Lei"}},
    DelegationsOut: {"delegations": [_DELEGATION], "max_depth": 3},
    AuthorizeIn: {"accept_notice": True, "notice_version": "3f2a1b0c9d8e", "paid_urgency": True},
    RevokeOut: {"channel": "lark", "state": "revoked", "rerouted": 3},
    TestSend: {"channel": "lark", "account_id": "2001", "locale": "en-US"},
    TestSent: {
        "delivery_id": "test-5b1e0c7a9d2f4e8b",
        "channel": "lark",
        "external_ref": "om_dc13264520392913993dd051dba21dcf",
    },
}


def sample(model: type[BaseModel]) -> Any:
    """The example of ``model`` (None when it has none)."""
    return SAMPLES.get(model)
