"""The `make bench` harness: cases, measurement, report (see bench/README.md)."""
