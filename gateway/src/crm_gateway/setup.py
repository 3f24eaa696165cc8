"""`python -m crm_gateway.setup [--base-url URL]`: how the first person logs in.

With `CRM_ADMIN_EMAIL` and `CRM_ADMIN_PASSWORD` set, that administrator is created (once;
an existing user is left as it is). Otherwise, while no user exists, a one-time setup link
is printed (valid `SETUP_TOKEN_HOURS`): whoever opens it creates the first administrator.
Run after the gateway's migrations (`make run` does both).
"""
import argparse
import os
import sys

from crm_common.db import while_unreachable

from . import create_app
from .accounts import passwords, setup, store, users


def first_login(base_url: str) -> str:
    """What to tell the person who just started the system."""
    app = create_app({"RPC": object()})  # no RPC is made here
    return while_unreachable(store.url(app.config), lambda: _first_login(app, base_url))


def _first_login(app, base_url: str) -> str:
    email, password = os.environ.get("CRM_ADMIN_EMAIL"), os.environ.get("CRM_ADMIN_PASSWORD")
    with app.app_context(), store.transaction() as connection:
        if email and password:
            wrong = passwords.problems(password)
            if wrong:
                raise SystemExit(f"CRM_ADMIN_PASSWORD: {' '.join(wrong)}")
            if users.by_email(connection, email) is None:
                users.create(connection, {"email": email, "name": email.split("@")[0],
                                          "role": "admin", "password": password})
                return f"Log in at {base_url}/ as {email.lower()} (an administrator, just " \
                       "created from CRM_ADMIN_EMAIL)."
            return f"Log in at {base_url}/ as {email.lower()}."
        if users.count(connection) > 0:
            return f"Log in at {base_url}/ with your user."
        token = setup.issue(connection, float(app.config["SETUP_TOKEN_HOURS"]))
    return (f"First start: create the administrator at {base_url}/#setup={token} "
            f"(a one-time link, valid {app.config['SETUP_TOKEN_HOURS']:g} hours), or set "
            "CRM_ADMIN_EMAIL and CRM_ADMIN_PASSWORD and start again.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=f"http://127.0.0.1:"
                                              f"{os.environ.get('GATEWAY_PORT') or 8080}")
    args = parser.parse_args(argv)
    print(first_login(args.base_url.rstrip("/")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
