"""
The build of txinetd's optional C extension, C{txinetd.spawn._launch}, which
starts servers without copying the daemon.  A machine that cannot build it
(no compiler, no Python headers, another architecture) still installs
txinetd: the extension is optional and txinetd then forks instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "txinetd.spawn._launch",
            sources=["src/txinetd/spawn/_launch.c"],
            optional=True,
        )
    ]
)
