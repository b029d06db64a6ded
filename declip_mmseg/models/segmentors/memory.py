"""How much memory a step may take, and a clear error before it cannot fit."""
import torch


def available_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the GPU's free memory, or the host's MemAvailable."""
    device = torch.device(device)
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62  # unknown: assume it fits


def ensure_fits(needed_bytes: int, device, what: str, fix: str) -> None:
    """Raise a MemoryError that says what needs how much, before allocating it."""
    free = available_bytes(device)
    if needed_bytes > free:
        raise MemoryError(
            f'{what} needs about {needed_bytes / 2 ** 30:.1f} GiB of {torch.device(device).type} '
            f'memory, but only {free / 2 ** 30:.1f} GiB is free: {fix}.')
