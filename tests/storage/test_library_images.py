"""A template's images in the library: written beside its file once (named by their hash), the
YAML naming them by relative path, their bytes back on every load and version restore; a file
that names a missing image or one outside its folder is refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.images import encode
from workbench.core.errors import TemplateFileError
from workbench.core.images import ImagePart
from workbench.core.models import Message, PromptTemplate
from workbench.core.template_files import TemplateFile, dumps, loads
from workbench.storage.db import Database
from workbench.storage.library import Library

CHART = ImagePart.from_bytes(encode(120, 80))
PHOTO = ImagePart.from_bytes(encode(50, 50, "JPEG", 80), detail="low")


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    db = Database(tmp_path / "db.sqlite")
    yield Library(db, tmp_path / "lib")
    db.close()


def _template(*images: ImagePart) -> PromptTemplate:
    return PromptTemplate(name="Chart reader", messages=[
        Message(role="system", content="Read charts."),
        Message(role="user", content="What does {{ chart }} show?", images=list(images)),
    ])


def test_images_are_kept_beside_the_template_and_read_back(library: Library) -> None:
    template = _template(CHART, PHOTO)
    library.save(template, key="charts/reader")
    path = library.path_for("charts/reader")
    stored = sorted((path.parent / "reader.images").iterdir())
    assert [p.suffix for p in stored] == [".jpeg", ".png"]
    data = yaml.safe_load(path.read_text())
    assert data["messages"][1]["images"] == [
        {"media_type": "image/png", "path": f"reader.images/{CHART.digest()}.png"},
        {"media_type": "image/jpeg", "path": f"reader.images/{PHOTO.digest()}.jpeg",
         "detail": "low"},
    ]
    assert CHART.data not in path.read_text()  # the bytes live in the image file only
    loaded = library.load("charts/reader")
    assert loaded == template and loaded.messages[1].images[0].raw() == CHART.raw()
    assert library.open_file("charts/reader").template == template


def test_every_version_keeps_its_images(library: Library) -> None:
    library.save(_template(CHART), key="reader")
    library.save(_template(PHOTO), key="reader")
    assert library.load("reader", 1).messages[1].images == [CHART]
    assert library.load("reader").messages[1].images == [PHOTO]
    library.save(_template(PHOTO), key="reader")  # unchanged: no new version
    assert len(library.versions("reader")) == 2


def test_a_missing_image_is_said_when_the_file_is_read(library: Library) -> None:
    library.save(_template(CHART), key="reader")
    (library.path_for("reader").parent / "reader.images" / f"{CHART.digest()}.png").unlink()
    with pytest.raises(TemplateFileError, match=r"messages\[1\] image reader.images/"):
        TemplateFile.read(library.path_for("reader"))


@pytest.mark.parametrize("path", ["../secret.png", "/etc/passwd", "a/../../b.png", "C:/x.png"])
def test_an_image_path_cannot_leave_the_template_folder(path: str) -> None:
    text = dumps(_template(CHART)).replace(f"data: {CHART.data}", f"path: {path}")
    assert path in text
    with pytest.raises(TemplateFileError, match="must stay inside the template's folder"):
        loads(text)


def test_a_template_outside_the_library_carries_its_images_inline() -> None:
    template = _template(CHART)
    assert loads(dumps(template)) == template  # a draft or an export is self-contained


def test_a_template_file_outside_the_library_keeps_its_images_beside_it(tmp_path: Path) -> None:
    from workbench.storage import files
    from workbench.storage.images import store_images

    path = tmp_path / "mine" / "chart.prompt.yaml"
    path.parent.mkdir()
    stored = store_images(_template(CHART), path)  # what Save as… does before writing
    files.write_text(path, dumps(stored))
    assert (tmp_path / "mine" / "chart.images" / f"{CHART.digest()}.png").read_bytes() == (
        CHART.raw()
    )
    assert TemplateFile.read(path).template == _template(CHART)
