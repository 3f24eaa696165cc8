"""Who calls: the caller travels with every RPC (DESIGN: "services apply access rules in
their queries"), so a service answers only what that caller may see.

The gateway sends it as RPC context (`caller_id`, `caller_role`, `own_only`); a service
reads it with `Caller.from_context`. Work caused by an event, not by a person, has no
caller and sees everything.
"""
from dataclasses import dataclass

# roles the record-level rule narrows: "sales reps see only the clients and deals they own"
RESTRICTED_ROLES = frozenset({"sales"})
# roles that see everyone's jobs (imports, refreshes), not only their own
OVERSEEING_ROLES = frozenset({"admin", "manager"})


@dataclass(frozen=True)
class Caller:
    user_id: str | None = None
    role: str | None = None
    own_only: bool = False  # the organisation's setting `sales_see_own_only`

    @property
    def restricted(self) -> bool:
        """Sees only records they own (others answer as if they did not exist)."""
        return self.own_only and self.role in RESTRICTED_ROLES

    @property
    def oversees(self) -> bool:
        """Sees everyone's work (a job started by someone else); so does the system."""
        return self.role in OVERSEEING_ROLES or (self.role is None and self.user_id is None)

    def may_see(self, owner_id: str | None) -> bool:
        return not self.restricted or (owner_id is not None and owner_id == self.user_id)

    def to_context(self) -> dict:
        return {"caller_id": self.user_id, "caller_role": self.role,
                "own_only": self.own_only}

    @classmethod
    def from_context(cls, data) -> "Caller":
        own_only = data.get("own_only")
        return cls(user_id=data.get("caller_id") or None, role=data.get("caller_role") or None,
                   own_only=own_only is True or str(own_only).lower() in ("1", "true"))


SYSTEM = Caller()  # no person: event handlers, migrations, the bootstrap token
