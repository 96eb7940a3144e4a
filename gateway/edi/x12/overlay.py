"""Partner overlays: small YAML files that change a guide (usage, max use, codes of a segment or
element) and add or override fields of the map, merged over the base when both are loaded.

`mapping/x12/<version>/overlays/<name>/<set>.yaml`, from the nearest version directory at or
below the group's GS08 (format in mapping/x12/README.md). A partner names its overlay in
`x12.overlay`; sets without an overlay file use the base unchanged.
"""

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

OVERLAYS = "overlays"
TOP_KEYS = {"guide", "map"}
SEGMENT_KEYS = {"usage", "max", "elements"}
LOOP_KEYS = {"usage", "max"}
ELEMENT_KEYS = {"usage", "codes", "min", "max"}
MAP_KEYS = {"fields", "fixed", "always"}


class OverlayError(ValueError):
    """An overlay that cannot be applied: names the file and the key."""


@dataclass(frozen=True)
class Overlay:
    path: Path
    guide: dict
    map: dict

    def error(self, key: str, message: str) -> OverlayError:
        return OverlayError(f"{self.path}: {key}: {message}")


def overlay_path(name: str, set_id: str, version: str, root: Path) -> Path | None:
    """The overlay file of `name` for a set, from the nearest version at or below `version`."""
    for ver in sorted((p.name for p in root.iterdir() if p.name.isdigit()), reverse=True):
        path = root / ver / OVERLAYS / name / f"{set_id}.yaml"
        if ver <= version[:6] and path.exists():
            return path
    return None


def overlay_names(root: Path) -> set[str]:
    """Every overlay name that has a directory under some version."""
    return {d.name for v in root.iterdir() if v.name.isdigit() and (v / OVERLAYS).is_dir()
            for d in (v / OVERLAYS).iterdir() if d.is_dir()}


def load_overlay(path: Path) -> Overlay:
    try:
        with path.open() as fh:
            data = YAML(typ="safe").load(fh) or {}
    except OSError as exc:
        raise OverlayError(f"{path}: {exc}") from exc
    except Exception as exc:  # a YAML syntax error, with its line
        raise OverlayError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise OverlayError(f"{path}: an overlay is a mapping with keys guide and map")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise OverlayError(f"{path}: {', '.join(sorted(map(str, unknown)))}: unknown key "
                           "(an overlay has guide and map)")
    overlay = Overlay(path, data.get("guide") or {}, data.get("map") or {})
    for key, value in (("guide", overlay.guide), ("map", overlay.map)):
        if not isinstance(value, dict):
            raise overlay.error(key, "must be a mapping")
    unknown = set(overlay.map) - MAP_KEYS
    if unknown:
        raise overlay.error("map", f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                                   f"(allowed: {', '.join(sorted(MAP_KEYS))})")
    return overlay


def unshare(node):
    """A copy without shared parts (YAML anchors), so that changing one place changes only it."""
    if isinstance(node, dict):
        return {k: unshare(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unshare(v) for v in node]
    return node


def _as_dict(entry):
    if isinstance(entry, dict):
        return entry
    parts = str(entry).split()
    return {"seg": parts[0], "usage": parts[1] if len(parts) > 1 else "S",
            "max": parts[2] if len(parts) > 2 else 1}


def _find(body: list, parts: list[str], overlay: Overlay, key: str) -> dict:
    """The guide entry at `parts` (loop names, then a segment id or a loop name)."""
    name, rest = parts[0], parts[1:]
    for i, entry in enumerate(body):
        if not rest and not (isinstance(entry, dict) and "loop" in entry) \
                and _as_dict(entry)["seg"] == name:
            body[i] = _as_dict(entry)
            return body[i]
    for entry in body:
        if isinstance(entry, dict) and str(entry.get("loop")) == name:
            return _find(entry["body"], rest, overlay, key) if rest else entry
    raise overlay.error(f"guide.{key}", f"the guide has no segment or loop {name!r} there")


def apply_guide(overlay: Overlay, structure: list, segments: dict) -> list:
    """The guide structure with the overlay's changes (`segments`: the segment dictionary,
    to check element references)."""
    structure = unshare(structure)
    for key, change in overlay.guide.items():
        where = f"guide.{key}"
        if not isinstance(change, dict):
            raise overlay.error(where, "must be a mapping of usage, max, elements")
        entry = _find(structure, str(key).split("/"), overlay, str(key))
        is_loop = "loop" in entry
        unknown = set(change) - (LOOP_KEYS if is_loop else SEGMENT_KEYS)
        if unknown:
            raise overlay.error(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        if "usage" in change:
            if change["usage"] not in ("R", "S", "N"):
                raise overlay.error(f"{where}.usage", f"{change['usage']!r} is not R, S or N")
            entry["usage"] = change["usage"]
        if "max" in change:
            value = str(change["max"])
            if not (value.isdigit() or value == ">1"):
                raise overlay.error(f"{where}.max", f"{value!r} is not a number or >1")
            entry["max"] = change["max"]
        for ref, over in (change.get("elements") or {}).items():
            ewhere = f"{where}.elements.{ref}"
            tag = entry["seg"]
            ref = str(ref)
            position = ref[len(tag):] if ref.startswith(tag) else ""
            size = len(segments[tag].elements) if tag in segments else 0
            if not position.isdigit() or not 0 < int(position) <= size:
                raise overlay.error(ewhere, f"{tag} has no element {ref}")
            if not isinstance(over, dict) or set(over) - ELEMENT_KEYS:
                raise overlay.error(ewhere, f"give {', '.join(sorted(ELEMENT_KEYS))}")
            if "usage" in over and over["usage"] not in ("R", "S", "N"):
                raise overlay.error(f"{ewhere}.usage", f"{over['usage']!r} is not R, S or N")
            entry.setdefault("elements", {}).setdefault(ref, {}).update(over)
    return structure


def merge_map(overlay: Overlay, data: dict) -> dict:
    """The map's YAML with the overlay's fields, fixed and always merged over it: mappings are
    merged key by key, anything else replaces; a null removes the field."""

    def merge(base, over):
        if not isinstance(base, dict) or not isinstance(over, dict):
            return over
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = merge(out.get(k), v)
        return out

    data = unshare(data)
    for key, value in overlay.map.items():
        data[key] = merge(data.get(key), value)
    return data
