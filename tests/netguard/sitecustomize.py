"""The network guard in every Python process of a workflow test (put this folder on PYTHONPATH).

Snakemake runs each job's script in a new Python process, where the test's own guard does not
reach. With ``NEPFLOW_NETGUARD_LOG`` set, this module (imported by ``site`` at start-up) installs
:class:`fakeservers.NetGuard`, so a job can contact only loopback addresses; every refused
attempt is appended to that file when the process exits, for the test to check.
"""

import os

if os.environ.get("NEPFLOW_NETGUARD_LOG"):
    import atexit
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "_nepflow_fakeservers",
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakeservers.py"),
    )
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    _guard = _mod.NetGuard().__enter__()

    def _report(path=os.environ["NEPFLOW_NETGUARD_LOG"]):
        if _guard.blocked:
            with open(path, "a") as fh:
                fh.writelines(f"{b}\n" for b in _guard.blocked)

    atexit.register(_report)
