"""Record → Zoho payload, CPU only: field mapping and value conversion (no I/O)."""
