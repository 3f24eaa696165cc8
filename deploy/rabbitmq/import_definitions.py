"""Import broker definitions through the RabbitMQ management HTTP API (standard library only).

    RABBITMQ_MANAGEMENT_URL=http://rabbitmq:15672 RABBITMQ_USERNAME=guest RABBITMQ_PASSWORD=guest \
        python import_definitions.py definitions.json

Used by the `rabbitmq-definitions` one-shot in docker-compose.yml (in Kubernetes the same
exchanges are messaging-topology Exchange resources, deploy/k8s/infra). Importing is additive and idempotent:
existing exchanges with the same arguments are left as they are. Definitions are imported
after boot rather than with `load_definitions`, because a node that loads definitions at boot
does not create its default user.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request


def main(path: str) -> int:
    base = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://localhost:15672").rstrip("/")
    user = os.environ.get("RABBITMQ_USERNAME", "guest")
    password = os.environ.get("RABBITMQ_PASSWORD", "guest")
    attempts = int(os.environ.get("RABBITMQ_IMPORT_ATTEMPTS", "30"))
    with open(path, "rb") as f:
        body = f.read()
    json.loads(body)  # fail early on a broken file
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"{base}/api/definitions", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Basic {auth}"})
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                print(f"imported {path} into {base} ({resp.status})", file=sys.stderr)
                return 0
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 401, 403):  # wrong file or credentials: retrying won't help
                print(f"import failed: {exc.code} {exc.read().decode(errors='replace')}",
                      file=sys.stderr)
                return 1
            error = f"{exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            error = str(exc)
        print(f"management API not ready (attempt {attempt}/{attempts}): {error}", file=sys.stderr)
        time.sleep(2)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
