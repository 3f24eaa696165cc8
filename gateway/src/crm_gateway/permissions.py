"""Which role may do what: the permission matrix (docs/permissions.md says the same, and
the tests check every endpoint and role against that document).

Every API endpoint has one permission `<resource>.<action>`: by default its blueprint's
resource with `read` (GET) or `write` (anything else); `@permission(...)` names another.
A token's scopes are checked against the permission's resource: `read` for a `.read`
permission, `write` for every other one.
"""
ROLES = ("admin", "manager", "sales", "readonly")
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"admin", "manager", "sales"})  # who work with the records
ADMINS = frozenset({"admin"})

MATRIX = {
    "clients.read": EVERYONE,
    "clients.write": STAFF,
    "clients.erase": ADMINS,
    "contacts.read": EVERYONE,
    "contacts.write": STAFF,
    "contacts.erase": ADMINS,
    "custom_fields.read": EVERYONE,
    "custom_fields.write": ADMINS,
    "deals.read": EVERYONE,
    "deals.write": STAFF,
    "pipelines.read": EVERYONE,
    "pipelines.write": frozenset({"admin", "manager"}),  # the sales process and its stages
    "activities.read": EVERYONE,
    "activities.write": STAFF,
    "activity_plans.read": EVERYONE,
    "activity_plans.write": frozenset({"admin", "manager"}),  # the steps reps go through
    "users.read": EVERYONE,  # names for the owner and assignee pickers
    "users.write": ADMINS,
    "tokens.read": EVERYONE,  # one's own; an administrator's: everyone's
    "tokens.write": EVERYONE,
    "settings.read": EVERYONE,
    "settings.write": ADMINS,
    "audit.read": ADMINS,
    "status.read": EVERYONE,
    "views.read": EVERYONE,  # one's own and the shared ones
    "views.write": EVERYONE,  # one's own (an administrator: any)
    "account.read": EVERYONE,  # oneself: who am I, my session
    "account.write": EVERYONE,  # my password
    "calendar.read": EVERYONE,  # one's own feed (meetings and tasks)
    "calendar.write": EVERYONE,  # one's own feed token
    "imports.read": EVERYONE,  # one's own jobs (administrators and managers: all)
    "imports.write": STAFF,  # import files; saved mappings
}

# the resource of each blueprint's endpoints, unless one says otherwise
BLUEPRINT_RESOURCES = {"clients": "clients", "contacts": "contacts",
                       "custom_fields": "custom_fields", "status": "status",
                       "users": "users", "tokens": "tokens", "settings": "settings",
                       "audit": "audit", "auth": "account", "views": "views",
                       "deals": "deals", "pipelines": "pipelines",
                       "activities": "activities", "activity_plans": "activity_plans",
                       "calendar": "calendar", "imports": "imports",
                       "attachments": "activities",  # files follow the timeline's rules
                       "registry": "clients"}  # refreshing from ARES writes clients

RESOURCES = sorted({name.split(".")[0] for name in MATRIX})


def permission(name: str):
    """This endpoint needs `name` (a key of MATRIX) instead of its blueprint's default."""
    if name not in MATRIX:
        raise KeyError(f"{name} is not in the permission matrix")

    def decorate(view):
        view.permission = name
        return view
    return decorate


def public(view):
    """An endpoint anyone may call (logging in)."""
    view.public = True
    return view


def feed_token(view):
    """An endpoint that also takes a calendar feed token as its `token` query parameter
    (calendar apps send no headers); see auth.py."""
    view.feed_token = True
    return view


def of_view(view, blueprint: str | None, method: str) -> str | None:
    """The permission an endpoint needs; None for an endpoint outside the API."""
    named = getattr(view, "permission", None)
    if named:
        return named
    resource = BLUEPRINT_RESOURCES.get(blueprint or "")
    if resource is None:
        return None
    return f"{resource}.{'read' if method in ('GET', 'HEAD') else 'write'}"


def allowed(role: str, name: str) -> bool:
    return role in MATRIX[name]


def scope_kind(name: str) -> str:
    return "read" if name.endswith(".read") else "write"
