"""deploy/ agrees with the code: every file parses, the image lays the package out so that it
finds its SQL and its start command serves the location of workspace.yaml, the instance
config is accepted by Dagster against a real Postgres (and works the way the webserver
connects), the Secret and the Helm values name every environment variable the code reads,
the pool names are the code's, and the Helm values carry the same limits as
deploy/dagster.yaml.

What the code reads is collected from the code itself (its ``os.environ`` / ``EnvVar`` calls),
never from a list written here, so a new variable fails this test until deploy/ names it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipelines.defs.raw_assets import NIXFLEX_POOL, SMSFACTOR_POOL

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DAGSTER_YAML = DEPLOY / "dagster.yaml"
VALUES_YAML = DEPLOY / "helm" / "values.yaml"
SECRET_YAML = DEPLOY / "helm" / "secret.example.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCS = ROOT / "docs" / "deployment.md"
# Set by the platform (Dockerfile ENV, the Helm chart), not by the operator's Secret.
PLATFORM_VARIABLES = {"DAGSTER_HOME"}
# Read only by the command line (`make sync` on the machine it runs on), in modules the code
# location never imports: documented in .env.example and docs/operations.md instead.
COMMAND_LINE_VARIABLES = {
    "SYNC_POOL_WAIT_MINUTES": "pipelines.pools",
    "BI_ADMIN_PASSWORD": "pipelines.bi_state",
    "BI_HOST": "pipelines.bi_state",
    "BI_PORT": "pipelines.bi_state",
}
# The documented configuration variables (README, Configuration): the collector must find them all,
# or it is the collector that is broken.
CONTRACT = {
    "WAREHOUSE_URL",
    "NIXFLEX_API_KEY",
    "NIXFLEX_BASE_URL",
    "SMSFACTOR_API_TOKEN",
    "SMSFACTOR_BASE_URL",
}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _secrets() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(SECRET_YAML.read_text())}


def _workspace_location() -> tuple[str, str]:
    (entry,) = _load(ROOT / "workspace.yaml")["load_from"]
    module = entry["python_module"]
    return module["location_name"], module["module_name"]


# --- the environment the code reads -------------------------------------------------------


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def variables_read_by(package: Path) -> tuple[set[str], set[str]]:
    """(names, prefixes) of the environment variables the package reads.

    Names: the constant argument of ``os.environ.get``/``os.getenv``/``os.environ[...]``/
    ``... in os.environ``, ``EnvVar(...)``/``EnvVar.int(...)`` and the resources' ``_env(...)``.
    Prefixes: ``extra_accounts(PREFIX, BASE_URL_PREFIX)``, read as ``PREFIX_<ACCOUNT>``.
    A vendor's declaration, ``VendorEnv(SECRET, BASE_URL)``: both names, and both prefixes.
    """
    names: set[str] = set()
    prefixes: set[str] = set()
    readers = {"os.environ.get", "os.getenv", "_env"}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and node.args:
                name = _dotted(node.func)
                first = _string(node.args[0])
                if first and (
                    name in readers or name.split(".")[-1] == "EnvVar" or ".EnvVar." in name
                ):
                    names.add(first)
                if name.split(".")[-1] == "extra_accounts":
                    prefixes.update(p for p in map(_string, node.args) if p)
                if name.split(".")[-1] == "VendorEnv":  # a vendor's variables, each a prefix too
                    names.update(p for p in map(_string, node.args) if p)
                    prefixes.update(p for p in map(_string, node.args) if p)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                if _dotted(node.value) == "os.environ" and _string(node.slice):
                    names.add(_string(node.slice))  # type: ignore[arg-type]
            elif (
                isinstance(node, ast.Compare)
                and any(isinstance(op, ast.In) for op in node.ops)
                and _dotted(node.comparators[0]) == "os.environ"
                and _string(node.left)
            ):
                names.add(_string(node.left))  # type: ignore[arg-type]
    return names, prefixes


def test_the_collector_finds_what_the_contract_names() -> None:
    names, prefixes = variables_read_by(ROOT / "pipelines")
    assert names >= CONTRACT | {"PHONE_HASH_SALT"}, names
    assert prefixes >= {"NIXFLEX_API_KEY", "NIXFLEX_BASE_URL", "SMSFACTOR_API_TOKEN"}, prefixes


def test_the_secret_and_the_values_name_every_variable_the_code_reads() -> None:
    names, prefixes = variables_read_by(ROOT / "pipelines")
    secrets = _secrets()
    app = secrets["sms-warehouse-env"]
    assert app["kind"] == "Secret" and app["type"] == "Opaque"
    keys = set(app["stringData"])
    names -= set(COMMAND_LINE_VARIABLES)
    missing = names - PLATFORM_VARIABLES - keys
    assert not missing, f"read by the code, not in {SECRET_YAML.name}: {sorted(missing)}"
    assert keys <= names, f"in the Secret, never read by the code: {sorted(keys - names)}"
    assert all(isinstance(v, str) for v in app["stringData"].values())

    secret_text, values_text, docs = (
        SECRET_YAML.read_text(),
        VALUES_YAML.read_text(),
        DOCS.read_text(),
    )
    for prefix in prefixes:  # extra accounts: shown (commented out) where the others are
        for where, text_ in (("secret", secret_text), ("values", values_text), ("docs", docs)):
            assert f"{prefix}_<ACCOUNT>" in text_, f"{prefix}_<ACCOUNT> not named in the {where}"
    for name in names - PLATFORM_VARIABLES:
        assert re.search(rf"\b{name}\b", values_text), f"{name} not named in values.yaml"
        assert re.search(rf"\b{name}\b", docs), f"{name} not named in docs/deployment.md"
    for name in PLATFORM_VARIABLES:
        assert f"{name}=" in DOCKERFILE.read_text()

    # Both places that start pipeline code get the Secret: the code location and the run pods.
    values = _load(VALUES_YAML)
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    for env_secrets in (deployment["envSecrets"], launcher["envSecrets"]):
        assert {"name": app["metadata"]["name"]} in env_secrets
    # The instance database's password: the chart's secret and key, not generated from values.
    pg_secret = secrets["dagster-postgresql-secret"]
    assert set(pg_secret["stringData"]) == {"postgresql-password"}
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]


def test_the_command_line_variables_stay_off_the_deployment_and_are_documented() -> None:
    names, _ = variables_read_by(ROOT / "pipelines")
    assert set(COMMAND_LINE_VARIABLES) <= names
    for name in COMMAND_LINE_VARIABLES:
        for path in (ROOT / ".env.example", ROOT / "docs" / "operations.md"):
            assert re.search(rf"\b{name}\b", path.read_text()), f"{name} not named in {path.name}"
    # The code location (and so every run it launches) never imports the modules reading them.
    modules = sorted(set(COMMAND_LINE_VARIABLES.values()))
    probe = (
        f"import sys, pipelines.definitions; print([m for m in {modules!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"the code location imports {done.stdout.strip()}"


# --- the files themselves -----------------------------------------------------------------


def test_every_deploy_file_parses() -> None:
    for path in (DAGSTER_YAML, VALUES_YAML):
        assert isinstance(_load(path), dict), path
    docs = list(yaml.safe_load_all(SECRET_YAML.read_text()))
    assert [d["kind"] for d in docs] == ["Secret", "Secret"]
    assert all(d["apiVersion"] == "v1" and "stringData" in d for d in docs)
    assert _dockerfile_instructions()[0] == ("FROM", "python:3.11-slim")


def test_no_secret_is_written_in_the_instance_config() -> None:
    config = _load(DAGSTER_YAML)
    db = config["storage"]["postgres"]["postgres_db"]
    literal = {k: v for k, v in db.items() if not (isinstance(v, dict) and set(v) == {"env"})}
    assert literal == {"scheme": "postgresql+psycopg2"}, literal
    assert {v["env"] for k, v in db.items() if k != "scheme"} == {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        assert name in DOCS.read_text()


def _dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _copies() -> list[tuple[list[str], str]]:
    copies = []
    for keyword, rest in _dockerfile_instructions():
        if keyword == "COPY":
            *sources, dest = shlex.split(rest)
            assert not any(s.startswith("--") for s in sources), "COPY flags are not expected"
            copies.append((sources, dest))
    return copies


def test_the_image_lays_the_package_out_so_that_it_finds_its_sql(tmp_path: Path) -> None:
    """Every COPY source exists; the tree the COPYs build finds sql/ beside pipelines/."""
    image = tmp_path / "image"
    for sources, dest in _copies():
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            target = image / dest.lstrip("/")
            if dest.endswith("/"):
                target = target / Path(source).name
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, target)
    workdir = [rest for keyword, rest in _dockerfile_instructions() if keyword == "WORKDIR"][-1]
    app = image / workdir.lstrip("/")
    # The package as the image has it (installed in place: importable from the app dir), and
    # nothing of this checkout: -S leaves site-packages (and the editable install) out.
    probe = (
        "import json, pipelines.warehouse.sqlfiles as s; "
        "found = sorted(p.name for p in (s.SQL_DIR / 'migrations').glob('*.sql')); "
        "print(json.dumps([str(s.SQL_DIR), found]))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path, env={"PYTHONPATH": str(app), "PATH": os.environ["PATH"]},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    sql_dir, migrations = json.loads(done.stdout)
    assert Path(sql_dir) == app / "sql"
    assert migrations == sorted(p.name for p in (ROOT / "sql" / "migrations").glob("*.sql"))

    runs = " ".join(rest for keyword, rest in _dockerfile_instructions() if keyword == "RUN")
    assert "pip install -r /app/requirements.lock" in runs
    assert re.search(r"pip install --no-deps .*-e /app\b", runs), runs
    assert workdir == "/app"


def _dockerfile_command() -> list[str]:
    (cmd,) = [rest for keyword, rest in _dockerfile_instructions() if keyword == "CMD"]
    return json.loads(cmd)


def _option(args: list[str], *flags: str) -> str:
    for flag in flags:
        if flag in args:
            return args[args.index(flag) + 1]
    raise AssertionError(f"none of {flags} in {args}")


def test_the_image_and_the_values_serve_the_workspace_location_on_one_port() -> None:
    location, module = _workspace_location()
    command = _dockerfile_command()
    assert command[:3] == ["dagster", "code-server", "start"], command
    port = int(_option(command, "-p", "--port"))
    assert _option(command, "-h", "--host") == "0.0.0.0"
    assert _option(command, "-m", "--module-name") == module == "pipelines.definitions"
    assert _option(command, "--location-name") == location == "sms_warehouse"
    exposed = [rest for keyword, rest in _dockerfile_instructions() if keyword == "EXPOSE"]
    assert exposed == [str(port)]

    values = _load(VALUES_YAML)
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert deployment["port"] == port
    # the chart runs `dagster code-server start -h 0.0.0.0 -p PORT` + codeServerArgs
    assert deployment["codeServerArgs"] == command[command.index("-p") + 2 :]
    assert "dagsterApiGrpcArgs" not in deployment
    # A Service name (the deployment's) is a DNS label; the location keeps workspace.yaml's
    # name through the webserver's explicit workspace.
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", deployment["name"])
    workspace = values["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True
    assert workspace["servers"] == [{"host": deployment["name"], "port": port, "name": location}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_image_command_starts_a_serving_code_server(tmp_path: Path) -> None:
    """The Dockerfile's CMD, run here (on 127.0.0.1 and a free port): the code server loads
    the definitions and answers the health check the chart's probes use."""
    command = _dockerfile_command()
    port = str(_free_port())
    args = [a if a != "0.0.0.0" else "127.0.0.1" for a in command[1:]]
    args[args.index("-p") + 1] = port
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIXFLEX_", "SMSFACTOR_"))}
    env["DAGSTER_HOME"] = str(tmp_path)
    dagster = str(Path(sys.executable).parent / "dagster")
    server = subprocess.Popen(
        [dagster, *args], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            assert server.poll() is None, "the code server exited"
            answer = subprocess.run(
                [dagster, "api", "grpc-health-check", "-p", port],
                capture_output=True, text=True, env=env, cwd=tmp_path,
            )  # fmt: skip
            if answer.returncode == 0:
                break
            time.sleep(1)
        assert answer is not None and answer.returncode == 0, answer
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the instance config, in Dagster, on a real Postgres -----------------------------------


@pytest.fixture
def instance_db(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database next to the session's test database, and DAGSTER_PG_* pointing at
    it (an empty host and PGHOST for the embedded server's Unix socket)."""
    url = make_url(warehouse_url)
    name = f"sms_instance_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    socket_dir = url.query.get("host")
    monkeypatch.setenv("DAGSTER_PG_HOST", "" if socket_dir else (url.host or "127.0.0.1"))
    if socket_dir:
        monkeypatch.setenv("PGHOST", str(socket_dir))
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", name)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def test_dagster_accepts_the_instance_config_and_the_webserver_can_use_it(
    instance_db: str, tmp_path: Path
) -> None:
    from dagster import DagsterInstance
    from dagster._core.instance.config import PoolGranularity, dagster_instance_config
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML.read_text())
    dagster_instance_config(str(tmp_path))  # schema validation, as every Dagster process does
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.pool_config.pool_granularity == PoolGranularity.RUN
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
        assert not instance.telemetry_enabled
        # Storage really works, with the connections dagster-webserver sets up (pooled, with a
        # statement timeout set on connect): with psycopg 3 they arrive closed.
        instance.optimize_for_webserver(statement_timeout=5000, pool_recycle=3600, max_overflow=2)
        assert instance.get_runs() == []
        assert instance.all_instigator_state() == []
        instance.event_log_storage.set_concurrency_slots(NIXFLEX_POOL, 1)
        assert instance.event_log_storage.get_concurrency_info(NIXFLEX_POOL).slot_count == 1
    finally:
        instance.dispose()


# --- pools, limits, and the two configs agreeing -------------------------------------------


def test_the_pool_names_in_config_and_docs_are_the_codes() -> None:
    from pipelines.definitions import build_definitions

    defs = build_definitions()
    pools = {
        node.definition.pool
        for job in defs.resolve_all_job_defs()
        for node in job.graph.nodes
        if getattr(node.definition, "pool", None)
    }
    assert pools == {NIXFLEX_POOL, SMSFACTOR_POOL}, pools
    docs = DOCS.read_text()
    documented = set(re.findall(r"dagster instance concurrency set (\S+) 1", docs))
    assert documented == pools, documented
    for path in (DAGSTER_YAML, VALUES_YAML):
        for pool in pools:
            assert pool in path.read_text(), f"{pool} not named in {path.name}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _snake_keys(value: object) -> object:
    if isinstance(value, dict):
        return {_snake(k): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def test_the_helm_values_carry_the_instance_configs_limits() -> None:
    instance = _load(DAGSTER_YAML)
    values = _load(VALUES_YAML)
    concurrency = values["concurrency"]
    assert concurrency.pop("enabled") is True
    assert _snake_keys(concurrency) == instance["concurrency"]
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"] == {"enabled": True, "type": "QueuedRunCoordinator"}
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert _snake_keys(daemon["runRetries"]) == instance["run_retries"]
    assert _snake_keys(daemon["runMonitoring"]) == instance["run_monitoring"]
    assert values["telemetry"] == instance["telemetry"] == {"enabled": False}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    scheme = instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["postgresql"]["postgresqlScheme"] == scheme


def test_the_lock_pins_the_deployment_libraries_to_the_dagster_release() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    assert not re.search(r"://|\s@\s|^\s*-(-index|-extra-index|i\b|f\b)", lock, re.M), (
        "requirements.lock names a download address"
    )
    pins = dict(
        line.split("==", 1)
        for line in lock.splitlines()
        if "==" in line and not line.startswith("#")
    )
    _, minor, patch = pins["dagster"].split(".")
    library = f"0.{int(minor) + 16}.{patch}"  # dagster 1.13.27 <-> its libraries 0.29.27
    for name in ("dagster-postgres", "dagster-k8s"):
        assert pins.get(name) == library, (name, pins.get(name), library)
        assert metadata.version(name) == library, f"{name} in .venv is not the locked version"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert {"dagster-postgres", "dagster-k8s"} <= declared
