"""One error hierarchy: every exception class of the target derives from TargetZohoCRMError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import target_zoho_crm
from target_zoho_crm.errors import ConfigError, TargetZohoCRMError


def test_every_exception_class_of_the_target_has_the_one_base() -> None:
    classes = {}
    for info in pkgutil.walk_packages(target_zoho_crm.__path__, "target_zoho_crm."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                classes[f"{info.name}.{name}"] = obj
    assert len(classes) >= 14
    assert [name for name, cls in classes.items() if not issubclass(cls, TargetZohoCRMError)] == []
    assert issubclass(ConfigError, ValueError)  # still caught where a ValueError is expected
