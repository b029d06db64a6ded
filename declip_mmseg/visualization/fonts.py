"""Fonts for legends: one that has glyphs for every character of a class name.

Pillow's default font covers ASCII only, so names with umlauts or in CJK drew
as boxes. Candidates, in order: ``$DECLIP_FONT``; matplotlib's DejaVu Sans
(installed with mmengine: Latin, Greek, Cyrillic, ...); common system fonts
with CJK glyphs (Noto CJK, WenQuanYi, Droid Sans Fallback, macOS / Windows
fonts); whatever fontconfig (``fc-match``) finds for the missing characters.
A name that no font covers is drawn with ``?`` for the missing characters,
with one warning that says how to install or choose a font.
"""
import functools
import glob
import os
import os.path as osp
import shutil
import subprocess
import warnings
from typing import Iterable, List, Optional, Set, Tuple

from PIL import ImageFont

FONT_ENV = 'DECLIP_FONT'
SYSTEM_FONT_GLOBS = (
    '/usr/share/fonts/**/NotoSansCJK*.tt[cf]', '/usr/share/fonts/**/NotoSans*CJK*.[ot]t[cf]',
    '/usr/share/fonts/**/wqy-*.tt[cf]', '/usr/share/fonts/**/DroidSansFallback*.ttf',
    '/usr/share/fonts/**/NotoSans-Regular.ttf', '/usr/share/fonts/**/DejaVuSans.ttf',
    '/System/Library/Fonts/PingFang.ttc', '/System/Library/Fonts/Hiragino Sans GB.ttc',
    '/Library/Fonts/Arial Unicode.ttf', 'C:/Windows/Fonts/msyh.tt[cf]',
    'C:/Windows/Fonts/arialuni.ttf')


class FontWarning(UserWarning):
    """No available font draws some characters of a class name."""


def _matplotlib_font() -> List[str]:
    try:
        import matplotlib
    except ImportError:
        return []
    path = osp.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf')
    return [path] if osp.isfile(path) else []


def candidate_fonts() -> List[str]:
    """Font files to try, best first (see the module docstring)."""
    found = [os.environ[FONT_ENV]] if os.environ.get(FONT_ENV) else []
    found += _matplotlib_font()
    for pattern in SYSTEM_FONT_GLOBS:
        found += sorted(glob.glob(pattern, recursive=True))
    return list(dict.fromkeys(found))


@functools.lru_cache(maxsize=None)
def covered(path: str) -> Set[int]:
    """Code points with a glyph in the font file (empty if unreadable)."""
    try:
        from fontTools.ttLib import TTFont
        font = TTFont(path, fontNumber=0, lazy=True)
        return set(font.getBestCmap() or {})
    except Exception:  # noqa: BLE001 - an unreadable font is skipped
        return set()


@functools.lru_cache(maxsize=None)
def _fontconfig_font(char: str) -> Optional[str]:
    if shutil.which('fc-match') is None:
        return None
    try:
        out = subprocess.run(['fc-match', '-f', '%{file}', f':charset={ord(char):x}'],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out and ord(char) in covered(out) else None


def font_for(text: str, fonts: Optional[Iterable[str]] = None) -> Tuple[Optional[str], str]:
    """``(font file, missing characters)``: the first font that draws all of ``text``,
    else the one that draws most of it."""
    needed = {ord(c) for c in text if not c.isspace()}
    fonts = list(candidate_fonts() if fonts is None else fonts)
    for char in sorted(needed):
        extra = _fontconfig_font(chr(char)) if not any(char in covered(f) for f in fonts) else None
        if extra:
            fonts.append(extra)
    best, best_missing = None, None
    for path in fonts:
        missing = needed - covered(path)
        if not missing:
            return path, ''
        if covered(path) and (best_missing is None or len(missing) < len(best_missing)):
            best, best_missing = path, missing
    missing = needed if best_missing is None else best_missing
    return best, ''.join(sorted(map(chr, missing)))


def legend_fonts(names: List[str], size: int = 13):
    """Per name: ``(ImageFont, text to draw)``; one :class:`FontWarning` lists the names
    that no font covers (their missing characters are drawn as ``?``)."""
    out, lacking = [], []
    for name in names:
        path, missing = font_for(name)
        text = ''.join('?' if c in missing else c for c in name) if missing else name
        if missing:
            lacking.append(f'{name!r} ({missing})')
        font = ImageFont.truetype(path, size) if path else ImageFont.load_default(size)
        out.append((font, text))
    if lacking:
        warnings.warn(
            f'no installed font has glyphs for the class names {", ".join(lacking)}; the legend '
            "shows '?' for those characters. Install a font that covers them (e.g. "
            f'`apt install fonts-noto-cjk` for Chinese / Japanese / Korean) or set '
            f'{FONT_ENV}=/path/to/font.ttf.', FontWarning, stacklevel=2)
    return out
