"""Electronic data interchange: X12 parsing, validation, acknowledgments and serialisation."""
