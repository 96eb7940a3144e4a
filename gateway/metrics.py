"""Every Prometheus metric the gateway exports, in one place (prefix ``gateway_``)."""

from prometheus_client import Counter, Gauge, Histogram, Info

from gateway import __version__

BUILD = Info("gateway_build", "Gateway version and runtime")
BUILD.info({"version": __version__})

MESSAGES = Counter("gateway_messages_total", "Message status changes",
                   ["partner", "direction", "status"])
MESSAGE_BYTES = Counter("gateway_message_bytes_total", "Payload bytes by partner and direction",
                        ["partner", "direction", "transport"])
REJECTED = Counter("gateway_rejected_total", "Input refused before it became a message, by reason",
                   ["transport", "reason"])

MDNS = Counter("gateway_mdns_total", "MDNs sent for received messages and received for sent ones, "
               "by outcome (ok, failed)", ["partner", "direction", "outcome"])
MDN_LATENCY = Histogram("gateway_mdn_latency_seconds", "From sending a message to its MDN",
                        ["partner"], buckets=(.1, .5, 1, 5, 15, 60, 300, 900, 3600, 14400))

AS2_MESSAGES = Counter("gateway_as2_messages_total", "AS2 messages settled, by partner, direction "
                       "and disposition: processed, duplicate-document or the RFC 4130 error of "
                       "the MDN, and for sent ones also no-mdn, mic-mismatch, invalid-mdn or "
                       "mdn-timeout", ["partner", "direction", "disposition"])
AS2_BYTES = Counter("gateway_as2_message_bytes_total", "Bytes of the AS2 messages counted in "
                    "gateway_as2_messages_total (received: the body as posted; sent: the payload)",
                    ["partner", "direction", "disposition"])
AS2_PENDING_MDNS = Gauge("gateway_as2_pending_mdns", "Async MDNs outstanding: sent = we owe the "
                         "partner one not yet delivered, received = we await the partner's",
                         ["partner", "direction"])
AS2_PENDING_MDN_AGE = Gauge("gateway_as2_pending_mdn_oldest_age_seconds",
                            "Age of the oldest outstanding async MDN", ["partner", "direction"])
AS2_HELPER_DEATHS = Counter("gateway_as2_helper_deaths_total", "AS2 helper processes that "
                            "died (killed, out of memory) while the gateway ran")
TLS_HANDSHAKE_FAILURES = Counter("gateway_tls_handshake_failures_total", "TLS handshakes refused "
                                 "or failed on a listener, by the reason OpenSSL gives",
                                 ["listener", "reason"])

SFTP_SESSIONS = Counter("gateway_sftp_sessions_total", "SFTP sessions opened", ["partner"])
SFTP_AUTH_FAILURES = Counter("gateway_sftp_auth_failures_total", "Failed SFTP logins by reason",
                             ["reason"])
SFTP_FILES = Counter("gateway_sftp_files_total", "Files transferred over SFTP",
                     ["partner", "direction"])
SFTP_BYTES = Counter("gateway_sftp_bytes_total", "Bytes transferred over SFTP",
                     ["partner", "direction"])
SFTP_FAILURES = Counter("gateway_sftp_transfer_failures_total", "SFTP transfers that failed, by "
                        "reason (file-too-large, interrupted, limits, push and poll errors)",
                        ["partner", "reason"])

X12_SETS = Counter("gateway_x12_sets_total", "X12 transaction sets received, by outcome "
                   "(accepted, rejected)", ["partner", "set", "outcome"])
ACKS = Counter("gateway_acks_total", "Acknowledgments (997, 999, TA1) sent and received, by "
               "outcome (accepted, rejected, partial)", ["partner", "direction", "kind", "outcome"])
ACKS_OVERDUE = Gauge("gateway_acks_overdue", "Interchanges we sent whose 997/999 is overdue",
                     ["partner"])
DOCUMENTS = Counter("gateway_documents_total", "Documents translated to internal JSON",
                    ["partner", "doc_type"])
CUSTOMS_FILINGS = Counter("gateway_customs_filings_total", "Customs filings, by outcome (filed, "
                          "amended: re-filed after a rejection, simulated, accepted, rejected, "
                          "refused by the checks, out-of-turn: a document for a consignment "
                          "that may not be filed again)", ["partner", "regime", "outcome"])
CUSTOMS_RECEIPTS = Counter("gateway_customs_receipts_total", "Customs receipt entries, by outcome "
                           "(settled, interim, out-of-turn, unmatched, malformed)",
                           ["partner", "outcome"])
CUSTOMS_OVERDUE = Gauge("gateway_customs_filings_overdue", "Filings still without a receipt after "
                        "customs.receipt_timeout_s", ["partner", "regime"])

JOBS = Counter("gateway_jobs_total", "Jobs finished, by kind and outcome (done, retry, dead)",
               ["kind", "outcome"])
JOB_SECONDS = Histogram("gateway_job_seconds", "Job run time", ["kind"],
                        buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
QUEUE_DEPTH = Gauge("gateway_queue_jobs", "Jobs in the queue, by kind and status "
                    "(pending, running, dead)", ["kind", "status"])
QUEUE_OLDEST = Gauge("gateway_queue_oldest_age_seconds", "Age of the oldest pending job", ["kind"])
DEAD_LETTERS = Gauge("gateway_dead_letter_jobs", "Jobs that failed for good and wait for an operator")

DB_SECONDS = Histogram("gateway_db_seconds", "Database transaction time", ["op"],
                       buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5))
DB_ERRORS = Counter("gateway_db_errors_total", "Database transactions that failed", ["op"])
DB_GROUP = Histogram("gateway_db_group_size", "Transactions committed together (SQLite)",
                     buckets=(1, 2, 4, 8, 16, 32, 64))

PARTNERS = Gauge("gateway_partners", "Trading partners loaded")
RELOADS = Counter("gateway_config_reloads_total", "Partner reloads, by outcome (ok, failed)",
                  ["outcome"])
RELOAD_OK = Gauge("gateway_config_last_reload_success", "1 when the last reload succeeded")
CERT_EXPIRY = Gauge("gateway_certificate_expiry_timestamp_seconds",
                    "Certificate notAfter as a Unix time", ["owner", "usage", "subject"])

# Reconciliation
RECONCILE_OPEN = Gauge("gateway_reconcile_open_discrepancies",
                       "Open or acknowledged reconciliation discrepancies", ["partner", "type"])
RECONCILE_INVOICE_MATCH = Gauge("gateway_reconcile_invoice_match_ratio",
                                "Share of invoices with no unsettled three-way match discrepancy",
                                ["partner"])
RECONCILE_ASN_ON_TIME = Gauge("gateway_reconcile_asn_on_time_ratio",
                              "Share of ship notices sent within the allowed hours of shipping",
                              ["partner"])
RECONCILE_OUTSTANDING = Gauge("gateway_reconcile_amount_outstanding",
                              "Invoiced and not yet paid, by partner and currency",
                              ["partner", "currency"])
