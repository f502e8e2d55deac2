"""The seams between apps, enforced (STYLE.md "Between apps", ARCHITECTURE.md layout).

Knowledge flows one way: pushpay <- merchants <- requests_app <- payments, scenarios,
notifications, smartforms. An upstream app's models, services, selectors and tasks import
nothing downstream of it (downstream apps register reactions and answers with it instead);
notifications and payments never import scenarios. Views, API views, URL modules and
management commands compose apps and may read across them. Imports under
``if TYPE_CHECKING:`` create no dependency at run time and are not counted.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["pushpay", "merchants", "requests_app", "payments", "scenarios", "notifications"]
APPS.append("smartforms")
# The audit trail listens to every app's history snapshots and names their routes; no app
# imports it, not even its views (pages include its template tag instead).
APPS.append("audit")
UPSTREAM_OF = {
    "pushpay": {
        "merchants",
        "requests_app",
        "payments",
        "scenarios",
        "notifications",
        "smartforms",
    },
    "merchants": {"requests_app", "payments", "scenarios", "notifications", "smartforms"},
    "requests_app": {"payments", "scenarios", "notifications", "smartforms"},
}
NEVER = {"notifications": {"scenarios"}, "payments": {"scenarios"}}
for _app in APPS[:-1]:
    NEVER[_app] = NEVER.get(_app, set()) | {"audit"}
# Composition layers: they put apps together for a page, a route or a command.
# (pushpay.tenancy is the back office's view mixins: which merchant a page works for.)
COMPOSITION = ("views", "payer_views", "urls", "payer_urls", "progress_urls", "outbox_urls")
COMPOSITION += ("tenancy", "payer_plan_views")
COMPOSITION_DIRS = ("api", "management", "migrations", "templatetags")
PROJECT_GLUE = {"pushpay/urls.py", "pushpay/settings.py", "pushpay/test_settings.py"}

# Exceptions still to be removed (none today). The test fails when one disappears, so the
# list only ever shrinks.
KNOWN: set[tuple[str, str]] = set()


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    typing_only.add(id(inner))
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & set(APPS)


def _is_composition(relative: str) -> bool:
    parts = Path(relative).parts
    if relative in PROJECT_GLUE or any(part in COMPOSITION_DIRS for part in parts[1:-1]):
        return True
    return Path(relative).stem in COMPOSITION


def violations() -> set[tuple[str, str]]:
    found = set()
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            imported = _imported_apps(path) - {app}
            for other in imported & NEVER.get(app, set()):
                found.add((relative, other))
            if not _is_composition(relative):
                for other in imported & UPSTREAM_OF.get(app, set()):
                    found.add((relative, other))
    return found


def test_no_module_imports_against_the_direction_of_the_seams():
    unexpected = violations() - KNOWN
    assert not unexpected, "\n".join(f"{path} imports {app}" for path, app in sorted(unexpected))


def test_the_known_exceptions_are_still_there_so_the_list_only_shrinks():
    gone = KNOWN - violations()
    assert not gone, f"remove from KNOWN, they are fixed: {sorted(gone)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from scenarios.models import Step\n", {"scenarios"}),
        ("import payments.registry\n", {"payments"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import scenarios\n", set()),
        ("from .models import X\n", set()),
        ("def f():\n    from smartforms import services\n", {"smartforms"}),
    ],
)
def test_the_checker_sees_lazy_imports_and_ignores_typing_only_ones(tmp_path, source, expected):
    module = tmp_path / "m.py"
    module.write_text(source)
    assert _imported_apps(module) == expected
