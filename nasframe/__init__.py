"""nasframe: pluggable neural architecture search.

Three interfaces (``SearchSpace``, ``Evaluator``, ``Strategy``) and one loop
(``Runner``). Everything else is a plug-in selected by Hydra config.
"""
from nasframe.core import *  # noqa: F401,F403
from nasframe.core import __all__ as _core_all
from nasframe.errors import ArchitectureError, CapabilityError, ConfigError, DataError, NasframeError

__version__ = "0.1.0"
__all__ = list(_core_all) + ["NasframeError", "ConfigError", "ArchitectureError", "DataError", "CapabilityError"]
