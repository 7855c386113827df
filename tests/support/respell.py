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


def respellings(headers: dict[str, str]) -> list[dict[str, str]]:
    """The signed headers, then nine spellings a tolerant parser might still accept: an extra
    signature, spaces, a parameter, a changed or non-canonical MAC, the names' case."""
    sig, sig_input = headers["Signature"], headers["Signature-Input"]
    label, _, value = sig.partition("=")
    return [
        headers,
        {**headers, "Signature": sig + ", sig2=:AAAA:"},
        {**headers, "Signature": f"{label}= {value}"},
        {**headers, "Signature": sig + " "},
        {**headers, "Signature-Input": sig_input + ';tag="x"'},
        {**headers, "Signature-Input": sig_input.replace(";", "; ", 1)},
        {**headers, "Signature": sig.replace("=:", "=:A", 1)},
        {**headers, "Signature": sig.rstrip(":").rstrip("=") + ":"},
        {k.lower(): v for k, v in headers.items()},
        {k.upper(): v for k, v in headers.items()},
    ]
