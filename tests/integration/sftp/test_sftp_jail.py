"""The jail's path normalisation against a table of ordinary and hostile client paths."""

from pathlib import Path

import pytest

from gateway.sftp.jail import JailError, resolve, split, virtual

ROOT = Path("/srv/gateway/sftp/acme")


@pytest.mark.parametrize(
    "client_path, expected",
    [
        ("", ()),
        (".", ()),
        ("/", ()),
        ("inbound", ("inbound",)),
        ("/inbound/order.edi", ("inbound", "order.edi")),
        ("inbound//./order.edi", ("inbound", "order.edi")),
        ("outbound/../inbound/x.edi", ("inbound", "x.edi")),
        (b"/outbound/855.edi", ("outbound", "855.edi")),
        ("/etc/passwd", ("etc", "passwd")),  # absolute means below the virtual root
        ("//etc///shadow/", ("etc", "shadow")),
        ("inbound/ünïcode.edi", ("inbound", "ünïcode.edi")),
        ("inbound/...", ("inbound", "...")),
        ("inbound/" + "n" * 255, ("inbound", "n" * 255)),
    ],
)
def test_paths_stay_inside(client_path, expected):
    assert split(client_path) == expected
    assert resolve(ROOT, client_path) == ROOT.joinpath(*expected)
    assert virtual(expected) == "/" + "/".join(expected)


@pytest.mark.parametrize(
    "client_path, message",
    [
        ("..", "above the root"),
        ("../globex/inbound/x", "above the root"),
        ("/../../etc/passwd", "above the root"),
        ("inbound/../../etc/x", "above the root"),
        ("inbound/../outbound/../..", "above the root"),
        ("inbound/x\x00.edi", "control character"),
        ("inbound/x\n.edi", "control character"),
        ("inbound/\x1b[31mred", "control character"),
        ("inbound/x\x7f", "control character"),
        ("..\\..\\etc\\passwd", "backslash"),
        ("inbound/" + "n" * 256, "component longer"),
        ("inbound/" + "é" * 128, "component longer"),  # 256 bytes in UTF-8
        ("/".join(["inbound"] * 200), "path longer"),
        (b"inbound/\xff\xfe.edi", "UTF-8"),
    ],
)
def test_hostile_paths_are_refused(client_path, message):
    with pytest.raises(JailError, match=message):
        resolve(ROOT, client_path)


def test_resolve_never_reaches_outside_root():
    for hostile in ["a/../../b", "/a/b/../../../c", "x/" + "../" * 10]:
        try:
            path = resolve(ROOT, hostile)
        except JailError:
            continue
        assert path == ROOT or ROOT in path.parents
