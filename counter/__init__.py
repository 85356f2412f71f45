"""Visitor counter service of the "Dân vận khéo" portal.

Counts each visitor once per page and day without cookies and without storing
addresses: see docs/COUNTER.md.
"""

__version__ = "1.0.0"
