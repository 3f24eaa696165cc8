"""The container's health, for HEALTHCHECK, compose and Kubernetes probes:
`python -m crm_common.healthcheck` exits 0 when healthy.

With CRM_HEALTH_URL (the gateway's /healthz, the ares service's metrics) that URL must answer
2xx within 4 s. Otherwise only the container itself is asked: PID 1 (nameko) exists and is
neither a zombie nor stopped. A check through the broker or a database would mark every
replica unhealthy during an outage of either, and restarting them would not help."""
import os
import sys
import urllib.request

DEAD_STATES = "ZTtX"  # zombie, stopped, traced, dead (proc(5))


def process_alive(stat_path: str = "/proc/1/stat") -> bool:
    try:
        with open(stat_path) as stat:
            # "pid (comm) state ...": comm may hold spaces and parentheses
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in DEAD_STATES


def url_answers(url: str, timeout: float = 4) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def healthy(environ=os.environ) -> bool:
    url = environ.get("CRM_HEALTH_URL")
    return url_answers(url) if url else process_alive()


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)
