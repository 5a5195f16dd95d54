"""Import a recipe from examples/ (not a package) by file name, for tests of its functions."""
import importlib.util
import os

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def load_example(name: str):
    """The module ``examples/<name>.py``, freshly executed (its ``main`` is not run)."""
    path = os.path.join(EXAMPLES, name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
