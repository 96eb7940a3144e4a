"""Sample internal documents of the types a vendor sends, as Amazon Vendor Central expects them."""

PO_ACKNOWLEDGMENT = {
    "po_number": "T82Y2VBDX",
    "ack_type": "AC",
    "date": "2024-01-05",
    "currency": "USD",
    "parties": [
        {"role": "ship_to", "id": "RNO1", "id_qualifier": "92"},
        {"role": "ship_from", "id": "VENDOR1", "id_qualifier": "92", "name": "ACME",
         "address": {"lines": ["1 Main St", "Unit 2", "Dock 3"], "city": "Reno", "state": "NV",
                     "postcode": "89501", "country": "US"}},
    ],
    "lines": [
        {"line_number": "1", "quantity_ordered": 10, "unit": "EA", "unit_price": "12.50",
         "product_ids": {"buyer_part": "B00TEST123", "upc": "012345678905"},
         "status": "accepted", "quantity": 8, "dates": {"scheduled_ship": "2024-01-09"}},
        {"line_number": "1", "quantity_ordered": 10, "unit": "EA", "unit_price": "12.50",
         "product_ids": {"buyer_part": "B00TEST123", "upc": "012345678905"},
         "status": "backordered", "quantity": 2},
        {"line_number": "2", "quantity_ordered": 3, "unit": "CA",
         "product_ids": {"ean": "4006381333931"}, "status": "accepted", "quantity": 0},
        {"line_number": "2", "quantity_ordered": 3, "unit": "CA",
         "product_ids": {"ean": "4006381333931"}, "status": "rejected", "quantity": 3},
    ],
}

SHIP_NOTICE = {
    "shipment_id": "ASN0001",
    "issued_at": "2024-01-05T12:00",
    "ship_date": "2024-01-05T16:30",
    "estimated_delivery": "2024-01-08",
    "carrier": {"scac": "UPSN", "mode": "U", "tracking": "1Z999", "bol": "BOL123"},
    "gross_weight": 12.5,
    "ship_from": {"role": "ship_from", "id": "VENDOR1", "id_qualifier": "92", "name": "ACME"},
    "ship_to": {"role": "ship_to", "id": "RNO1", "id_qualifier": "92"},
    "orders": [
        {"po_number": "T82Y2VBDX", "packages": [
            {"sscc": "000012345600000018", "items": [
                {"line_number": "1", "quantity_shipped": 8, "unit": "EA",
                 "product_ids": {"buyer_part": "B00TEST123", "upc": "012345678905"},
                 "description": "Widget"},
                {"line_number": "2", "quantity_shipped": 2, "unit": "EA",
                 "product_ids": {"vendor_part": "W-2"}}]},
            {"sscc": "000012345600000025", "items": [
                {"line_number": "1", "quantity_shipped": 2, "unit": "EA",
                 "product_ids": {"buyer_part": "B00TEST123"}}]}]},
        {"po_number": "Q1234567", "packages": [
            {"sscc": "000012345600000032", "items": [
                {"quantity_shipped": 1.5, "unit": "CA", "product_ids": {"isbn": "0835201031"}}]}]},
    ],
}

INVOICE = {
    "invoice_number": "INV-1",
    "invoice_date": "2024-01-06",
    "po_number": "T82Y2VBDX",
    "shipment_id": "BOL123",
    "currency": "USD",
    "terms": {"discount_percent": 2, "discount_days": 10, "net_days": 30},
    "parties": [
        {"role": "remit_to", "name": "ACME", "id": "VENDOR1", "id_qualifier": "92"},
        {"role": "ship_to", "id": "RNO1", "id_qualifier": "92"},
        {"role": "bill_to", "name": "Amazon.com"},
        {"role": "ship_from", "id": "VENDOR1", "id_qualifier": "92"},
    ],
    "lines": [
        {"line_number": "1", "quantity": 10, "unit": "EA", "unit_price": "12.50",
         "product_ids": {"buyer_part": "B00TEST123"}, "description": "Widget"},
        {"line_number": "2", "quantity": 3, "unit": "CA", "unit_price": "7",
         "product_ids": {"ean": "4006381333931"}},
    ],
    "allowances_charges": [
        {"type": "charge", "code": "D240", "amount": "15.00", "description": "Freight"},
        {"type": "allowance", "code": "C310", "amount": "2.50"}],
    "total_amount": "158.50",
}

PURCHASE_ORDER = {
    "po_number": "T82Y2VBDX",
    "po_date": "2024-01-05",
    "purpose": "original",
    "order_type": "NE",
    "currency": "USD",
    "parties": [{"role": "ship_to", "id": "RNO1", "id_qualifier": "92"}],
    "dates": {"deliver_not_before": "2024-01-10", "deliver_no_later": "2024-01-20"},
    "terms": {"net_days": 60},
    "lines": [
        {"line_number": "1", "quantity": 10, "unit": "EA", "unit_price": "12.5",
         "product_ids": {"upc": "012345678905"}},
        {"line_number": "2", "quantity": 3, "unit": "CA", "unit_price": "7",
         "product_ids": {"buyer_part": "B00TEST123"}, "description": "Widget"},
    ],
    "totals": {"line_count": 2, "amount": "146"},
}

REMITTANCE = {
    "payment": {"amount": "140.00", "currency": "USD", "method": "ACH", "date": "2024-02-01",
                "trace_number": "4311000190",
                "payer": {"role": "payer", "name": "Amazon.com"},
                "payee": {"role": "payee", "id": "VENDOR1", "id_qualifier": "92"}},
    "remittances": [
        {"invoice_number": "INV-1", "po_number": "T82Y2VBDX", "amount_paid": "150.00",
         "invoice_amount": "158.50", "discount": "3.17",
         "adjustments": [{"reason_code": "22", "amount": "5.33", "reference": "DM1"}]},
    ],
    "adjustments": [{"reason_code": "CS", "amount": "10.00", "reference": "COOP7"}],
}
