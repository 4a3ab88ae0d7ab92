"""Packaging: pyproject.toml installs every package and the page's files."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOTS = ("app", "detectors", "stylegan2", "weights")


def listed_packages() -> set:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)
    return set(re.findall(r'"([\w.]+)"', block))


def test_every_package_on_disk_is_installed():
    on_disk = {".".join(path.parent.relative_to(ROOT).parts) for root in PACKAGE_ROOTS
               for path in (ROOT / root).rglob("__init__.py")}
    assert on_disk - listed_packages() == set()


def test_the_page_templates_and_static_files_are_installed_with_the_app():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"app.templates" = "templates"' in text and '"app.static" = "static"' in text
    assert {"app.templates", "app.static", "app.live"} <= listed_packages()
