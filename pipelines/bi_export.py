"""``python -m pipelines.cli bi --export``: the dashboard as the running Superset has it
(after changes made in its UI) written back to bi/dashboard/, the files `make bi` imports.

The export is Superset's own (Dashboard → Download → Export to YAML gives the same zip);
this replaces bi/dashboard/ with it, minus what belongs to one install: the numeric ids
Superset appends to file names, and the database's address (the launcher sets it).
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from contextlib import closing
from pathlib import Path

from pipelines.bi_api import dashboard_id, local_client
from pipelines.bi_state import DASHBOARD_DIR

PLACEHOLDER_URI = "postgresql+psycopg2://sms_bi:XXXXXXXXXX@localhost/warehouse"


def export_dashboard(target: Path = DASHBOARD_DIR) -> int:
    with closing(local_client()) as api:
        answer = api.get(f"/api/v1/dashboard/export/?q=!({dashboard_id(api)})")
        answer.raise_for_status()
    files = bundle_files(zipfile.ZipFile(io.BytesIO(answer.content)))
    shutil.rmtree(target, ignore_errors=True)
    for name, text in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"{len(files)} files written to {target}; review with `git diff` and commit them")
    return 0


def bundle_files(bundle: zipfile.ZipFile) -> dict[str, str]:
    """The zip's YAML files by their path under its root folder, install-specific bits out."""
    files = {}
    for member in bundle.namelist():
        name = re.sub(r"_\d+\.yaml$", ".yaml", member.split("/", 1)[1])
        text = bundle.read(member).decode("utf-8")
        if name.startswith("databases/"):  # a top-level line, as Superset writes it
            text = re.sub(r"(?m)^sqlalchemy_uri: .*$", f"sqlalchemy_uri: {PLACEHOLDER_URI}", text)
        if name == "metadata.yaml":
            text = re.sub(r"(?m)^timestamp: .*\n", "", text)
        files[name] = text
    return files
