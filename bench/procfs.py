"""CPU time and peak memory of a process, read from /proc (psutil is not installed)."""
import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process itself (not of its children)."""
    # the command name (field 2) may hold spaces: count fields after its closing ')'
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_memory_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    memory_kib = next(int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    return {"cpu": cpu, "cpu_count": os.cpu_count(),
            "memory_gib": round(memory_kib / 1024 / 1024, 1), "kernel": os.uname().release}


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (a stack entry may be a wrapper around the
    service's own process)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_cpu_seconds(int(child))
    return total


def pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (e.g. the broker's `beam.smp`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile
    return found


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent on anything but idling, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class CpuAccount:
    """CPU seconds each named process (and the whole machine) used between start and stop."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.before = self._read()

    def _read(self) -> dict[str, float]:
        reading = {"machine": machine_busy_seconds()}
        for name, pid in self.pids.items():
            try:
                reading[name] = tree_cpu_seconds(pid)
            except OSError:
                reading[name] = 0.0
        return reading

    def used(self) -> dict[str, float]:
        after = self._read()
        return {name: after[name] - self.before.get(name, 0.0) for name in after}


def tree_peak_memory_mib(pid: int) -> float:
    """The largest VmHWM of a process and its children (gunicorn's master and its
    workers: the busiest worker)."""
    peak = peak_memory_mib(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            peak = max(peak, tree_peak_memory_mib(int(child)))
    return peak
