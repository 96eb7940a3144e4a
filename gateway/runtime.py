"""What job handlers and transports share at run time: config, store, archive, current partners,
the AS2 helper processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.archive import Archive
from gateway.as2.offload import Helpers
from gateway.config import Config
from gateway.partners import Partner, PartnerSet
from gateway.store.database import Database
from gateway.worker import PermanentError


@dataclass
class Runtime:
    config: Config
    db: Database
    archive: Archive
    partners: PartnerSet
    owner: str                  # this process in leases and the audit trail
    helpers: Helpers            # where received AS2 messages are opened and MDNs signed
    wake_worker: object = field(default=lambda: None)

    def reconcile_settings(self) -> dict[str, dict]:
        """Each current partner's reconciliation overrides (they follow reloads)."""
        return {pid: p.reconcile for pid, p in self.partners.partners.items()}

    def partner(self, partner_id: str) -> Partner:
        """The partner as currently configured; gone or disabled partners fail the job for good."""
        partner = self.partners.partners.get(partner_id)
        if partner is None or not partner.enabled:
            raise PermanentError(f"partner {partner_id!r} is not configured or is disabled")
        return partner
