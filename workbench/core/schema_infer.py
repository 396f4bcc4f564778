"""A JSON schema from an example answer ("infer from example JSON" in the schema editor).

The inferred schema is strict, as structured outputs want it: every key of an example object is
required and no other is allowed, an array's items share one schema (the first item's, widened
to a type union where later items differ), and ``null`` stays a type of its own. A person then
loosens what should be optional.
"""

from __future__ import annotations

from typing import Any


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One schema both item schemas fit: the same object shape keeps only the shared required
    keys; different types become a union."""
    if a == b:
        return a
    if a.get("type") == b.get("type") == "object":
        props = {**b["properties"], **a["properties"]}
        for key in a["properties"].keys() & b["properties"].keys():
            props[key] = _merge(a["properties"][key], b["properties"][key])
        required = [k for k in a["required"] if k in b["required"]]
        return {**a, "properties": props, "required": required}
    if a.get("type") == b.get("type") == "array":
        return {**a, "items": _merge(a.get("items", {}), b.get("items", {}))}
    types = [*_types(a), *(t for t in _types(b) if t not in _types(a))]
    return {"type": types}


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return list(kind) if isinstance(kind, list) else [kind]


def infer_schema(value: Any) -> dict[str, Any]:
    """The strict JSON schema ``value`` (parsed JSON) is an instance of."""
    kind = _type(value)
    if kind == "object":
        return {
            "type": "object",
            "properties": {key: infer_schema(item) for key, item in value.items()},
            "required": list(value),
            "additionalProperties": False,
        }
    if kind == "array":
        schema: dict[str, Any] = {"type": "array"}
        items = [infer_schema(item) for item in value]
        if items:
            merged = items[0]
            for item in items[1:]:
                merged = _merge(merged, item)
            schema["items"] = merged
        return schema
    return {"type": kind}
