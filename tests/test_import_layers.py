"""What each layer may import (``docs/design.rst``), checked on the source: the middleware's
import chain is Django plus the app's storage — never the network (``requests``) or the
token layer (PyJWT) — so every request of the site pays for neither."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "django_idp_logout"

#: Middleware hooks that import the network layer lazily: ``process_view`` only when a lifetime
#: rule (``SESSION_CHECK_INTERVAL`` …) is set, ``process_exception`` only for an exception the
#: token layer raised (so it is loaded already).
LAZY_HOOKS = {"process_view", "process_exception"}

#: Modules of the app that sit on the network or the token layer.
NETWORK_OR_TOKENS = {"http", "client", "discovery", "jwks", "jws", "tokens", "logout_tokens",
                     "providers", "flow", "views", "logout_views", "channel_views"}


def _source(module: str) -> Path:
    path = PACKAGE / (module.replace(".", "/") + ".py") if module else PACKAGE / "__init__.py"
    return path if path.exists() else PACKAGE / module.replace(".", "/") / "__init__.py"


def _is_module(module: str) -> bool:
    return _source(module).exists()


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """App modules (dotted, relative to the package) named by a relative import."""
    parts = module.split(".") if module else []
    package = parts if _source(module).name == "__init__.py" else parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        return [".".join([*base, node.module])]
    targets = [".".join([*base, alias.name]) for alias in node.names]
    return [t if _is_module(t) else ".".join(base) for t in targets]


def _imports(module: str) -> tuple[set[str], set[str]]:
    """Runtime imports of ``django_idp_logout.<module>`` (``if TYPE_CHECKING`` skipped):
    ``(app modules, third-party top-level names)``."""
    app: set[str] = set()
    external: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if (module == "middleware" and isinstance(child, ast.FunctionDef)
                    and child.name in LAZY_HOOKS):
                continue
            if isinstance(child, ast.Import):
                external.update(alias.name.split(".")[0] for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level:
                app.update(_resolve(module, child))
            elif isinstance(child, ast.ImportFrom):
                external.add((child.module or "").split(".")[0])
            visit(child)

    visit(ast.parse(_source(module).read_text()))
    return app, external


def _chain(start: str) -> tuple[set[str], set[str]]:
    """App modules reachable from ``start`` and the third-party modules they import."""
    seen: set[str] = set()
    external: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        app, ext = _imports(module)
        todo.extend(app)
        external |= ext
    return seen, external


def test_middleware_import_chain_is_django_and_storage() -> None:
    app, external = _chain("middleware")
    assert {"session", "store"} <= app
    assert not {m.split(".")[0] for m in app if m} & NETWORK_OR_TOKENS, app
    assert external <= {"__future__", "django", "asgiref", "collections", "dataclasses",
                        "datetime", "functools", "hashlib", "importlib", "json", "logging",
                        "re", "secrets", "time", "typing", "contextlib", "inspect",
                        "contextvars"}, external


def test_the_checker_sees_the_network_layer() -> None:
    """The same walk from the views does reach requests and PyJWT (the test can fail)."""
    app, external = _chain("views")
    assert {"requests", "jwt"} <= external
    assert "flow" in {m.split(".")[0] for m in app}


def test_the_middleware_hooks_are_what_imports_the_network_layer() -> None:
    """Without the exemption the walk does reach it (the test above can fail)."""
    source = ast.parse(_source("middleware").read_text())
    hooks = [node for node in ast.walk(source)
             if isinstance(node, ast.FunctionDef) and node.name in LAZY_HOOKS]
    imported = {alias.name for hook in hooks for node in ast.walk(hook)
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert {"lifecycle", "session_views"} <= imported
    hook_source = ast.unparse(next(h for h in hooks if h.name == "process_view"))
    # The import comes after the "no lifetime rule" early return.
    assert hook_source.index("return None") < hook_source.index("import lifecycle")
