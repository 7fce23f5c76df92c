"""The load: stream plans, batches, lookups, keys, ordering and STATE, spooling."""
