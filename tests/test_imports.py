"""The package's import graph: no cycles, and every import points down the stages.

Read from the source (every `import` statement, at module level or inside a function), so lazy imports
count as much as eager ones.
"""

import ast
from pathlib import Path

import s2f_tf

PACKAGE = Path(s2f_tf.__file__).parent

# Low to high: a module may import from its own layer or a lower one, never from a higher one.
LAYERS = [
    (
        "s2f_tf.errors",
        "s2f_tf.files",
        "s2f_tf.locks",
        "s2f_tf.pools",
        "s2f_tf.config",
        "s2f_tf.config_tree",
        "s2f_tf.presets",
        "s2f_tf.onednn",
    ),
    ("s2f_tf.audio", "s2f_tf.frontend", "s2f_tf.images", "s2f_tf.losses"),
    (
        "s2f_tf.data",
        "s2f_tf.synth",
        "s2f_tf.models",
        "s2f_tf.convert",
        "s2f_tf.workdir",
        "s2f_tf.checkpoint_index",
        "s2f_tf.torch_import",
    ),
    ("s2f_tf.train",),
    ("s2f_tf.evaluate",),
    ("s2f_tf.serving", "s2f_tf.bundled"),
    ("s2f_tf.commands", "s2f_tf.cli", "s2f_tf.__main__", "s2f_tf"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the s2f_tf modules it imports}."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from a import b`: module a.b if there is one, else a
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in files else node.module)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def layer(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes if p != "s2f_tf"):
            return index
    assert module == "s2f_tf", f"{module} has no layer in LAYERS"
    return len(LAYERS) - 1


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    graph = import_graph()
    assert "s2f_tf.serving.tflite" in graph["s2f_tf.serving.export"]
    assert "s2f_tf.serving.archive" in graph["s2f_tf.serving.tflite"]
    # a lazy import inside a function counts
    assert "s2f_tf.serving.export" in graph["s2f_tf.commands.export"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_imports_point_down_the_stages():
    upward = [
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in sorted(targets)
        if layer(target) > layer(source)
    ]
    assert upward == []


def test_nothing_below_training_imports_training():
    graph = import_graph()
    below = [m for m in graph if layer(m) < layer("s2f_tf.train")]
    assert "s2f_tf.workdir" in below and "s2f_tf.models.voice_to_face" in below
    assert [(m, sorted(t for t in graph[m] if t.startswith("s2f_tf.train"))) for m in below] == [
        (m, []) for m in below
    ]
