"""Sample internal documents of the types a vendor sends, as Amazon Vendor Central expects them."""

ORDER_ACK = {
    "po_number": "T82Y2VBDX",
    "ack_date": "2024-01-05",
    "status": "accepted_with_changes",
    "currency": "USD",
    "parties": {
        "ship_to": {"id": "RNO1", "id_qualifier": "92"},
        "ship_from": {"id": "VENDOR1", "id_qualifier": "92", "name": "ACME",
                      "address_lines": ["1 Main St", "Unit 2", "Dock 3"], "city": "Reno",
                      "state": "NV", "postcode": "89501", "country": "US"},
    },
    "lines": [
        {"line_number": "1", "quantity_ordered": 10, "unit_of_measure": "EA",
         "unit_price": "12.50", "asin": "B00TEST123", "upc": "012345678905",
         "quantity_accepted": 8, "quantity_backordered": 2,
         "scheduled_ship_date": "2024-01-09"},
        {"line_number": "2", "quantity_ordered": 3, "unit_of_measure": "CA", "ean": "4006381333931",
         "quantity_accepted": 0, "quantity_rejected": 3},
    ],
}

SHIP_NOTICE = {
    "shipment_id": "ASN0001",
    "issued_at": "2024-01-05T12:00",
    "ship_date": "2024-01-05T16:30",
    "estimated_delivery": "2024-01-08",
    "carrier": {"scac": "UPSN", "mode": "U"},
    "bill_of_lading": "BOL123",
    "tracking_number": "1Z999",
    "gross_weight": 12.5,
    "parties": {"ship_to": {"id": "RNO1", "id_qualifier": "92"},
                "ship_from": {"id": "VENDOR1", "id_qualifier": "92", "name": "ACME"}},
    "orders": [
        {"po_number": "T82Y2VBDX", "cartons": [
            {"sscc": "000012345600000018", "lines": [
                {"line_number": "1", "quantity": 8, "unit_of_measure": "EA",
                 "asin": "B00TEST123", "upc": "012345678905", "description": "Widget"},
                {"line_number": "2", "quantity": 2, "unit_of_measure": "EA", "sku": "W-2"}]},
            {"sscc": "000012345600000025", "lines": [
                {"line_number": "1", "quantity": 2, "unit_of_measure": "EA",
                 "asin": "B00TEST123"}]}]},
        {"po_number": "Q1234567", "cartons": [
            {"sscc": "000012345600000032", "lines": [
                {"quantity": 1.5, "unit_of_measure": "CA", "isbn": "0835201031"}]}]},
    ],
}

INVOICE = {
    "invoice_number": "INV-1",
    "invoice_date": "2024-01-06",
    "po_number": "T82Y2VBDX",
    "shipment_id": "BOL123",
    "currency": "USD",
    "terms": {"discount_percent": 2, "discount_days": 10, "net_days": 30},
    "parties": {
        "remit_to": {"name": "ACME", "id": "VENDOR1", "id_qualifier": "92"},
        "ship_to": {"id": "RNO1", "id_qualifier": "92"},
        "bill_to": {"name": "Amazon.com"},
        "ship_from": {"id": "VENDOR1", "id_qualifier": "92"},
    },
    "lines": [
        {"line_number": "1", "quantity": 10, "unit_of_measure": "EA", "unit_price": "12.50",
         "asin": "B00TEST123", "description": "Widget"},
        {"line_number": "2", "quantity": 3, "unit_of_measure": "CA", "unit_price": "7",
         "ean": "4006381333931"},
    ],
    "charges": [{"code": "D240", "amount": "15.00", "description": "Freight"},
                {"code": "C310", "amount": "-2.50"}],
    "total_amount": "158.50",
}

ORDER = {
    "po_number": "T82Y2VBDX",
    "purpose": "original",
    "order_type": "NE",
    "order_date": "2024-01-05",
    "currency": "USD",
    "ship_window": {"earliest": "2024-01-10", "latest": "2024-01-20"},
    "terms": {"net_days": 60},
    "parties": {"ship_to": {"id": "RNO1", "id_qualifier": "92"}},
    "lines": [
        {"line_number": "1", "quantity": 10, "unit_of_measure": "EA", "unit_price": "12.5",
         "upc": "012345678905"},
        {"line_number": "2", "quantity": 3, "unit_of_measure": "CA", "unit_price": "7",
         "asin": "B00TEST123", "description": "Widget"},
    ],
    "total_amount": "146",
}

REMITTANCE = {
    "payment_reference": "4311000190",
    "payment_date": "2024-02-01",
    "payment_method": "ACH",
    "currency": "USD",
    "total_amount": "140.00",
    "parties": {"payer": {"name": "Amazon.com"}, "payee": {"id": "VENDOR1", "id_qualifier": "92"}},
    "invoices": [
        {"invoice_number": "INV-1", "po_number": "T82Y2VBDX", "paid_amount": "150.00",
         "invoiced_amount": "158.50", "discount_amount": "3.17",
         "adjustments": [{"reason_code": "22", "amount": "5.33", "reference": "DM1"}]},
    ],
    "adjustments": [{"reason_code": "CS", "amount": "10.00", "reference": "COOP7"}],
}
