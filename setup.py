"""Build the optional C accelerators ``draws._accel`` and ``bidding._fast`` (everything else
is in pyproject.toml).

``optional=True``: where OpenSSL's headers or a compiler are missing the install still
succeeds and ``draws`` / ``bidding`` run their pure-Python code (same answers, slower). The
tests ``tests/draws/test_accel.py::test_accelerator_is_built`` and
``tests/bidding/test_fast.py::test_fast_path_is_built`` fail in that case, so CI shows it.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "draws._accel",
            sources=["draws/_accel.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-std=c11", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
        Extension(
            "bidding._fast",
            sources=["bidding/_fast.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ]
)
