"""Routing: which handlers receive a message or document, per the partner's rules."""
