"""Reconciliation: a per-partner ledger of orders, ship notices, invoices, payments and returns
that finds where the money leaks (late ASNs, mismatched invoices, short payments, uncredited
returns) and drafts the vendor's 855, 856 and 810.

``handler.reconcile`` is the job, ``handler.sweep`` the periodic deadline check,
``handler.refresh_metrics`` the gauges, ``respond.draft`` the drafts, ``cli.add_parser`` the
``gateway reconcile`` command.
"""
