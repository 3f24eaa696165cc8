"""Benchmarks (`make bench`): each path of the plumbing next to its raw py-amqp floor,
measured in the same run; results go to var/bench/results.json and docs/benchmarks.md."""
