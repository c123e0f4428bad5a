"""The lab doctor: whether the network under Docker gives Docker what it needs (`netproof lab doctor`)."""

from netproof.doctor.examination import Doctor, examine

__all__ = ["Doctor", "examine"]
