"""The coupons realm's classes, shared by the app and the handler."""

from __future__ import annotations

REALM = "/coupons/shop"
SCHEMA = [
    {
        "name": "Coupon",
        "primaryKey": "_id",
        "properties": {"_id": "string", "code": "string", "valid": "bool?", "percent": "int?"},
    },
    {
        "name": "Order",
        "primaryKey": "_id",
        "properties": {"_id": "string", "total": "double", "coupon": "Coupon?", "pay": "double?"},
    },
]
