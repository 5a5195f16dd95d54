"""Transfer-learning utilities: freeze and unfreeze parameters by name prefix, and split a
model's parameters into optimizer parameter groups by name prefix (e.g. a lower learning rate
for the pretrained body than for a new head).

Prefixes are state_dict names cut at a dot: ``"fc3"`` matches ``fc3.weight`` and
``fc3.bias`` but not ``fc30.weight``; ``"features.0"`` matches only the first layer of a
``features`` Sequential. A prefix that matches no parameter is an error (it is almost always a
typo, which would otherwise leave a layer silently trainable or at the default learning rate).
The functions only use ``named_parameters()``, so they work on any module with torch's API.

Example:
    >>> import ganglion
    >>> from ganglion.models import LeNet5
    >>> from ganglion.models.transfer import freeze, param_groups
    >>> model = LeNet5()
    >>> freeze(model, exclude=["fc3"])[:2]
    ['conv1.weight', 'conv1.bias']
    >>> [n for n, p in model.named_parameters() if p.requires_grad]
    ['fc3.weight', 'fc3.bias']
    >>> groups = param_groups(model, {"fc3": {"lr": 1e-3}}, lr=1e-4)
    >>> [(len(g["params"]), g["lr"]) for g in groups]
    [(2, 0.001), (8, 0.0001)]
    >>> opt = ganglion.optim.Adam(groups)
"""
from __future__ import annotations

__all__ = ["freeze", "unfreeze", "param_groups"]


def _as_prefixes(prefixes, who: str, what: str) -> list[str]:
    if prefixes is None:
        return []
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    prefixes = list(prefixes)
    for p in prefixes:
        if not isinstance(p, str) or not p or p.startswith(".") or p.endswith("."):
            raise ValueError(f"{who}: each entry of {what} must be a non-empty parameter-name "
                             f"prefix such as 'fc3' or 'features.0', got {p!r}")
    return prefixes


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _check_found(names: list[str], prefixes: list[str], who: str) -> None:
    missing = [p for p in prefixes if not any(_under(n, p) for n in names)]
    if missing:
        tops = sorted({n.split(".")[0] for n in names})
        raise ValueError(f"{who}: prefix(es) {missing} match no parameter of the model; "
                         f"parameter names start with {tops} (see model.named_parameters())")


def _set_requires_grad(module, prefixes, exclude, flag: bool, who: str) -> list[str]:
    prefixes = _as_prefixes(prefixes, who, "prefixes")
    exclude = _as_prefixes(exclude, who, "exclude")
    named = list(module.named_parameters())
    names = [n for n, _ in named]
    _check_found(names, prefixes + exclude, who)
    changed = []
    for name, p in named:
        chosen = not prefixes or any(_under(name, q) for q in prefixes)
        if chosen and not any(_under(name, q) for q in exclude):
            p.requires_grad_(flag)
            changed.append(name)
    return changed


def freeze(module, prefixes=None, *, exclude=None) -> list[str]:
    """Set ``requires_grad=False`` on the parameters under ``prefixes`` (all parameters when
    None), except those under ``exclude``; frozen parameters get no gradient in backward.

    Args:
        module: the model.
        prefixes: a name prefix or a list of them (``"conv1"``, ``"features.0"``), or None.
        exclude: prefixes to leave as they are (e.g. the new head), or None.

    Returns:
        The names of the parameters that were set, in ``named_parameters()`` order.

    Raises:
        ValueError: a prefix is empty or matches no parameter.

    Example:
        >>> from ganglion import nn
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> freeze(net, "0")
        ['0.weight', '0.bias']
    """
    return _set_requires_grad(module, prefixes, exclude, False, "freeze")


def unfreeze(module, prefixes=None, *, exclude=None) -> list[str]:
    """Set ``requires_grad=True`` on the parameters under ``prefixes`` (all when None), except
    those under ``exclude``: the inverse of :func:`freeze`, with the same arguments.

    Example:
        >>> from ganglion import nn
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> _ = freeze(net)
        >>> unfreeze(net, exclude="0")
        ['2.weight', '2.bias']
    """
    return _set_requires_grad(module, prefixes, exclude, True, "unfreeze")


def param_groups(module, groups: dict, **defaults) -> list[dict]:
    """Optimizer parameter groups of ``module``, chosen by parameter-name prefix.

    Each parameter goes to the group of the longest prefix it is under; parameters under no
    prefix form a last group with the options ``defaults`` (left out when it is empty). Options
    a group does not set take the optimizer's defaults, as with any list of param groups.
    Frozen parameters are included (they get no gradient, so optimizers skip them); pass only
    the trainable ones by freezing after building, or filter ``requires_grad`` yourself.

    Args:
        module: the model.
        groups: ``{prefix: {option: value}}``, e.g. ``{"fc3": {"lr": 1e-3}}``; its order is
            the order of the groups.
        **defaults: options of the group of the remaining parameters, e.g. ``lr=1e-4``.

    Returns:
        A list of ``{"params": [...], **options}`` dicts for any ``ganglion.optim`` optimizer.

    Raises:
        ValueError: a prefix is empty or matches no parameter, or its options are not a dict
            (or set ``"params"``).

    Example:
        >>> from ganglion import nn
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> [(len(g["params"]), g.get("lr")) for g in param_groups(net, {"2": {"lr": 0.1}})]
        [(2, 0.1), (2, None)]
    """
    if not isinstance(groups, dict):
        raise ValueError(f"param_groups: groups must be a dict {{prefix: options}}, such as "
                         f"{{'fc3': {{'lr': 1e-3}}}}, got {type(groups).__name__}")
    prefixes = _as_prefixes(list(groups), "param_groups", "groups")
    for prefix, options in groups.items():
        if not isinstance(options, dict) or "params" in options:
            raise ValueError(f"param_groups: the options of prefix {prefix!r} must be a dict of "
                             f"optimizer options without 'params', such as {{'lr': 1e-3}}, "
                             f"got {options!r}")
    if "params" in defaults:
        raise ValueError("param_groups: 'params' is not an option; the remaining parameters "
                         "form the last group")
    named = list(module.named_parameters())
    _check_found([n for n, _ in named], prefixes, "param_groups")
    members = {p: [] for p in prefixes}
    rest = []
    for name, param in named:
        under = [p for p in prefixes if _under(name, p)]
        (members[max(under, key=len)] if under else rest).append(param)
    # A prefix whose parameters all belong to longer prefixes would give an empty group.
    out = [{"params": members[p], **groups[p]} for p in prefixes if members[p]]
    if rest:
        out.append({"params": rest, **defaults})
    return out
