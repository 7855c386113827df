"""Sample approval requests for the demo, the tests and support's checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def approver(
    account_id: str, name: str, account_type: str = "main", region: str = "cn"
) -> dict[str, str]:
    """An approver entry as the backend sends it."""
    return {
        "account_id": account_id,
        "account_type": account_type,
        "display_name": name,
        "region": region,
    }


def sample_ticket(
    ticket_id: str,
    approvers: list[dict[str, str]],
    *,
    expires_in: timedelta = timedelta(hours=4),
    locale: str = "en-US",
) -> dict[str, Any]:
    """A database-change ticket as a DMS-like backend would submit it."""
    return {
        "ticket_id": ticket_id,
        "title": "ALTER TABLE orders ADD INDEX idx_created_at (created_at)",
        "summary": "Add an index to speed up the daily settlement report on orders (prod-mysql-01).",
        "fields": [
            {"name": "Database", "value": "prod-mysql-01 / shop"},
            {"name": "Affected rows (est.)", "value": "12,400,000"},
            {"name": "Change window", "value": "tonight 23:00-23:30"},
        ],
        "submitter": {"account_id": "1001", "display_name": "Chen Jie"},
        "approvers": approvers,
        "console_url": f"https://dms.example.com/tickets/{ticket_id}",
        "expires_at": (datetime.now(UTC) + expires_in).isoformat(),
        "locale": locale,
    }
