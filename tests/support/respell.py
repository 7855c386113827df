"""Re-spelling signed header fields the way a lenient or hostile sender might, for the
signature verifier's property tests."""

from __future__ import annotations

from multidict import CIMultiDict


def respell(fields: CIMultiDict[str], change: tuple[str, str, str], at: int) -> CIMultiDict[str]:
    """``fields`` with one change ``(header, how, text)`` made at position ``at`` (taken modulo
    the field's length): append, prepend, insert, case, split, duplicate, replace or drop."""
    name, how, text = change
    fields = fields.copy()
    value = ", ".join(fields.popall(name, []))  # one line, as RFC 9110 combines them
    cut = at % (len(value) + 1)
    if how == "append":
        fields[name] = value + text
    elif how == "prepend":
        fields[name] = text + value
    elif how == "insert":
        fields[name] = value[:cut] + text + value[cut:]
    elif how == "case":
        fields[name.swapcase()] = value
    elif how == "split":
        fields.add(name, value[:cut])
        fields.add(name, value[cut:])
    elif how == "duplicate":
        fields.add(name, value)
        fields.add(name, value)
    elif how == "replace" and value:
        fields[name] = value[:cut] + text + value[cut + 1 :]
    # "drop": the field is gone
    return fields
