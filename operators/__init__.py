"""Operators: one module per kind family. No Ray, HTTP, storage or database imports here."""
