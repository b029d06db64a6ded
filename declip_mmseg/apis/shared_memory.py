"""Shared memory for data loader workers, checked before the first training step.

Worker processes hand their batches to the main process through ``/dev/shm``. Docker gives a
container 64 MB there unless told otherwise; a distillation batch (student view, 20 teacher
crops, VFM view) is tens of MB, so with a few workers the run dies later with "bus error" or
"DataLoader worker (pid N) is killed by signal". This says so, with the fixes, before it starts.
"""
import os
from typing import Optional

import torch

SHM = '/dev/shm'


def shared_memory_free(path: str = SHM) -> Optional[int]:
    """Free bytes of the shared-memory file system (None where there is none, e.g. macOS)."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def sample_bytes(sample) -> int:
    """Bytes of every tensor in a dataset item (nested dicts / lists / tuples)."""
    if isinstance(sample, torch.Tensor):
        return sample.numel() * sample.element_size()
    if isinstance(sample, dict):
        return sum(sample_bytes(v) for v in sample.values())
    if isinstance(sample, (list, tuple)):
        return sum(sample_bytes(v) for v in sample)
    return 0


def check_shared_memory(dataloader, key: str = 'train_dataloader') -> None:
    """Raise before training when the loader's workers need more shared memory than is free.

    Need: ``num_workers * prefetch_factor`` batches in flight, each ``batch_size`` times the
    bytes of item 0. Loaders without workers use no shared memory and pass.
    """
    workers = getattr(dataloader, 'num_workers', 0) or 0
    free = shared_memory_free()
    if workers == 0 or free is None or len(dataloader.dataset) == 0:
        return
    batch = getattr(dataloader, 'batch_size', None) or 1
    prefetch = getattr(dataloader, 'prefetch_factor', None) or 2
    per_sample = sample_bytes(dataloader.dataset[0])
    need = workers * prefetch * batch * per_sample
    if need <= free:
        return
    mb = 1024 ** 2
    raise RuntimeError(
        f'{SHM} has {free / mb:.0f} MB free, but the {workers} data loader workers of {key} '
        f'need about {need / mb:.0f} MB there ({workers} workers x {prefetch} batches in flight '
        f'x batch {batch} x {per_sample / mb:.1f} MB per sample); they would crash later with '
        f'"bus error" or "DataLoader worker ... killed". Docker gives containers 64 MB: start it '
        'with more (docker run --shm-size=16g ..., or --ipc=host), or use fewer workers '
        f'(--cfg-options {key}.num_workers=0; slower, no shared memory needed).')
