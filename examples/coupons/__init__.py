"""The seed's example end to end: coupons checked by a handler (README.md)."""
