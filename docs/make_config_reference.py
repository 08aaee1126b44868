"""Generate docs/config-reference.md from the run-configuration schema (hmm.config).

Run from the repository root:  python docs/make_config_reference.py
Every section and key of ``hmm run CONFIG.toml`` is listed with its type,
default and meaning, read from the pydantic models themselves, so the page
cannot drift from what the CLI accepts (tests/test_docs.py checks it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "config-reference.md"


def _type(prop: dict) -> str:
    """A short type name of a JSON-schema property."""
    if "anyOf" in prop:
        return " or ".join(dict.fromkeys(_type(p) for p in prop["anyOf"]))
    if "enum" in prop:
        return " or ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in prop["enum"])
    if "const" in prop:
        return f'"{prop["const"]}"'
    kind = prop.get("type", "table")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    bounds = [f"{op} {prop[k]}" for k, op in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                                 ("maximum", "<="), ("exclusiveMaximum", "<")) if k in prop]
    names = {"integer": "int", "number": "float", "string": "str", "boolean": "bool", "object": "table",
             "null": "unset"}
    return names.get(kind, kind) + (f" ({', '.join(bounds)})" if bounds else "")


def _default(prop: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop:
        return ""
    value = prop["default"]
    return "unset" if value is None else f"`{value!r}`".replace("True", "true").replace("False", "false")


def _cell(text: str) -> str:
    """One table cell of docstring text: one line, reST roles and literals as markdown."""
    text = re.sub(r":(?:data|class|func|mod|meth):`", "`", " ".join(text.split())).replace("``", "`")
    return text.replace("|", "\\|")


def _ref(prop: dict) -> str | None:
    """The name of the schema definition a property refers to (directly, allOf or anyOf), if any."""
    for p in [prop, *prop.get("allOf", []), *prop.get("anyOf", [])]:
        if "$ref" in p:
            return p["$ref"].split("/")[-1]
    return None


def _section(name: str, prop: dict, defs: dict, level: int = 2) -> list[str]:
    """The heading and key table of one section, then those of the tables nested in it."""
    section = defs[_ref(prop)]
    # a nested table is described by its class docstring (its field's docstring is in the parent's table)
    text = section.get("description") if level > 2 else None
    lines = [f"{'#' * level} `[{name}]`", "", _cell(text or prop.get("description", "")), ""]
    if section.get("additionalProperties") is True:
        lines += ["Other keys: the parameters of the named oracle's dataclass (see its docstring); "
                  "a table with a `kind` key is built by its factory (`coefficient`).", ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    required = section.get("required", [])
    nested = []
    for key, field in section["properties"].items():
        lines.append(f"| `{key}` | {_cell(_type(field))} | {_default(field, key in required)} | "
                     f"{_cell(field.get('description', ''))} |")
        if _ref(field) is not None:
            nested.append((f"{name}.{key}", field))
    lines.append("")
    for sub, field in nested:
        lines += _section(sub, field, defs, level + 1)
    return lines


def render() -> str:
    from hmm.config import RunConfig

    schema = RunConfig.model_json_schema()
    defs = schema["$defs"]
    lines = ["# Run configuration reference", "",
             "Generated from the schema of `hmm.config` by `python docs/make_config_reference.py`; "
             "`hmm run CONFIG.toml` validates a file against exactly this before anything runs "
             "(an unknown key or a wrong type is refused, naming the dotted key; exit code 2). "
             "`examples/layered_diffusion.toml` and `examples/carreau_channel.toml` are complete examples.", ""]
    top = schema["properties"]
    for name, prop in top.items():
        if _ref(prop) is None:  # a top-level key
            lines += [f"## `{name}`", "", f"{_cell(prop.get('description', ''))} Type {_type(prop)}, "
                      f"default {_default(prop, name in schema.get('required', []))}.", ""]
            continue
        lines += _section(name, prop, defs)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    OUT.write_text(render())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
