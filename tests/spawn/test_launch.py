# -*- test-case-name: tests.spawn.test_launch -*-
"""
Tests for L{txinetd.spawn.launch} that start no process: the plan of a server,
the child's reports, the steps of the fork path, the choice of launcher.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from txinetd.spawn import forklaunch, launch, report
from txinetd.spawn.forklaunch import ForkLauncher, LimitError, errorOf, setUpSteps
from txinetd.spawn.launch import CloneLauncher, DumpableCheck, chooseLauncher
from txinetd.spawn.launcher import Launched
from txinetd.spawn.plan import Identity, Plan, basePlan, planFor, withClient
from txinetd.spawn.report import LaunchError, decodeReport, encodeReport

CPU = resource.RLIMIT_CPU
NOFILE = resource.RLIMIT_NOFILE
ROOT = Identity(0, 0, True)
USER = Identity(1000, 100, False)
NO_CLONE = None if launch._launch is not None else "txinetd.spawn._launch is not built"


class PlanTests(SynchronousTestCase):
    """
    L{basePlan} and L{withClient}: what a child does.
    """

    def test_base(self) -> None:
        """
        The environment becomes C{NAME=value} entries (a name given twice
        keeps its first place, with its last value); the niceness is kept
        within what the kernel distinguishes; the limits are kept.
        """
        plan = basePlan(
            b"/bin/cat",
            (b"cat",),
            [(b"A", b"1"), (b"B", b""), (b"A", b"3")],
            umask=0o27,
            nice=2**40,
            rlimits=[(CPU, 5), (NOFILE, resource.RLIM_INFINITY)],
        )
        self.assertEqual(
            plan,
            Plan(
                b"/bin/cat",
                (b"cat",),
                (b"A=3", b"B="),
                umask=0o27,
                nice=40,
                rlimits=((CPU, 5), (NOFILE, resource.RLIM_INFINITY)),
            ),
        )
        self.assertEqual(basePlan(b"/x", (b"x",), [], nice=-99).nice, -40)

    def test_limitTooLarge(self) -> None:
        """
        A limit no C{rlim_t} holds fails, naming it.
        """
        error = self.assertRaises(LaunchError, basePlan, b"/x", (b"x",), [], rlimits=[(CPU, 2**64)])
        self.assertEqual((error.operation, error.errno), ("setrlimit(RLIMIT_CPU)", errno.EINVAL))
        self.assertRaises(LaunchError, basePlan, b"/x", (b"x",), [], rlimits=[(CPU, -2)])

    def test_clientVariables(self) -> None:
        """
        The client's entries follow the service's; one the service has
        already keeps its place, with the client's value.
        """
        base = basePlan(b"/x", (b"x",), [(b"PATH", b"/bin"), (b"REMOTE_HOST", b"")])
        self.assertEqual(
            withClient(base, (b"REMOTE_PORT=9",), ROOT).envp,
            (b"PATH=/bin", b"REMOTE_HOST=", b"REMOTE_PORT=9"),
        )
        self.assertEqual(
            withClient(base, (b"REMOTE_HOST=::1", b"REMOTE_PORT=9"), ROOT).envp,
            (b"PATH=/bin", b"REMOTE_HOST=::1", b"REMOTE_PORT=9"),
        )
        self.assertIs(withClient(base, (), ROOT).envp, base.envp)

    def test_credentialsAsRoot(self) -> None:
        """
        Root gives the server the ids asked for; the groups are cleared
        unless given; nothing is changed without a uid or a gid.
        """
        base = basePlan(b"/x", (b"x",), [])
        plan = withClient(base, (), ROOT, 65534, 65534, None)
        self.assertEqual((plan.uid, plan.gid, plan.groups), (65534, 65534, ()))
        plan = withClient(base, (), ROOT, 65534, 65534, (65534, 4))
        self.assertEqual(plan.groups, (65534, 4))
        plan = withClient(base, (), ROOT, None, 42, None)
        self.assertEqual((plan.uid, plan.gid, plan.groups), (None, 42, ()))
        plan = withClient(base, (), ROOT, None, None, (4,))
        self.assertEqual((plan.uid, plan.gid, plan.groups), (None, None, None))
        self.assertTrue(planFor(b"/x", (b"x",), [], ROOT, uid=0).switchesUser)

    def test_credentialsUnprivileged(self) -> None:
        """
        A daemon that is not root changes no id: its own are accepted,
        others refused naming the step, as C{setgid} or C{setuid} would.
        """
        plan = planFor(b"/x", (b"x",), [], USER, uid=1000, gid=100, groups=(7,))
        self.assertEqual((plan.uid, plan.gid, plan.groups), (None, None, None))
        error = self.assertRaises(LaunchError, planFor, b"/x", (b"x",), [], USER, uid=0)
        self.assertEqual((error.operation, error.errno), ("setuid", errno.EPERM))
        error = self.assertRaises(LaunchError, planFor, b"/x", (b"x",), [], USER, gid=0)
        self.assertEqual(error.operation, "setgid")


class ReportTests(SynchronousTestCase):
    """
    What a child writes when a step fails.
    """

    def test_roundTrip(self) -> None:
        """
        A report names the step (with its limit), the errno and its text.
        """
        error = decodeReport(encodeReport("execve", errno.ENOENT))
        self.assertEqual(
            (error.operation, error.errno, error.reason),
            ("execve", errno.ENOENT, os.strerror(errno.ENOENT)),
        )
        error = decodeReport(encodeReport("setrlimit", errno.EPERM, NOFILE))
        self.assertEqual(error.operation, "setrlimit(RLIMIT_NOFILE)")

    def test_theCExtensionsNumbers(self) -> None:
        """
        The steps are numbered as C{_launch.c} numbers them.
        """
        if launch._launch is None:
            raise self.skipTest(NO_CLONE)
        for number, name in report.STEPS.items():
            self.assertEqual(getattr(launch._launch, f"STEP_{name.upper()}"), number)

    def test_truncated(self) -> None:
        """
        A report cut short still fails the start.
        """
        error = decodeReport(b"\x01")
        self.assertEqual(error.operation, "execve")
        self.assertIn("truncated", error.reason)

    def test_errorOf(self) -> None:
        """
        The fork path reports a failed limit with its resource, an OSError
        with its errno, a refusal without one as EPERM, and a step that
        has no number of its own as the exec.
        """
        self.assertEqual(
            errorOf("setrlimit", LimitError(CPU, ValueError("not allowed"))),
            ("setrlimit", errno.EPERM, CPU),
        )
        self.assertEqual(
            errorOf("setuid", OSError(errno.EAGAIN, "again")), ("setuid", errno.EAGAIN, 0)
        )
        self.assertEqual(
            errorOf("sigprocmask", OSError(errno.EINVAL, "x")), ("execve", errno.EINVAL, 0)
        )


def called(step: object) -> tuple[object, tuple[object, ...]]:
    """
    The function and arguments of a step.
    """
    assert isinstance(step, partial)
    return step.func, step.args


class ForkStepsTests(SynchronousTestCase):
    """
    The steps of the fork path, in the order of the C extension's.
    """

    def test_order(self) -> None:
        """
        Directory, groups, gid and limits (while still root), umask, uid,
        then the niceness as the server's user, the signal mask, the exec.
        """
        plan = Plan(
            b"/bin/cat",
            (b"cat",),
            (b"A=1",),
            uid=65534,
            gid=65533,
            groups=(4,),
            umask=0o27,
            nice=3,
            rlimits=((CPU, 5), (NOFILE, 64)),
        )
        steps = setUpSteps(plan)
        self.assertEqual(
            [name for name, _ in steps],
            [
                "chdir",
                "setgroups",
                "setgid",
                "setrlimit",
                "setrlimit",
                "umask",
                "setuid",
                "nice",
                "sigprocmask",
                "execve",
            ],
        )
        calls = {name: called(step) for name, step in steps}
        self.assertEqual(calls["setuid"], (os.setresuid, (65534, 65534, 65534)))
        self.assertEqual(calls["setgid"], (os.setresgid, (65533, 65533, 65533)))
        self.assertEqual(calls["setgroups"], (os.setgroups, ([4],)))
        self.assertEqual(calls["execve"], (os.execve, (b"/bin/cat", (b"cat",), {b"A": b"1"})))
        self.assertEqual(calls["sigprocmask"], (signal.pthread_sigmask, (signal.SIG_SETMASK, ())))

    def test_nothingToChange(self) -> None:
        """
        Without ids, groups, umask or niceness, only what every server
        gets.
        """
        steps = setUpSteps(Plan(b"/bin/cat", (b"cat",), ()))
        self.assertEqual([name for name, _ in steps], ["chdir", "sigprocmask", "execve"])

    def test_limitFailure(self) -> None:
        """
        A limit that cannot be set names its resource.
        """
        with self.assertRaises(LimitError) as caught:
            forklaunch.setLimit(9999, 5)
        self.assertEqual(caught.exception.res, 9999)


class DumpableTests(SynchronousTestCase):
    """
    L{DumpableCheck}: a child sharing the daemon's memory may take another
    uid only when the kernel then makes that memory non-dumpable.
    """

    def test_values(self) -> None:
        path = self.mktemp()
        check = DumpableCheck(path)
        self.assertFalse(check())
        for value, safe in ((b"0\n", True), (b"1\n", False), (b"2\n", True)):
            with open(path, "wb") as f:
                f.write(value)
            check = DumpableCheck(path)
            self.assertEqual(check(), safe, value)

    def test_readAgain(self) -> None:
        """
        A change applies at the next call: the open file is read again.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"0\n")
        check = DumpableCheck(path)
        self.assertTrue(check())
        with open(path, "r+b") as f:
            f.write(b"1\n")
        self.assertFalse(check())
        os.close(check.fd)  # type: ignore[arg-type]


class RecordingLauncher:
    name = "recording"

    def __init__(self) -> None:
        self.plans: list[Plan] = []

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        self.plans.append(plan)
        return Launched(4242)


class ChoiceTests(SynchronousTestCase):
    """
    Which launcher starts a server.
    """

    def test_withoutTheExtension(self) -> None:
        self.assertIsInstance(chooseLauncher(compiled=False), ForkLauncher)

    def test_withTheExtension(self) -> None:
        if launch._launch is None:
            raise self.skipTest(NO_CLONE)
        self.assertIsInstance(chooseLauncher(), CloneLauncher)

    def test_dumpableUnsafe(self) -> None:
        """
        With C{fs.suid_dumpable = 1}, a server that switches user is
        started by the fork path; one that does not is not.
        """
        if launch._launch is None:
            raise self.skipTest(NO_CLONE)
        fallback = RecordingLauncher()
        launcher = CloneLauncher(fallback, dumpableSafe=lambda: False)
        plan = Plan(b"/nonexistent", (b"x",), (), uid=65534, gid=65534, groups=())
        self.assertEqual(launcher.launch(plan, 10, 11), Launched(4242))
        self.assertEqual(fallback.plans, [plan])

    def test_sameUidNeedsNoCheck(self) -> None:
        """
        A server that keeps the daemon's uid (whatever its groups) is
        started by clone without asking about C{fs.suid_dumpable}; another
        uid asks.
        """
        if launch._launch is None:
            raise self.skipTest(NO_CLONE)
        asked: list[bool] = []

        def unsafe() -> bool:
            asked.append(True)
            return False

        fallback = RecordingLauncher()
        launcher = CloneLauncher(fallback, dumpableSafe=unsafe, euid=0)
        plan = Plan(b"/nonexistent", (b"x",), (), uid=0, gid=65534, groups=())
        # Descriptors the extension refuses: it was reached, nothing started.
        self.assertRaises(ValueError, launcher.launch, plan, 1, 2)
        self.assertEqual((asked, fallback.plans), ([], []))
        other = Plan(b"/nonexistent", (b"x",), (), uid=1, gid=0, groups=())
        launcher.launch(other, 10, 11)
        self.assertEqual((asked, fallback.plans), ([True], [other]))
