"""BUILD files the plugin tests write: a product of two roles, its suites, and a second product."""

from __future__ import annotations

from textwrap import dedent

SHOP_BUILD = dedent(
    """\
    compat_system(
        name="shop",
        roles=[
            compat_role(
                "user-code",
                module="shop.cli:main",
                args=["code-server", "--port", "{port[grpc]}"],
                ports=["grpc"],
                readiness=grpc_health_probe("grpc"),
                branch_sources=["src/shop/code_server"],
            ),
            compat_role(
                "server",
                script="shop-server",
                args=["--port", "{port[http]}", "--code", "{address[user-code]}"],
                ports=["http"],
                readiness=http_probe("http", "/health"),
                depends_on=["user-code"],
                requires=["user-code"],
                branch_sources=["src/shop/server", "src/shop:lib"],
            ),
        ],
        releases=["0.1.0", "0.2.0"],
        earliest="0.1.0",
        release_dependencies=["src/shop:adapters"],
    )
    """
)
SHOP_RESOLVES = {"shop-0.1.0": "locks/shop-0.1.0.lock", "shop-0.2.0": "locks/shop-0.2.0.lock"}

BACKCOMPAT_BUILD = dedent(
    """\
    compat_suite(
        name="backcompat",
        system="src/shop:shop",
        topology={"server": 1, "user-code": 1},
        cells=[
            compat_cell("server-latest", {"server": "latest"}),
            compat_cell("server-earliest", {"server": "earliest"}),
            compat_cell("user-code-earliest", {"user-code": "earliest"}),
        ],
        full_matrix=True,
        backends=["process", "docker"],
        tags=["slow"],
        dependencies=[":conftest"],
        timeout=120,
    )
    python_test_utils(name="conftest")
    """
)

# A product whose source is not in the repo: a release plays branch; releases name their
# requirements and one its own resolve.
DAGSTER_BUILD = dedent(
    """\
    compat_system(
        name="dagster",
        roles=[
            compat_role("webserver", script="dagster-webserver", args=["-p", "{port[http]}"], ports=["http"],
                        readiness=http_probe("http", "/server_info")),
            compat_role("user-code", script="dagster", args=["api", "grpc", "-p", "{port[grpc]}"], ports=["grpc"],
                        readiness=grpc_health_probe("grpc")),
        ],
        releases={"1.8.0": ["dagster==1.8.0", "dagster-webserver==1.8.0"],
                  "1.9.0": ["dagster==1.9.0", "dagster-webserver==1.9.0"]},
        release_resolves={"1.9.0": "dagster-new"},
        earliest="1.8.0",
        branch_release="1.9.0",
    )
    compat_suite(
        name="dagster-backcompat",
        system=":dagster",
        topology={"webserver": 1, "user-code": 1},
        cells=[compat_cell("webserver-earliest", {"webserver": "earliest"})],
        backends=["process"],
    )
    """
)
DAGSTER_RESOLVES = {"dagster-1.8.0": "locks/dagster-1.8.0.lock", "dagster-new": "locks/dagster-new.lock"}


def shop_files(suite_build: str = BACKCOMPAT_BUILD) -> dict:
    """The shop system and one suite over it, with a test module and a conftest."""
    return {
        "src/shop/BUILD": SHOP_BUILD,
        "tests/backcompat/BUILD": suite_build,
        "tests/backcompat/test_shop.py": "def test_it():\n    pass\n",
        "tests/backcompat/conftest.py": "",
    }
