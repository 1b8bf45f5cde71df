"""Build the optional C accelerator ``draws._accel`` (everything else is in pyproject.toml).

``optional=True``: where OpenSSL's headers or a compiler are missing the install still
succeeds and ``draws`` runs its pure-Python code (same answers, slower). The test
``tests/draws/test_accel.py::test_accelerator_is_built`` fails in that case, so CI shows it.
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
        )
    ]
)
