"""What every consumer asks of an internal document (mapping/schemas): the number that names it
and its party by role, in one place."""

# The field that names a document in reports and lookups, per document type (a path).
REFERENCES = {"purchase_order": ("po_number",), "po_acknowledgment": ("po_number",),
              "ship_notice": ("shipment_id",), "invoice": ("invoice_number",),
              "remittance": ("payment", "trace_number"), "return": ("return_id",),
              "credit_memo": ("memo_number",), "functional_ack": ("group_control_number",)}
# Roles a document may keep as objects of their own rather than in its `parties` list: a ship
# notice's ship_from and ship_to, a remittance's payment payer and payee.
APART = ("ship_from", "ship_to", "payer", "payee")


def reference(doc_type: str, document: dict) -> str | None:
    """The number that names a document of this type (REFERENCES), or None."""
    value = document
    for key in REFERENCES.get(doc_type, ("",)):
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else str(value)


def party(document: dict, role: str) -> dict | None:
    """The party of `document` with this role (buyer, vendor, ship_to, ship_from, bill_to,
    remit_to, payer, payee), or None."""
    if role in APART:
        for holder in (document, document.get("payment")):
            found = holder.get(role) if isinstance(holder, dict) else None
            if isinstance(found, dict):
                return found
    for item in document.get("parties") or ():
        if isinstance(item, dict) and item.get("role") == role:
            return item
    return None
