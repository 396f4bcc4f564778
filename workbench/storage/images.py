"""A template's images kept beside its file in the library.

Each image a template's messages carry is written once to ``<name>.images/<hash>.<ext>`` next to
``<name>.prompt.yaml`` (named by a hash of its bytes: equal images are stored once, and an old
version's image is never overwritten, so restoring any version finds its pictures); the YAML then
names it by that relative ``path`` instead of holding its base64. Files are written atomically
before the template that refers to them.
"""

from __future__ import annotations

from pathlib import Path

from workbench.core.images import EXTENSIONS, ImagePart
from workbench.core.models import PromptTemplate
from workbench.core.template_files import SUFFIX
from workbench.storage import files


def images_folder(template_path: Path) -> Path:
    """The folder holding the images of the template file ``template_path``."""
    return template_path.with_name(template_path.name.removesuffix(SUFFIX) + ".images")


def store_images(template: PromptTemplate, template_path: Path) -> PromptTemplate:
    """``template`` with every image written beside ``template_path`` and named by its path
    there (its bytes kept in memory too); an image already there is not written again."""
    if not any(m.images for m in template.messages):
        return template
    folder = images_folder(template_path)
    messages = [
        m.model_copy(update={"images": [_stored(i, folder) for i in m.images]}) if m.images else m
        for m in template.messages
    ]
    return template.model_copy(update={"messages": messages})


def _stored(image: ImagePart, folder: Path) -> ImagePart:
    if not image.data:  # named, not loaded: its file is wherever it was read from
        return image
    name = f"{image.digest()}.{EXTENSIONS[image.media_type]}"
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        files.write_bytes(target, image.raw())
    return image.model_copy(update={"path": f"{folder.name}/{name}"})
