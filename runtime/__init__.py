"""Process wiring: settings, logging, the Temporal connection. No programme rules here."""
