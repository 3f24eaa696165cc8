"""Run one service in the foreground, as its container does: `python -m crm_common.serve [name]`
(the name from CRM_SERVICE otherwise). It replaces itself with `nameko run`, so the service is
the container's PID 1 and gets its signals (SIGTERM: running workers finish, then it exits)."""
import os
import sys

from crm_common.stack import SERVICES, nameko_command


def command(name: str) -> list[str]:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; one of: {', '.join(SERVICES)}")
    return nameko_command(name)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    name = argv[0] if argv else os.environ.get("CRM_SERVICE", "")
    argv = command(name)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
