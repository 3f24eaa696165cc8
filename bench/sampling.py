"""Floors and project measured alternately (floor, project, floor, ...), because a shared
machine's load changes by the minute: each figure then has a floor taken next to it."""
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from .report import HIGHER, Metric, best


@dataclass
class Sample:
    result: Any
    load_average: list[float]


def measure(label: str, run: Callable[[], Any]) -> Sample:
    started = time.monotonic()
    result = run()
    print(f"  {label}: {result} ({time.monotonic() - started:.1f} s, load "
          f"{os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    return Sample(result, list(os.getloadavg()))


def alternate(floor: Callable[[], Any], projects: dict[str, Callable[[], Any]], rounds: int
              ) -> tuple[list[Sample], dict[str, list[Sample]]]:
    """floor, every project, floor, ... `rounds` times, ending with a floor."""
    floors = [measure("floor", floor)]
    runs: dict[str, list[Sample]] = {name: [] for name in projects}
    for _ in range(rounds):
        for name, project in projects.items():
            runs[name].append(measure(name, project))
        floors.append(measure("floor", floor))
    return floors, runs


def metric(name: str, unit: str, runs: list[Sample], value: Callable[[Any], float],
           floors: list[Sample] | None = None, floor_value: Callable[[Any], float] = None,
           better: str = HIGHER, **fields) -> Metric:
    """The best project sample (with the load average it ran under) against the best floor."""
    chosen = (max if better == HIGHER else min)(runs, key=lambda s: value(s.result))
    floor_samples = [floor_value(s.result) for s in floors or []]
    return Metric(name=name, value=value(chosen.result), unit=unit, better=better,
                  floor=best(floor_samples, better) if floor_samples else None,
                  samples=[value(s.result) for s in runs], floor_samples=floor_samples,
                  load_average=chosen.load_average, **fields)
