"""What a write changed, as every history row and update event says it."""


def assign(target, values: dict) -> dict:
    """Set each of `values` on `target`: {field: {before, after}} of the ones that differed."""
    changes = {}
    for name, after in values.items():
        before = getattr(target, name)
        if before != after:
            changes[name] = {"before": before, "after": after}
            setattr(target, name, after)
    return changes
