"""Ledger use cases: entries (E12/E13), reads (E8-E11, E20), blocks (E21/E22).

`planning` turns an entry request into a core command; `entries` writes it; `reads` lists
entries and blocks; `blocks` changes block metadata and deletes blocks (with replay).
"""
