"""docker-compose.yml, checked without a Docker engine (CI has none).

The file is parsed with PyYAML, whose safe loader resolves the `<<:` merge keys; each check
returns the problems it finds, so the same checks run against the real file and against
mutated copies of it (the negative test at the end shows that every check can fail).
Services are recognised by what they run (`airflow scheduler`, Spark's Master class, ...),
not by their names. When a Docker Compose CLI is installed, `docker compose config` also
validates the file against the Compose schema.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# What each role runs; a service takes the first role whose pattern its command matches.
ROLES = {
    "airflow-init": r"\bairflow\s+db\s+migrate\b",
    "airflow-api-server": r"\bairflow\s+api-server\b",
    "airflow-scheduler": r"\bairflow\s+scheduler\b",
    "airflow-dag-processor": r"\bairflow\s+dag-processor\b",
    "airflow-triggerer": r"\bairflow\s+triggerer\b",
    "spark-master": r"org\.apache\.spark\.deploy\.master\.Master\b",
    "spark-worker": r"org\.apache\.spark\.deploy\.worker\.Worker\b",
}
AIRFLOW_ROLES = (
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
SPARK_ROLES = ("spark-master", "spark-worker")
# Settings every Airflow process must agree on (one DB, one JWT secret, one DAGs folder...).
SHARED_AIRFLOW_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW_CONN_SPARK_DEFAULT",
    "WP_HOME",
)
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "KEY", "TOKEN", "CREDENTIALS"}
# `${NAME:?message}` or `${NAME?message}`: compose refuses to start without the variable, and
# there is no default value that could be a literal secret.
REQUIRED_SUBSTITUTION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}")
SUBSTITUTION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


# ---------------------------------------------------------------------------------------
# Reading the file


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with its merge keys resolved and no object shared between services
    (YAML aliases share one object; a JSON round trip gives each service its own)."""
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return json.loads(json.dumps(data))


def substitute(text: str) -> str:
    """Compose's interpolation, statically: a default stands for its variable; a variable
    without one becomes `<NAME>`; `$$` is a literal `$`."""

    def replace(match: re.Match) -> str:
        if match["op"] in (":-", "-"):
            return match["arg"]
        return f"<{match['name']}>"

    return SUBSTITUTION.sub(replace, str(text)).replace("$$", "$")


def raw_environment(service: dict) -> dict[str, str | None]:
    """A service's variables; None: passed through from the shell that runs compose."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: None if value is None else str(value) for key, value in env.items()}


def environment(service: dict) -> dict[str, str]:
    return {key: value or "" for key, value in raw_environment(service).items()}


def command_text(service: dict) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else str(command)


def command_args(service: dict) -> list[str]:
    command = service.get("command") or []
    if isinstance(command, list):
        return [substitute(arg) for arg in command]
    return shlex.split(substitute(command))


def option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def roles(compose: dict) -> dict[str, list[str]]:
    """Role -> names of the services that play it (postgres: by its image)."""
    found: dict[str, list[str]] = {role: [] for role in [*ROLES, "postgres"]}
    for name, service in (compose.get("services") or {}).items():
        image = str(service.get("image", ""))
        if re.match(r"^(docker\.io/)?(library/)?postgres[:@]", image):
            found["postgres"].append(name)
            continue
        for role, pattern in ROLES.items():
            if re.search(pattern, command_text(service)):
                found[role].append(name)
                break
    return found


def services_of(compose: dict, role_names: tuple[str, ...]) -> dict[str, dict]:
    by_role = roles(compose)
    return {name: compose["services"][name] for role in role_names for name in by_role[role]}


def volume_mounts(service: dict) -> list[tuple[str | None, str, bool]]:
    """(source, target, read_only) of each volume, short or long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append(
                (volume.get("source"), volume["target"], bool(volume.get("read_only", False)))
            )
            continue
        parts = substitute(volume).split(":")
        if len(parts) == 1:
            mounts.append((None, parts[0], False))
        else:
            mode = parts[2] if len(parts) > 2 else ""
            mounts.append((parts[0], parts[1], "ro" in mode.split(",")))
    return mounts


def dockerfile_text(service: dict) -> str | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    if "dockerfile_inline" in build:
        return build["dockerfile_inline"]
    path = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    return path.read_text() if path.is_file() else f"# missing Dockerfile: {path}"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole and not whole.startswith("#"):
            keyword, _, rest = whole.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def copy_destinations(text: str) -> dict[str, str]:
    """Source folder -> absolute path its contents land at, from COPY/ADD and WORKDIR."""
    workdir, destinations = "/", {}
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, rest)
        elif keyword in ("COPY", "ADD"):
            args = [arg for arg in shlex.split(rest) if not arg.startswith("--")]
            if len(args) < 2:
                continue
            *sources, destination = args
            target = posixpath.normpath(posixpath.join(workdir, destination))
            for source in sources:
                folder = source.rstrip("/")
                # A folder's contents are copied: alone, into the destination; with
                # other sources, into the destination folder too (Docker's own rule).
                destinations[folder] = target
    return destinations


def image_is_pinned(reference: str) -> str | None:
    """Why `reference` is not pinned, or None when it is (a digest, or a tag with a
    major.minor version that is not `latest`)."""
    reference = substitute(reference)
    if "@sha256:" in reference:
        return None
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (means `latest`)"
    tag = last.split(":", 1)[1]
    if "latest" in tag.lower():
        return f"tag {tag!r} is `latest`"
    if not re.search(r"\d+\.\d+", tag):
        return f"tag {tag!r} has no version number (major.minor at least)"
    return None


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["version"]


# ---------------------------------------------------------------------------------------
# Checks: each returns a list of problems, empty when the file is right


def check_required_services(compose: dict) -> list[str]:
    by_role = roles(compose)
    problems = [
        f"no service plays {role!r} "
        f"(looked for {ROLES[role] if role in ROLES else 'a postgres image'!r})"
        for role, names in by_role.items()
        if not names
    ]
    for role in ("postgres", "spark-master", *AIRFLOW_ROLES):
        if len(by_role[role]) > 1:
            problems.append(f"more than one service plays {role!r}: {by_role[role]}")
    return problems


def check_images_pinned(compose: dict) -> list[str]:
    problems = []
    version = project_version()
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None and "build" not in service:
            problems.append(f"service {name!r} has neither an image nor a build")
        if image is not None:
            why = image_is_pinned(str(image))
            if why:
                problems.append(f"service {name!r}: image {image!r} {why}")
            if "build" in service and str(image).rsplit(":", 1)[-1] != version:
                problems.append(
                    f"service {name!r}: the image built from this repository is tagged "
                    f"{image!r}; tag it with pyproject's version {version!r}"
                )
        text = dockerfile_text(service)
        if text is None:
            continue
        stages: set[str] = set()
        froms = [rest for keyword, rest in dockerfile_instructions(text) if keyword == "FROM"]
        if not froms:
            problems.append(f"service {name!r}: its Dockerfile has no FROM line")
        for rest in froms:
            words = [word for word in rest.split() if not word.startswith("--")]
            base = words[0]
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2])
            if base in stages or base == "scratch":
                continue
            why = image_is_pinned(base)
            if why:
                problems.append(f"service {name!r}: Dockerfile `FROM {base}` {why}")
    return problems


def check_airflow_settings(compose: dict) -> list[str]:
    """LocalExecutor on the postgres service's database, the same everywhere."""
    problems = []
    airflow = services_of(compose, AIRFLOW_ROLES)
    by_role = roles(compose)
    for key in SHARED_AIRFLOW_SETTINGS:
        values = {name: environment(service).get(key) for name, service in airflow.items()}
        missing = sorted(name for name, value in values.items() if value is None)
        if missing:
            problems.append(f"{key} is not set in {missing}")
        if len({value for value in values.values() if value is not None}) > 1:
            problems.append(f"{key} differs between Airflow services: {values}")
    if not by_role["postgres"]:
        return [*problems, "no postgres service to hold Airflow's metadata"]
    postgres_name = by_role["postgres"][0]
    postgres_env = environment(compose["services"][postgres_name])
    for name, service in airflow.items():
        env = environment(service)
        executor = env.get("AIRFLOW__CORE__EXECUTOR")
        if executor != "LocalExecutor":
            problems.append(f"{name}: AIRFLOW__CORE__EXECUTOR is {executor!r}, not LocalExecutor")
        raw = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
        # Placeholders first: a `${VAR:?message}` holds characters that end a URL's netloc.
        url = urlsplit(SUBSTITUTION.sub(lambda m: f"__{m['name']}__", raw))
        where = f"{name}: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN {raw!r}"
        if not url.scheme.startswith("postgresql"):
            problems.append(f"{where} is not a postgresql URL")
        if url.hostname != postgres_name:
            problems.append(f"{where} points at host {url.hostname!r}, not {postgres_name!r}")
        if url.port not in (None, 5432):
            problems.append(f"{where} uses port {url.port}, postgres listens on 5432")
        user = postgres_env.get("POSTGRES_USER", "postgres")
        if url.username != user:
            problems.append(f"{where} logs in as {url.username!r}, postgres creates {user!r}")
        database = postgres_env.get("POSTGRES_DB", user)
        if url.path.lstrip("/") != database:
            problems.append(f"{where} opens database {url.path!r}, postgres creates {database!r}")
        wanted = REQUIRED_SUBSTITUTION.fullmatch(postgres_env.get("POSTGRES_PASSWORD", ""))
        if wanted and url.password != f"__{wanted['name']}__":
            problems.append(f"{where}: its password is not ${{{wanted['name']}}}")
    return problems


def check_execution_api(compose: dict) -> list[str]:
    """Tasks report to the api-server's Execution API: its service name and port."""
    by_role = roles(compose)
    if not by_role["airflow-api-server"]:
        return ["no api-server service"]
    api_name = by_role["airflow-api-server"][0]
    api_args = command_args(compose["services"][api_name])
    port = int(option(api_args, "--port", "-p") or 8080)
    wanted = f"http://{api_name}:{port}/execution/"
    problems = []
    for name, service in services_of(compose, AIRFLOW_ROLES).items():
        value = environment(service).get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
        if value != wanted:
            problems.append(
                f"{name}: AIRFLOW__CORE__EXECUTION_API_SERVER_URL is {value!r}, "
                f"the api-server serves it at {wanted!r}"
            )
    return problems


def master_url(compose: dict) -> tuple[str | None, list[str]]:
    """spark://HOST:PORT the master listens on, from its --host/--port."""
    masters = roles(compose)["spark-master"]
    if not masters:
        return None, ["no spark-master service"]
    name = masters[0]
    args = command_args(compose["services"][name])
    host, port = option(args, "--host", "-h"), option(args, "--port", "-p") or "7077"
    problems = []
    if host is None:
        problems.append(f"{name}: the master has no --host (it would bind to its own IP name)")
        host = name
    elif host != name and host != compose["services"][name].get("hostname"):
        problems.append(f"{name}: the master's --host {host!r} is not its service name")
    return f"spark://{host}:{port}", problems


def check_spark_connection(compose: dict) -> list[str]:
    """AIRFLOW_CONN_SPARK_DEFAULT (JSON) gives spark-submit the master's URL."""
    wanted, problems = master_url(compose)
    for name, service in services_of(compose, AIRFLOW_ROLES).items():
        raw = environment(service).get("AIRFLOW_CONN_SPARK_DEFAULT")
        if raw is None:
            problems.append(f"{name}: AIRFLOW_CONN_SPARK_DEFAULT is not set")
            continue
        try:
            conn = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(f"{name}: AIRFLOW_CONN_SPARK_DEFAULT is not JSON ({error}): {raw!r}")
            continue
        if conn.get("conn_type") != "spark":
            problems.append(f"{name}: spark_default has conn_type {conn.get('conn_type')!r}")
        # As the provider's SparkSubmitHook builds it: host, then ":port" when a port is set.
        host = str(conn.get("host", ""))
        master = f"{host}:{conn['port']}" if conn.get("port") else host
        if master != wanted:
            problems.append(f"{name}: spark_default points at {master!r}, the master is {wanted!r}")
    return problems


def check_workers(compose: dict) -> list[str]:
    wanted, problems = master_url(compose)
    workers = services_of(compose, ("spark-worker",))
    if not workers:
        problems.append("no Spark worker")
    for name, service in workers.items():
        urls = [arg for arg in command_args(service) if arg.startswith("spark://")]
        if urls != [wanted]:
            problems.append(f"{name}: the worker registers with {urls}, the master is {wanted!r}")
        if option(command_args(service), "--memory", "-m") is None:
            problems.append(f"{name}: the worker has no --memory (it would take the host's)")
    return problems


def check_warehouse_volume(compose: dict) -> list[str]:
    """Every Airflow and Spark container mounts one named volume at WP_HOME."""
    problems = []
    services = services_of(compose, AIRFLOW_ROLES + SPARK_ROLES)
    homes = {name: environment(service).get("WP_HOME") for name, service in services.items()}
    if None in homes.values() or len(set(homes.values())) != 1:
        return [f"WP_HOME must be set, to one path, in every Airflow and Spark service: {homes}"]
    home = next(iter(homes.values()))
    declared = set(compose.get("volumes") or {})
    sources = {}
    for name, service in services.items():
        at_home = [(source, ro) for source, target, ro in volume_mounts(service) if target == home]
        if not at_home:
            problems.append(f"{name}: nothing is mounted at WP_HOME={home!r}")
            continue
        source, read_only = at_home[0]
        sources[name] = source
        if source not in declared:
            problems.append(
                f"{name}: {source!r} at {home!r} is not a named volume declared under `volumes:`"
            )
        if read_only:
            problems.append(f"{name}: the warehouse volume is mounted read-only")
    if len(set(sources.values())) > 1:
        problems.append(f"the services mount different volumes at {home!r}: {sources}")
    return problems


def check_dags_folder(compose: dict) -> list[str]:
    """AIRFLOW__CORE__DAGS_FOLDER is where the image copies dags/, and jobs/ sits beside it
    (the DAG finds its Spark applications at dags/../jobs)."""
    problems = []
    for name, service in services_of(compose, AIRFLOW_ROLES).items():
        folder = environment(service).get("AIRFLOW__CORE__DAGS_FOLDER")
        text = dockerfile_text(service)
        if text is None:
            problems.append(f"{name}: not built from this repository, so it has no dags/")
            continue
        copied = copy_destinations(text)
        if "dags" not in copied:
            problems.append(f"{name}: its Dockerfile does not COPY dags")
        elif folder != copied["dags"]:
            problems.append(
                f"{name}: AIRFLOW__CORE__DAGS_FOLDER is {folder!r}, "
                f"the image copies dags/ to {copied['dags']!r}"
            )
        jobs = posixpath.join(posixpath.dirname(copied.get("dags", "")), "jobs")
        if copied.get("jobs") != jobs:
            problems.append(f"{name}: jobs/ is copied to {copied.get('jobs')!r}, not {jobs!r}")
    return problems


def is_secret_name(name: str) -> bool:
    words = name.upper().split("_")
    return bool(SECRET_WORDS & set(words)) and words[-1] not in ("FILE", "PATH", "DIR")


def check_no_literal_secrets(compose: dict) -> list[str]:
    """Secret-looking variables, URL passwords and connection passwords are `${VAR:?msg}`
    (or, for optional ones, passed through from the shell: a variable with no value)."""
    problems = []
    for name, service in compose["services"].items():
        for key, value in raw_environment(service).items():
            if value is None:
                continue
            if is_secret_name(key) and not REQUIRED_SUBSTITUTION.fullmatch(value):
                problems.append(
                    f"{name}: {key} must come from the environment as ${{VAR:?message}}, "
                    f"not {value!r}"
                )
            # `${VAR:?message}` may hold spaces: stand a token in for it before looking.
            masked = REQUIRED_SUBSTITUTION.sub("__REQUIRED__", value)
            for match in re.finditer(r"://[^/@\s:]*:(?P<password>[^@/\s]*)@", masked):
                if match["password"] != "__REQUIRED__":
                    problems.append(f"{name}: {key} holds a literal password in a URL")
            if key.startswith("AIRFLOW_CONN_") and value.lstrip().startswith("{"):
                try:
                    password = json.loads(value).get("password")
                except json.JSONDecodeError:
                    continue  # check_spark_connection reports it
                if password and not REQUIRED_SUBSTITUTION.fullmatch(str(password)):
                    problems.append(f"{name}: {key} holds a literal password")
    return problems


def check_spark_processes(compose: dict) -> list[str]:
    """Driver (the scheduler's tasks) and executors: one image, so one Python and one Spark;
    and no Spark process bound to loopback, where the others could not reach it."""
    problems = []
    by_role = roles(compose)
    drivers = by_role["airflow-scheduler"]
    images = {
        name: compose["services"][name].get("image")
        for name in drivers + by_role["spark-master"] + by_role["spark-worker"]
    }
    if len(set(images.values())) != 1:
        problems.append(
            "the scheduler (Spark driver), the master and the workers must run one image, "
            f"so that PySpark's driver and executors share Python and Spark: {images}"
        )
    for name, service in services_of(compose, AIRFLOW_ROLES + SPARK_ROLES).items():
        local_ip = environment(service).get("SPARK_LOCAL_IP")
        if local_ip is not None and (
            local_ip.strip() in ("", "localhost", "::1") or local_ip.startswith("127.")
        ):
            problems.append(
                f"{name}: SPARK_LOCAL_IP={local_ip!r} binds Spark to loopback "
                "(an empty value resolves to it too): leave it unset in containers"
            )
    return problems


def check_health_and_order(compose: dict) -> list[str]:
    """Long-running services have health checks; Airflow waits for its DB and migration;
    the api-server's check is its health endpoint; workers wait for a healthy master."""
    problems = []
    by_role = roles(compose)
    init = by_role["airflow-init"][0] if by_role["airflow-init"] else None
    postgres = by_role["postgres"][0] if by_role["postgres"] else None
    for name, service in compose["services"].items():
        if name != init and not (service.get("healthcheck") or {}).get("test"):
            problems.append(f"{name}: no healthcheck")
    for name, service in services_of(compose, AIRFLOW_ROLES).items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {dependency: {} for dependency in depends}
        condition = (depends.get(postgres) or {}).get("condition")
        if condition != "service_healthy":
            problems.append(f"{name}: does not wait for a healthy {postgres!r}")
        if name != init and (depends.get(init) or {}).get("condition") != (
            "service_completed_successfully"
        ):
            problems.append(f"{name}: does not wait for {init!r} to complete successfully")
    for name in by_role["airflow-api-server"]:
        test = " ".join(map(str, compose["services"][name].get("healthcheck", {}).get("test", [])))
        if "/api/v2/monitor/health" not in test:
            problems.append(f"{name}: its healthcheck does not ask /api/v2/monitor/health")
    for name, service in services_of(compose, ("spark-worker",)).items():
        depends = service.get("depends_on") or {}
        for master in by_role["spark-master"]:
            if (
                not isinstance(depends, dict)
                or (depends.get(master) or {}).get("condition") != "service_healthy"
            ):
                problems.append(f"{name}: does not wait for a healthy {master!r}")
    return problems


def check_auth(compose: dict) -> list[str]:
    """An admin can log in: the auth manager is installed by the lock, and with the simple
    auth manager, airflow-init writes the passwords file the api-server reads."""
    problems = []
    by_role = roles(compose)
    lock = (ROOT / "requirements.lock").read_text()
    airflow = services_of(compose, AIRFLOW_ROLES)
    managers = {environment(s).get("AIRFLOW__CORE__AUTH_MANAGER") for s in airflow.values()}
    manager = next(iter(managers)) if len(managers) == 1 else None
    if manager is None:
        return [f"AIRFLOW__CORE__AUTH_MANAGER must be set, once, for all: {managers}"]
    if manager.startswith("airflow.providers.fab."):
        if not re.search(r"(?m)^apache-airflow-providers-fab==", lock):
            problems.append(
                "the FAB auth manager is chosen but requirements.lock lacks its provider"
            )
        return problems
    if manager != SIMPLE_AUTH_MANAGER:
        return [f"unknown auth manager {manager!r}: teach this test how it creates its admin"]
    for name, service in airflow.items():
        users = environment(service).get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "")
        if not any(user.split(":")[1:2] == ["admin"] for user in substitute(users).split(",")):
            problems.append(f"{name}: SIMPLE_AUTH_MANAGER_USERS has no admin: {users!r}")
    if not by_role["airflow-init"] or not by_role["airflow-api-server"]:
        return [*problems, "no airflow-init or api-server to create and read the admin"]
    init = compose["services"][by_role["airflow-init"][0]]
    api = compose["services"][by_role["airflow-api-server"][0]]
    init_env = environment(init)
    if not REQUIRED_SUBSTITUTION.fullmatch(init_env.get("AIRFLOW_ADMIN_PASSWORD", "")):
        problems.append("airflow-init: AIRFLOW_ADMIN_PASSWORD must be ${AIRFLOW_ADMIN_PASSWORD:?}")
    passwords = init_env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if not passwords or "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" not in command_text(
        init
    ):
        problems.append("airflow-init does not write SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        return problems
    folder = posixpath.dirname(passwords)
    mounted = [
        {source for source, target, _ in volume_mounts(service) if target == folder}
        for service in (init, api)
    ]
    if not mounted[0] or mounted[0] != mounted[1]:
        problems.append(
            f"the passwords file's folder {folder!r} is not one volume shared by "
            f"airflow-init and the api-server: {mounted}"
        )
    return problems


CHECKS = [
    check_required_services,
    check_images_pinned,
    check_airflow_settings,
    check_execution_api,
    check_spark_connection,
    check_workers,
    check_warehouse_volume,
    check_dags_folder,
    check_no_literal_secrets,
    check_spark_processes,
    check_health_and_order,
    check_auth,
]


# ---------------------------------------------------------------------------------------
# Tests


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_merge_keys_are_resolved(compose):
    assert "<<" not in json.dumps(compose), "a `<<:` merge key was left unresolved"
    assert set(compose["services"]) >= {"postgres", "airflow-scheduler", "spark-master"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_compose_file(compose, check):
    problems = check(compose)
    assert not problems, "docker-compose.yml:\n  " + "\n  ".join(problems)


def test_roles_are_found(compose):
    by_role = roles(compose)
    assert by_role["postgres"] == ["postgres"]
    assert by_role["airflow-triggerer"] == ["airflow-triggerer"]
    assert len(by_role["spark-worker"]) >= 1, by_role


# Each mutation breaks the file in one way; the named check must notice it.
def _service(compose: dict, role: str) -> dict:
    return compose["services"][roles(compose)[role][0]]


def _env(compose: dict, role: str) -> dict:
    return _service(compose, role)["environment"]


def _drop_triggerer(c):
    del c["services"][roles(c)["airflow-triggerer"][0]]


def _postgres_latest(c):
    _service(c, "postgres")["image"] = "postgres:latest"


def _postgres_untagged(c):
    _service(c, "postgres")["image"] = "postgres"


def _unpinned_base_image(c):
    for service in c["services"].values():
        if "build" in service:
            inline = service["build"]["dockerfile_inline"]
            service["build"]["dockerfile_inline"] = re.sub(
                r"(?m)^FROM \S+", "FROM python:slim-bookworm", inline
            )


def _celery(c):
    _env(c, "airflow-scheduler")["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"


def _sqlite(c):
    for service in services_of(c, AIRFLOW_ROLES).values():
        service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:////tmp/a.db"


def _db_on_localhost(c):
    for service in services_of(c, AIRFLOW_ROLES).values():
        env = service["environment"]
        conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = conn.replace("@postgres", "@localhost")


def _execution_api_on_localhost(c):
    for service in services_of(c, AIRFLOW_ROLES).values():
        env = service["environment"]
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = "http://localhost:8080/execution/"


def _spark_conn_port(c):
    conn = json.dumps({"conn_type": "spark", "host": "spark://spark-master", "port": 7078})
    for service in services_of(c, AIRFLOW_ROLES).values():
        service["environment"]["AIRFLOW_CONN_SPARK_DEFAULT"] = conn


def _spark_conn_not_json(c):
    _env(c, "airflow-scheduler")["AIRFLOW_CONN_SPARK_DEFAULT"] = "spark://spark-master:7077"


def _spark_conn_local(c):
    conn = json.dumps({"conn_type": "spark", "host": "local[*]"})
    for service in services_of(c, AIRFLOW_ROLES).values():
        service["environment"]["AIRFLOW_CONN_SPARK_DEFAULT"] = conn


def _worker_to_localhost(c):
    worker = _service(c, "spark-worker")
    worker["command"] = worker["command"].replace("spark://spark-master", "spark://localhost")


def _no_warehouse_on_api_server(c):
    api = _service(c, "airflow-api-server")
    api["volumes"] = [v for v in api["volumes"] if not str(v).endswith("/data/weekly-playlists")]


def _worker_warehouse_elsewhere(c):
    worker = _service(c, "spark-worker")
    worker["volumes"] = ["weekly-playlists-data:/warehouse"]


def _warehouse_bind_mount(c):
    worker = _service(c, "spark-worker")
    worker["volumes"] = ["./var:/data/weekly-playlists"]


def _dags_folder_elsewhere(c):
    for service in services_of(c, AIRFLOW_ROLES).values():
        service["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] = "/opt/airflow/dags"


def _literal_jwt_secret(c):
    _env(c, "airflow-api-server")["AIRFLOW__API_AUTH__JWT_SECRET"] = "changeme"


def _empty_optional_secret(c):
    _env(c, "airflow-scheduler")["SPOTIPY_CLIENT_SECRET"] = ""


def _password_with_default(c):
    _service(c, "postgres")["environment"]["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD:-airflow}"


def _literal_password_in_db_url(c):
    env = _env(c, "airflow-scheduler")
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = re.sub(r"\$\{[^}]*\}", "hunter2", conn)


def _spark_local_ip_empty(c):
    _service(c, "spark-worker")["environment"]["SPARK_LOCAL_IP"] = ""


def _official_spark_image_for_workers(c):
    for service in services_of(c, ("spark-worker",)).values():
        service.pop("build", None)
        service["image"] = "apache/spark:4.0.1-scala2.13-java17-python3-ubuntu"


def _no_api_healthcheck(c):
    _service(c, "airflow-api-server").pop("healthcheck")


def _scheduler_ignores_init(c):
    _service(c, "airflow-scheduler")["depends_on"] = {"postgres": {"condition": "service_healthy"}}


def _fab_without_provider(c):
    manager = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    for service in services_of(c, AIRFLOW_ROLES).values():
        service["environment"]["AIRFLOW__CORE__AUTH_MANAGER"] = manager


def _passwords_file_not_shared(c):
    api = _service(c, "airflow-api-server")
    api["volumes"] = [v for v in api["volumes"] if not str(v).endswith(":/opt/airflow/auth")]


MUTATIONS: list[tuple[Callable[[dict], None], Callable[[dict], list[str]], str]] = [
    (_drop_triggerer, check_required_services, "airflow-triggerer"),
    (_postgres_latest, check_images_pinned, "`latest`"),
    (_postgres_untagged, check_images_pinned, "has no tag"),
    (_unpinned_base_image, check_images_pinned, "FROM python:slim-bookworm"),
    (_celery, check_airflow_settings, "not LocalExecutor"),
    (_sqlite, check_airflow_settings, "not a postgresql URL"),
    (_db_on_localhost, check_airflow_settings, "points at host 'localhost'"),
    (_execution_api_on_localhost, check_execution_api, "the api-server serves it at"),
    (_spark_conn_port, check_spark_connection, "spark://spark-master:7078"),
    (_spark_conn_not_json, check_spark_connection, "is not JSON"),
    (_spark_conn_local, check_spark_connection, "'local[*]'"),
    (_worker_to_localhost, check_workers, "spark://localhost:7077"),
    (_no_warehouse_on_api_server, check_warehouse_volume, "nothing is mounted at WP_HOME"),
    (_worker_warehouse_elsewhere, check_warehouse_volume, "nothing is mounted at WP_HOME"),
    (_warehouse_bind_mount, check_warehouse_volume, "not a named volume"),
    (_dags_folder_elsewhere, check_dags_folder, "the image copies dags/ to"),
    (_literal_jwt_secret, check_no_literal_secrets, "AIRFLOW__API_AUTH__JWT_SECRET"),
    (_password_with_default, check_no_literal_secrets, "POSTGRES_PASSWORD"),
    (_empty_optional_secret, check_no_literal_secrets, "SPOTIPY_CLIENT_SECRET"),
    (_literal_password_in_db_url, check_no_literal_secrets, "literal password in a URL"),
    (_spark_local_ip_empty, check_spark_processes, "SPARK_LOCAL_IP"),
    (_official_spark_image_for_workers, check_spark_processes, "must run one image"),
    (_no_api_healthcheck, check_health_and_order, "airflow-api-server: no healthcheck"),
    (_scheduler_ignores_init, check_health_and_order, "to complete successfully"),
    (_fab_without_provider, check_auth, "lacks its provider"),
    (_passwords_file_not_shared, check_auth, "not one volume shared"),
]


@pytest.mark.parametrize(
    "mutate, check, expected", MUTATIONS, ids=[mutate.__name__[1:] for mutate, _, _ in MUTATIONS]
)
def test_checks_catch_a_broken_file(compose, mutate, check, expected):
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = check(broken)
    assert any(expected in problem for problem in problems), (
        f"{check.__name__} missed {mutate.__name__}: expected a problem with {expected!r}, "
        f"got {problems}"
    )


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_validates():
    """With a Compose CLI at hand (not in CI), its own parser accepts the file."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose CLI here; the static checks above still ran")
    text = COMPOSE_FILE.read_text()
    # The required variables only: the others keep their defaults (ports, sizes).
    dummy = {match["name"]: "x" for match in REQUIRED_SUBSTITUTION.finditer(text)}
    result = subprocess.run(
        [*cli, "--file", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ} | dummy,
        timeout=120,
    )
    assert result.returncode == 0, f"`docker compose config` refused the file:\n{result.stderr}"
