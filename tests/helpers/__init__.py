"""Shared test helpers: fault-injecting servers, store fixtures, the in-process CLI."""
