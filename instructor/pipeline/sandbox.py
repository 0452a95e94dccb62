"""Run every grading kernel in a sandbox, so a submission can neither peek nor tamper nor hog.

nbgrader runs a student's notebook, hidden tests included, in a kernel on the instructor's machine.
Here that kernel starts through this file (a kernelspec whose argv is this script), which execs:

    bwrap  a new mount namespace holding only what a kernel needs, read-only: the system (/usr, /etc),
           Python, the venv and its sys.path; over the rnnlib that this Python imports (wherever it
           is installed, asked of the interpreter itself), that rnnlib without the answers of the
           lesson it grades (instructor/pipeline/strip.py); a private
           /tmp; an empty working directory (the notebook file being graded has its hidden tests
           restored, so it stays outside). Not there: solutions/, the gradebook, other students'
           submissions, the instructor's home.
           New network namespace (loopback only), new PID namespace, dies with its parent.
    setpriv  as a user id of its own that no account has (when grading runs as root), so nothing
           outside is writable even if it were visible, and the process limit below is the kernel's
           alone: a fork bomb cannot starve a kernel grading beside it or right after it;
    prlimit  address space, processes, CPU seconds, file size: a memory bomb gets a MemoryError,
           a fork bomb runs out of processes, a runaway cell is stopped by the cell timeout first.

The kernel talks to nbgrader over Unix sockets (ZeroMQ ipc transport) in a per-run directory, since
there is no shared network. Where bubblewrap is missing or cannot create namespaces, grading goes on
without a sandbox and each grading kernel says so loudly as it starts (RNN_REQUIRE_SANDBOX=1 refuses instead).
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from traitlets import default

KERNEL_NAME = "rnn-sandbox"
NOGROUP = 65534
# Unprivileged user ids with no account, one per kernel: the launcher's pid (below pid_max, 2**22)
# above this base, so kernels running at the same time never share one.
KERNEL_UID_BASE = 2_000_000_000
# prlimit resources: virtual memory (BLAS and the allocator reserve far more than they use),
# processes and threads of the kernel's user, CPU seconds (well above the cell timeout, or the
# kernel dies of SIGXCPU instead of a cell being interrupted), size of any file written.
LIMITS = {"as": 6 << 30, "nproc": 256, "cpu": 1800, "fsize": 256 << 20, "core": 0}
# The folder holding the grader's instructor and rnnlib packages: the kernel launcher strips by
# the grader's lesson declarations, whichever rnnlib the kernel itself imports.
GRADER = Path(__file__).resolve().parents[2]
# Environment variables the kernel may see; everything else (tokens, database URLs) stays outside.
PASS_ENV = ("NBGRADER_EXECUTION", "LANG", "LC_ALL", "TZ", "PYTHONHASHSEED", "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _binds(package, path):
    """Read-only paths the kernel needs: the system, the interpreter, its sys.path (the venv and
    whatever its .pth files add), except a folder that holds an editable rnnlib (a course
    checkout, with solutions/ in it) or any folder above it: of that, only the stripped rnnlib
    is mounted."""
    system = ["/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/var/cache/fontconfig"]
    prefixes = {sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parents[1])}
    added = [p for p in path if os.path.isdir(p) and not any(Path(p).is_relative_to(x) for x in prefixes)]
    python = prefixes | {p for p in added if not package.parent.is_relative_to(p)}
    return [p for p in system if os.path.exists(p)], sorted(python)


def _parents(paths, made=("/", "/tmp", "/tmp/home", "/tmp/home/.cache", "/tmp/home/.cache/matplotlib")):
    """Every ancestor directory of paths, shortest first, that is not one of them nor made already."""
    found = {str(a) for p in paths for a in Path(p).parents}
    return sorted(found - set(paths) - set(made), key=lambda a: (a.count("/"), a))


def stripped_rnnlib(home, workdir):
    """(rnnlib without the reference answers of the assignment being graded (the folder's name),
    the rnnlib folder this Python's kernels import, their sys.path)."""
    from instructor.pipeline import strip     # the grader's, whose rnnlib.grading declares what to strip
    package, sys_path = strip.locate()
    assignment = Path(workdir).name
    return strip.build(assignment, Path(home) / "rnnlib" / assignment, package), package, sys_path


def bwrap_argv(home, connection_file, workdir, extra=()):
    """The command that runs ipykernel on connection_file inside the sandbox, in an empty workdir."""
    runtime = str(Path(json.loads(Path(connection_file).read_text())["ip"]).parent)   # the kernel's sockets
    connection_file, workdir = str(connection_file), str(workdir)
    stripped, package, sys_path = stripped_rnnlib(home, workdir)
    system, python = _binds(package, sys_path)
    binds = ([("--ro-bind", path, path) for path in python] + [("--bind", runtime, runtime)]
             + [("--ro-bind", connection_file, connection_file), ("--ro-bind", str(stripped), str(package))])
    # Matplotlib's font list, built once outside, saves seconds per kernel; its directory must be writable.
    mpl_cache = Path.home() / ".cache" / "matplotlib"
    binds += [("--ro-bind", str(f), f"/tmp/home/.cache/matplotlib/{f.name}") for f in mpl_cache.glob("fontlist*.json")]
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--proc", "/proc", "--dev", "/dev"]
    for path in system:
        argv += ["--ro-bind", path, path]
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    for home in ("/tmp/home", "/tmp/home/.cache", "/tmp/home/.cache/matplotlib"):
        argv += ["--perms", "0777", "--dir", home]
    # bwrap makes missing parents of a mount point private (0700): open them to the kernel's user.
    for parent in _parents([target for *_, target in binds] + [workdir]):
        argv += ["--perms", "0755", "--dir", parent]
    for kind, source, target in binds:
        argv += [kind, source, target]
    # The working directory exists but is empty: the notebook file in it has the hidden tests restored.
    argv += ["--perms", "0755", "--dir", workdir, "--chdir", workdir,
             "--clearenv", "--setenv", "HOME", "/tmp/home", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin"]
    for name in PASS_ENV:
        if name in os.environ:
            argv += ["--setenv", name, os.environ[name]]
    if os.geteuid() == 0:
        argv += ["--", "setpriv", f"--reuid={kernel_uid()}", f"--regid={NOGROUP}", "--clear-groups"]
    else:
        argv += ["--"]
    argv += ["prlimit", *(f"--{k}={v}" for k, v in LIMITS.items()), "--",
             sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file), *extra]
    return argv


def kernel_uid():
    """The user id the kernel this process launches runs as (the process execs bwrap, so its pid
    stays taken until the kernel and everything it forked are gone)."""
    return KERNEL_UID_BASE + os.getpid()


def problem():
    """None if kernels can be sandboxed here, else the reason they cannot."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed: sudo apt-get install bubblewrap"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc",
                            "--dev", "/dev", "true"], capture_output=True, text=True)
    if probe.returncode:
        return f"bwrap cannot create namespaces here: {probe.stderr.strip()}"
    return None


class GradingKernelManager(AsyncKernelManager):
    """Starts the grading kernel, whose spec lives in this run's private directory: it is never
    installed where JupyterLab or anything else would offer it."""

    @default("kernel_spec_manager")
    def _private_kernel_specs(self):
        return KernelSpecManager(kernel_dirs=[str(_home() / "kernels")])


_HOMES = []


def _home():
    """This grading run's private directory (nbgrader may load its config more than once)."""
    if not _HOMES:
        _HOMES.append(Path(tempfile.mkdtemp(prefix="rnn-grading-")))
        atexit.register(shutil.rmtree, _HOMES[0], ignore_errors=True)
    return _HOMES[0]


def configure(c):
    """Point nbgrader's autograder at the grading kernel (called by nbgrader_config.py).

    With bubblewrap: the sandboxed kernel. Without (or with RNN_SANDBOX=off): a plain kernel that
    still gets the stripped rnnlib, and warns loudly each time it starts. Only the autograder's executor
    (ResilientExecute) is configured: nbgrader's Validate (in a student's JupyterLab, which loads
    this config too) keeps running notebooks in their own kernel with the real checks.
    """
    reason = "RNN_SANDBOX=off" if os.environ.get("RNN_SANDBOX") == "off" else problem()
    if reason and os.environ.get("RNN_REQUIRE_SANDBOX"):
        raise SystemExit(_unsandboxed(reason).replace("WARNING", "ERROR") + " RNN_REQUIRE_SANDBOX is set: stopping.")
    home = _home()
    spec = home / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    # Without a sandbox, the warning comes from each grading kernel as it starts (main, below), so
    # it is printed when submissions are graded, not whenever something loads this config.
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, __file__, "plain" if reason else "sandbox", str(home), str(GRADER), "{connection_file}"],
        "env": {"RNN_UNSANDBOXED_BECAUSE": reason} if reason else {},
        "display_name": "Python 3 (grading)", "language": "python"}))
    c.ResilientExecute.kernel_name = KERNEL_NAME
    c.ResilientExecute.kernel_manager_class = GradingKernelManager
    if not reason:
        runtime = home / "runtime"
        runtime.mkdir(exist_ok=True)
        runtime.chmod(0o1777)      # each kernel, as its own user, creates its sockets here; the home is private
        c.GradingKernelManager.transport = "ipc"
        c.GradingKernelManager.ip = str(runtime / "kernel")  # socket files kernel-1, kernel-2, ... in there
    return not reason


def _unsandboxed(reason):
    return (f"WARNING: grading WITHOUT a sandbox ({reason}). Student code runs with your permissions "
            f"and can read solutions/, the gradebook and other submissions.")


def main(mode, home, grader, connection_file, *extra):
    sys.path.insert(0, grader)                   # the grader's instructor and rnnlib, wherever this Python's are
    if mode == "plain":                          # no sandbox: only the stripped rnnlib
        print(_unsandboxed(os.environ.pop("RNN_UNSANDBOXED_BECAUSE", "")), file=sys.stderr, flush=True)
        package = stripped_rnnlib(home, os.getcwd())[0]
        os.environ["PYTHONPATH"] = os.pathsep.join([str(package.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra])
    if os.geteuid() == 0:
        os.chown(connection_file, kernel_uid(), NOGROUP)
    os.execvp("bwrap", bwrap_argv(home, connection_file, os.getcwd(), extra))


if __name__ == "__main__":
    main(*sys.argv[1:])
