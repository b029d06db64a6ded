"""Console output of the tools that survives any console encoding."""
import codecs
import sys


def robust_console() -> None:
    """Let prints of non-ASCII text (class names, paths, a legend) survive a console that
    cannot show it (``PYTHONIOENCODING=ascii``, ``LANG=C`` on older Pythons, a latin-1
    terminal): characters the console's encoding lacks are written as ``\\xe9``-style escapes
    instead of raising ``UnicodeEncodeError`` in the last print, after the work was done.
    Every tool calls it first; UTF-8 consoles are left as they are."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, 'encoding', None)
        if not hasattr(stream, 'reconfigure') or not encoding:
            continue  # replaced by a StringIO (tests) or closed
        try:
            if codecs.lookup(encoding).name != 'utf-8':
                stream.reconfigure(errors='backslashreplace')
        except (LookupError, ValueError, OSError):
            continue  # an unknown codec or a detached stream: nothing to improve
