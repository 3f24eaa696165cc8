"""Merging two records of one client: which values the surviving one keeps. Plain Python.

The user picks a side per field (`{"<field>": "source" | "target"}`); a field not picked
keeps the target's value, or takes the source's where the target has none (the register's
fields excepted while the target has an IČO: there ARES decides). Lists are united, the
picked side's entries first (so `email: source` makes the source's e-mail the first one);
custom field values are picked per key (`custom_fields: {"<key>": side}`).
"""
from crm_common.errors import ValidationFailed

from .domain import REGISTRY_FIELDS, Client, absent

SIDES = ("source", "target")
# one value: the picked side's
SINGLE = ("kind", "name", "ico", "dic", "vat_payer", "legal_form", "legal_form_name", "nace",
          "registered_address", "website", "description", "industry", "relationship",
          "category", "owner_id", "parent_id", "contact_address", "billing",
          "contact_preferences")
# lists: both sides' entries, the picked side's first (its first e-mail and phone become
# the client's `email` and `phone`)
UNITED = {"emails": "value", "phones": "value", "tags": None, "delivery_addresses": None,
          "bank_accounts": "number"}
CUSTOM = "custom_fields"  # {key: side}
PICKABLE = (*SINGLE, *UNITED, CUSTOM)


def checked_choices(choices) -> dict:
    """The user's picks, or ValidationFailed naming each one that is not a field or side."""
    if choices is None:
        return {}
    if not isinstance(choices, dict):
        raise ValidationFailed({"fields": ['An object: {"<field>": "source" | "target"}.']})
    errors = {}
    for name, side in choices.items():
        if name == CUSTOM:
            if not isinstance(side, dict) or not all(value in SIDES
                                                     for value in side.values()):
                errors[f"fields.{name}"] = ['{"<key>": "source" | "target"}']
        elif name not in PICKABLE:
            errors[f"fields.{name}"] = [f"Not a field to pick: one of {', '.join(PICKABLE)}."]
        elif side not in SIDES:
            errors[f"fields.{name}"] = ['"source" or "target".']
    if errors:
        raise ValidationFailed(errors)
    return dict(choices)


def merged_values(target: Client, source: Client, picks: dict[str, str]) -> dict:
    """The target's fields after the merge (only the fields the merge decides)."""
    values = {}
    for name in ("ico", *SINGLE):
        if name in values:
            continue
        mine, theirs = getattr(target, name), getattr(source, name)
        side = picks.get(name)
        if side is None:
            # with an IČO the register fills its own fields (a lookup follows a new one)
            register_decides = name in REGISTRY_FIELDS and bool(values["ico"])
            side = "source" if absent(mine) and not absent(theirs) and not register_decides \
                else "target"
        values[name] = theirs if side == "source" else mine
    for name, key in UNITED.items():
        first, second = (source, target) if picks.get(name) == "source" else (target, source)
        values[name] = united(getattr(first, name), getattr(second, name), key)
    if values["bank_accounts"]:  # one primary account: the first side's
        primary = next((a for a in values["bank_accounts"] if a.get("primary")), None)
        values["bank_accounts"] = [dict(a, primary=a is primary) for a in
                                   values["bank_accounts"]]
    values["custom_fields"] = merged_custom_fields(target.custom_fields, source.custom_fields,
                                                   picks)
    return values


def united(first: list, second: list, key: str | None) -> list:
    """`first`'s entries, then `second`'s that `first` lacks (the same `key` value, or the
    same entry when entries have no key)."""
    def identity(entry):
        return entry.get(key) if key and isinstance(entry, dict) else repr(entry)
    seen, result = set(), []
    for entry in [*(first or []), *(second or [])]:
        if identity(entry) not in seen:
            seen.add(identity(entry))
            result.append(entry)
    return result


def merged_custom_fields(target: dict, source: dict, picks: dict[str, str]) -> dict:
    values, custom_picks = dict(target or {}), picks.get(CUSTOM) or {}
    for key, value in (source or {}).items():
        picked = custom_picks.get(key)
        if picked == "source" or (picked is None and absent(values.get(key))):
            values[key] = value
    return values
