"""Benchmarks for target-zoho-crm (`make bench`): CPU path, REST throughput, credits, memory, Bulk.

Every figure is measured side by side in one run against the Zoho CRM emulator running in its own
process, so the emulator's CPU is never counted as the target's. `python -m bench.run --help`.
"""
