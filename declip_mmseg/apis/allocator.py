"""Keep large temporaries' memory in the process (glibc malloc), for steady CPU times.

glibc serves blocks above ``M_MMAP_THRESHOLD`` (at most 32 MB) with fresh ``mmap`` pages and
returns them to the OS on ``free``; a backbone call makes 40-200 MB temporaries, so every call
faults its pages in again (0.2-0.9 million minor page faults per image), and how much depends
on the process's history: the same image took 3.0 s in one process and 4.0 s in another.
:func:`keep_freed_memory` serves every block from the heap (``M_MMAP_MAX = 0``) and never trims
it (``M_TRIM_THRESHOLD``), so freed memory is reused; the peak stays the same. The tools call it
at start-up; elsewhere (not Linux / glibc) it does nothing.
"""
import ctypes
import ctypes.util
import resource

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_DONE = []


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse; returns whether it applied."""
    if _DONE:
        return _DONE[0]
    ok = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        ok = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
    except (OSError, AttributeError):
        ok = False
    _DONE.append(ok)
    return ok


def minor_page_faults() -> int:
    """Minor page faults of this process so far (``getrusage`` ``ru_minflt``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
