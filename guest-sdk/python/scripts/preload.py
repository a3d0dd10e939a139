"""Prints the code build.sh appends to a connector's app.py: an import, at module level, of
every module the connector's code (and the SDK's) imports anywhere, inside functions too.

componentize-py snapshots the interpreter after importing app.py; a module first imported
later, e.g. inside ``poll``, is not in the component and raises ModuleNotFoundError there.
Importing each one while the snapshot is taken puts it in. A module that cannot be imported
then (not in the component's Python, or an optional import) is noted, and the SDK logs it as a
warning when the connector starts: code importing it would raise ModuleNotFoundError.

    python3 preload.py <dir>...
"""

import ast
import os
import sys


def modules_of(path, root):
    """Absolute names of the modules the file at ``path`` (under ``root``) imports."""
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read(), filename=path)
    # The package a relative import is relative to.
    package = os.path.relpath(os.path.dirname(path), root).replace(os.sep, ".")
    package = "" if package == "." else package
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                base = parts[: len(parts) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if not module:
                continue
            names.add(module)
            # `from package import submodule` imports a module too.
            names.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def main(dirs):
    names = set()
    for root in dirs:
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if d not in ("__pycache__", "tests", "test")]
            for name in files:
                if name.endswith(".py") and not name.startswith("test_"):
                    names.update(modules_of(os.path.join(directory, name), root))
    # Not modules to load: compiler directives, and the bindings of the component's world
    # (whose other world's interfaces the SDK imports only where they exist).
    names = {
        name
        for name in names
        if name.split(".")[0] not in ("__future__", "wit_world")
        and not name.startswith("componentize_py_")
    }
    print(
        f"""

# Added by guest-sdk/python/build.sh (not in your source): every module this connector
# imports anywhere, loaded now so that it is in the component (see scripts/preload.py).
def _wasm_connect_preload(names):
    import importlib
    import sys
    from wasm_connect import _glue
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:
            # `from package import name` names a member as often as a submodule.
            parent, _, member = name.rpartition(".")
            if parent and parent in sys.modules and hasattr(sys.modules[parent], member):
                continue
            _glue.UNAVAILABLE_MODULES.append((name, str(error)))
        except Exception as error:  # a module that fails while it initializes
            _glue.UNAVAILABLE_MODULES.append((name, repr(error)))


_wasm_connect_preload({sorted(names)!r})
del _wasm_connect_preload"""
    )


if __name__ == "__main__":
    main(sys.argv[1:])
