"""tools/dist_launch.sh (behind dist_test.sh / dist_train.sh): GPUS and PORT checked before torchrun
starts. A shell script, so a subprocess; PYTHON=echo stands in for torchrun."""
import os
import socket
import subprocess

import pytest

from declip_mmseg.testing.tools import REPO


def launch(script, *args, **env):
    return subprocess.run(['bash', f'{REPO}/tools/{script}', *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHON='echo', **env), timeout=30)


@pytest.mark.parametrize('gpus', ['0', 'two', '-1', '1.5'])
def test_gpus_must_be_a_positive_whole_number(gpus):
    proc = launch('dist_test.sh', 'configs/cfg_voc21.py', gpus)
    assert proc.returncode == 2 and proc.stdout == ''
    assert f"GPUS must be a whole number of processes, 1 or more, got '{gpus}'" in proc.stderr


def test_a_busy_port_names_the_port_knob():
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = launch('dist_train.sh', 'configs/declip_distill_coco.py', '2', PORT=str(port))
    assert proc.returncode == 2 and proc.stdout == ''
    assert f'port {port} is already in use' in proc.stderr
    assert f'PORT={port + 1} bash tools/dist_train.sh configs/declip_distill_coco.py 2' in proc.stderr


def test_a_free_port_starts_torchrun():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    proc = launch('dist_test.sh', 'configs/cfg_voc21.py', '2', '--work-dir', 'w', PORT=str(port))
    assert proc.returncode == 0, proc.stderr
    assert f'--nproc_per_node=2 --master_port={port}' in proc.stdout
    assert proc.stdout.rstrip().endswith('cfg_voc21.py --launcher pytorch --work-dir w')
