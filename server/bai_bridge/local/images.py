"""Which Jupyter kernel serves an image name (protocol doc §3.1 step 1)."""

from __future__ import annotations

from collections.abc import Mapping

from jupyter_client.kernelspec import KernelSpecManager

from bai_bridge.local.errors import UnknownImage


def installed_kernels() -> dict[str, str]:
    """Kernel spec name -> its language, for every kernel visible to this process."""
    manager = KernelSpecManager()
    specs: Mapping[str, dict[str, dict[str, object]]] = manager.get_all_specs()
    return {name: str(spec["spec"].get("language", "")).lower() for name, spec in specs.items()}


def image_language(image: str) -> str:
    """`cr.backend.ai/stable/python:3.9-ubuntu20.04` -> `python`."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].split("@", 1)[0].lower()


def kernel_for_image(image: str, kernels: Mapping[str, str]) -> str:
    """The kernel spec name for an image, or `UnknownImage` listing what exists."""
    language = image_language(image)
    if "python" in image.lower() and "python3" in kernels:
        return "python3"
    for name, kernel_language in sorted(kernels.items()):
        if language and (language in (name.lower(), kernel_language)):
            return name
    raise UnknownImage(image, available_images(kernels))


def available_images(kernels: Mapping[str, str]) -> list[str]:
    return sorted({f"{language or name}:{name}" for name, language in kernels.items()})
