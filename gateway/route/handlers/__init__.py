"""Route targets: reconciliation, customs filing, and sinks (directory, webhook)."""
