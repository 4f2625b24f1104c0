"""The build's one piece setuptools cannot read from pyproject.toml: the optional
C accelerator (src/inwatch/inotify/_accel*.c, see inwatch/accel.py).

``optional=True``: a machine without a compiler (or Python headers) still
installs inwatch; setuptools prints a warning that the extension was skipped, and
``inwatch --version`` then says "pure Python". Everything else (metadata,
packages, the ``inwatch`` script) is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "inwatch.inotify._accel",
            sources=[
                "src/inwatch/inotify/_accel.c",
                "src/inwatch/inotify/_accel_parse.c",
                "src/inwatch/inotify/_accel_dispatch.c",
                "src/inwatch/inotify/_accel_aio.c",
                "src/inwatch/inotify/_accel_take.c",
                "src/inwatch/inotify/_accel_watch.c",
            ],
            depends=["src/inwatch/inotify/_accel.h"],
            extra_compile_args=["-Wall", "-Wextra", "-O2"],
            optional=True,
        )
    ]
)
