"""Adversarial campaign against target-zoho-crm, written from the README alone (issue 13)."""
