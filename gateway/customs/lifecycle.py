"""A consignment's states and the steps between them.

    draft --checks pass--> checked --sent (or produced in simulation)--> filed
    draft --checks fail--> draft (its problems recorded)
    filed --receipt--> accepted | rejected (the authority's reasons)
    rejected --amended (corrected document or operator)--> draft -> checked -> filed, version + 1

Pure: the store keeps the state, this module says which step is allowed and why not.
"""

from __future__ import annotations

STATES = ("draft", "checked", "filed", "accepted", "rejected")
OUTCOMES = ("accepted", "rejected")


class OutOfTurn(ValueError):
    """A step the consignment's state does not allow: refused, recorded, never applied."""


def check_amend(reference: str, state: str | None, version: int, simulated: bool) -> None:
    """A new version may be built: the consignment is new, still a draft, or was rejected.
    Filings produced only in simulation were never sent, so they may be replaced too."""
    if state in (None, "draft", "checked", "rejected") or (state == "filed" and simulated):
        return
    if state == "filed":
        raise OutOfTurn(f"consignment {reference} was filed (version {version}) and awaits its "
                        "receipt: it can be amended once rejected")
    raise OutOfTurn(f"consignment {reference} was accepted (version {version}): an accepted "
                    "filing cannot be amended")


def settle(reference: str, kind: str, status: str, outcome: str) -> str | None:
    """The filing status a final receipt leads to, None when it repeats what is known (a
    cleared filing released later). ``status`` is the filing's: filed, accepted, rejected,
    simulated."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown receipt outcome {outcome!r}")
    if status == "filed":
        return outcome
    if status == outcome:
        return None
    if status == "simulated":
        raise OutOfTurn(f"{kind} of consignment {reference} was produced in simulation and "
                        f"never sent: a receipt saying {outcome} cannot be its answer")
    raise OutOfTurn(f"{kind} of consignment {reference} was already {status}: a receipt "
                    f"saying {outcome} is refused")


def consignment_state(statuses: list[str]) -> str:
    """The state of a consignment from the statuses of its current version's filings."""
    if "rejected" in statuses:
        return "rejected"
    if statuses and all(s == "accepted" for s in statuses):
        return "accepted"
    return "filed"
