"""Diagnosis: whether the lab under Docker gives Docker what it needs (`netproof lab doctor`)."""
