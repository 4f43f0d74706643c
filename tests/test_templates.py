"""Every template parses: a broken tag in a rarely visited page fails here, not in front of a user."""

from pathlib import Path

from django.template.loader import get_template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_template_compiles():
    names = sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html"))
    assert len(names) > 20
    for name in names:
        get_template(name)  # raises TemplateSyntaxError naming the file and line
