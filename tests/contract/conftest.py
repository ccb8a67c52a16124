"""Options of the contract suite.

A strategy, space or evaluator kept outside the package (added through
``hydra.searchpath``) is tested by naming its config folder, the one holding
``strategy/<name>.yaml`` etc.::

    pytest tests/contract --contract-conf=path/to/my_conf -k mystrategy
    NASFRAME_CONTRACT_CONF=path/to/my_conf pytest tests/contract -k mystrategy

Several folders are separated by the path separator (``:`` on Linux). The
folders' Python modules must be importable (``PYTHONPATH``).
"""


def pytest_addoption(parser):
    parser.addoption("--contract-conf", action="append", default=[],
                     help="extra Hydra config folder(s) whose strategy/space/evaluator entries the contract "
                          "suite also composes (also: $NASFRAME_CONTRACT_CONF)")
