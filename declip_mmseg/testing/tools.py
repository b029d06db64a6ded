"""Run a script of ``tools/`` (or ``datasets/``) in this process, as the tests do.

Every script has ``main(argv=None)``. :func:`run_tool` loads the file by path, calls ``main`` with
stdout / stderr captured and returns what a ``subprocess.run(..., capture_output=True,
text=True)`` would: the exit status (``SystemExit`` code, 1 with the traceback on stderr for an
uncaught exception), stdout and stderr. Starting a fresh interpreter costs 5-10 s of imports
(torch, mmseg, open_clip) per call; this costs nothing.

Global state a run leaves behind is reset: mmengine's logger instances (their stream handlers
hold the captured streams), visualizers (their save_dir) and message hubs, the current working
directory and ``os.environ``.
"""
import contextlib
import importlib.util
import io
import os
import os.path as osp
import sys
import traceback
from dataclasses import dataclass

# the repository root of a source checkout (tools/, configs/ and datasets/ sit there)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

_loaded = {}


@dataclass
class ToolResult:
    """What a finished tool run gives, named like ``subprocess.CompletedProcess``."""
    args: list
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self):
        return self.stdout + self.stderr


def tool_path(name):
    """``'test'`` -> ``<repo>/tools/test.py``; a path with a folder (``'datasets/x.py'``) is
    taken relative to the repository root."""
    if '/' in name or name.endswith('.py'):
        return osp.join(REPO, name if name.endswith('.py') else name + '.py')
    return osp.join(REPO, 'tools', f'{name}.py')


def load_tool(name):
    """The module of a script, loaded once by path."""
    path = tool_path(name)
    if path not in _loaded:
        module_name = 'declip_tool_' + osp.splitext(osp.relpath(path, REPO))[0].replace('/', '_')
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[path] = module
    return _loaded[path]


def _reset_loggers():
    """Forget mmengine's logger instances: a later run must not log to a stream of this one."""
    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            with contextlib.suppress(Exception):
                handler.flush()
                handler.close()
            logger.removeHandler(handler)
    MMLogger._instance_dict.clear()


def _reset_managers():
    """What a fresh process would not have: loggers, visualizers (their save_dir) and message hubs
    of an earlier run."""
    from mmengine.logging import MessageHub
    from mmengine.visualization import Visualizer
    _reset_loggers()
    for base in (Visualizer, MessageHub):
        stack = [base]
        while stack:
            cls = stack.pop()
            cls._instance_dict.clear()
            stack.extend(cls.__subclasses__())


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what the interpreter does with sys.exit('message')
    return 1


def run_tool(name, argv=(), cwd=REPO, env=None):
    """Run ``tools/<name>.py`` with ``argv`` in this process; returns a :class:`ToolResult`.

    ``cwd`` (default: the repository root, which the tools assume) and ``env`` (variables to
    set) apply during the run only.
    """
    tool = load_tool(name)
    argv = [str(a) for a in argv]
    old_cwd, old_env = os.getcwd(), dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    _reset_managers()
    try:
        os.chdir(cwd)
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = tool.main(argv)
                code = result if isinstance(result, int) else 0
            except SystemExit as exc:
                code = _exit_code(exc)
            except Exception:  # noqa: BLE001 - an uncaught error ends a process with status 1
                traceback.print_exc()
                code = 1
            _reset_managers()
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return ToolResult([name] + argv, code, out.getvalue(), err.getvalue())


def run_process(args, env=None, cwd=REPO, timeout=None):
    """``args`` in a separate process, for what needs one (torchrun, the ``dist_*.sh`` scripts,
    a script started as a program, variables read at import time); the repository goes first on
    PYTHONPATH and ``python`` is this interpreter. Returns a :class:`ToolResult`."""
    import subprocess
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2', PYTHON=sys.executable)
    full_env['PYTHONPATH'] = os.pathsep.join(p for p in [REPO, os.environ.get('PYTHONPATH')] if p)
    full_env.update(env or {})
    args = [sys.executable if a == 'python' else str(a) for a in args]
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    return ToolResult(args, proc.returncode, proc.stdout, proc.stderr)
