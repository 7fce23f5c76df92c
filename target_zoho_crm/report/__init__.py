"""What the run reports: the rejects file, the summary, and the redaction of secrets from both and from logs."""
