"""A small Zoho CRM client that knows nothing of Singer: regions, auth, HTTP, credits, metadata,
queries, REST and Bulk writes."""
