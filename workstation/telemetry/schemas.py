"""JSON Schemas of the telemetry payloads, generated from the pydantic models.

    python -m workstation.telemetry.schemas          # write docs/schemas/*.schema.json
    python -m workstation.telemetry.schemas --check  # exit 1 when the files are out of date

A test runs the check, so the published schemas never drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workstation.telemetry.payloads import MODELS, SCHEMA_VERSION

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def schemas() -> dict[str, str]:
    """File name -> JSON text, one per payload kind."""
    out = {}
    for model in MODELS:
        kind = model.model_fields["kind"].default
        schema = model.model_json_schema()
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": f"https://icu-ws.example.org/schemas/v{SCHEMA_VERSION}/{kind}.json"} \
            | schema
        out[f"{kind}.schema.json"] = json.dumps(schema, indent=2, sort_keys=False) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare instead of writing; exit 1 when different")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, text in schemas().items():
        path = args.dir / name
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python -m workstation.telemetry.schemas): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
