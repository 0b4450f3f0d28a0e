"""Rich menus for tests: a menu of side-by-side areas, and a PNG picture made without an
imaging library."""
import struct
import zlib


def side_by_side(width: int, height: int, actions: list, **fields) -> dict:
    """A rich menu (as LINE defines one) whose areas split it into equal columns, one per
    action; ``fields`` add to or replace its top-level fields."""
    areas = [{"bounds": {"x": width * k // len(actions), "y": 0,
                         "width": width // len(actions), "height": height},
              "action": action} for k, action in enumerate(actions)]
    return {"size": {"width": width, "height": height}, "selected": False, "name": "main",
            "chatBarText": "メニュー", "areas": areas, **fields}


def set_default(platform, menu_id: str, menu: dict, image=None) -> None:
    """What the rich menu endpoints leave on the platform after create, upload and default."""
    platform.rich_menus[menu_id] = {"menu": menu, "image": image}
    platform.default_rich_menu_id = menu_id


def panels_png(width: int, height: int, colors: list) -> bytes:
    """An RGB PNG split into equally wide vertical panels, one per (r, g, b) colour."""
    row = bytearray()
    for index, color in enumerate(colors):
        start, end = width * index // len(colors), width * (index + 1) // len(colors)
        row += bytes(color) * (end - start)
    pixels = (b"\x00" + bytes(row)) * height  # filter type 0 for every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))
