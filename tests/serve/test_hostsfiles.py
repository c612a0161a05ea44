# -*- test-case-name: tests.serve.test_hostsfiles -*-
"""
Tests for L{txinetd.serve.hostsfiles}: hosts.allow and hosts.deny kept current,
with a scripted inotify watcher and thread, and with the real ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Generator
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakes import captureMessages
from tests.integration.support import loadText
from txinetd.core.events import Level
from txinetd.core.libwrap import HostsAccess
from txinetd.daemon.machine import onThisMachine
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.tree import XinetdService
from txinetd.serve.hostsfiles import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MODIFY,
    IN_MOVED_TO,
    WATCH_MASK,
    HostsFiles,
    inotifyNotifier,
    readHostsAccess,
)

CLIENT = "192.0.2.7"


class FakeNotifier:
    """
    An inotify watcher whose events the test queues; C{doRead} dispatches
    them, as the real one does when the descriptor has some.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        reading, writing = os.pipe()
        case.addCleanup(os.close, reading)
        case.addCleanup(os.close, writing)
        os.write(writing, b"x")
        self.pending = reading
        self.watches: list[tuple[str, int]] = []
        self.callbacks: list[Callable[..., None]] = []
        self.queued: list[tuple[str, int]] = []
        self.reading = False
        self.lost = False
        self.reads = 0

    def watch(
        self,
        path: FilePath[Any],
        mask: int = 0,
        autoAdd: bool = False,
        callbacks: list[Callable[..., None]] | None = None,
        recursive: bool = False,
    ) -> None:
        self.watches.append((path.path, mask))
        self.callbacks.extend(callbacks or [])

    def queue(self, path: str, mask: int) -> None:
        self.queued.append((path, mask))

    def doRead(self) -> None:
        self.reads += 1
        events, self.queued = self.queued, []
        for path, mask in events:
            for callback in self.callbacks:
                callback(None, FilePath(os.fsencode(path)), mask)

    def startReading(self) -> None:
        self.reading = True

    def fileno(self) -> int:
        """
        A descriptor on which bytes always wait (a pipe with one in it), so
        that every decision reads the watcher.
        """
        return self.pending

    def loseConnection(self) -> None:
        self.lost = True


class Threads:
    """
    Runs what is given to a thread when the test says so.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []
        self.results: list[Any] = []

    def __call__(self, function: Callable[..., Any], *arguments: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.pending.append((function, arguments, done))
        return done

    def runNext(self) -> Any:
        function, arguments, done = self.pending.pop(0)
        result = function(*arguments)
        self.results.append(result)
        done.callback(result)
        return result


class HostsFilesTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.allow = os.path.join(self.directory, "hosts.allow")
        self.deny = os.path.join(self.directory, "hosts.deny")
        self.threads = Threads()
        self.messages = captureMessages(self)

    def write(self, path: str, text: str) -> None:
        with open(path, "w") as f:
            f.write(text)

    def hosts(self, notifier: FakeNotifier | None) -> HostsFiles:
        hosts = HostsFiles(
            object(), self.allow, self.deny, programMessage, self.threads, lambda reactor: notifier
        )
        hosts.start()
        return hosts

    def decide(self, hosts: HostsFiles) -> list[HostsAccess | None]:
        """
        Ask for the current rules; the list gets them when they come.
        """
        got: list[HostsAccess | None] = []
        hosts.current().addCallback(got.append)
        return got

    def allowed(self, access: HostsAccess | None) -> bool:
        assert access is not None
        return access.allows("in.fingerd", CLIENT, None)


class InotifyTests(HostsFilesTestCase):
    """
    With inotify, a decision costs one read of the watcher, and a change
    is read again before the next decision.
    """

    def setUp(self) -> None:
        super().setUp()
        self.write(self.deny, "# nothing yet\n")
        self.notifier = FakeNotifier(self)
        self.files = self.hosts(self.notifier)

    def test_started(self) -> None:
        """
        Both files are read at start, and their directory is watched.
        """
        self.assertEqual(self.notifier.watches, [(self.directory, WATCH_MASK)])
        self.assertTrue(self.notifier.reading)
        self.assertEqual(self.files.signatures[0], None)
        self.assertIsNotNone(self.files.signatures[1])

    def test_unchanged(self) -> None:
        """
        No event: the rules at once, nothing read.
        """
        got = self.decide(self.files)
        self.assertEqual(len(got), 1)
        self.assertTrue(self.allowed(got[0]))
        self.assertEqual((self.notifier.reads, self.threads.pending), (1, []))

    def test_otherFile(self) -> None:
        self.notifier.queue(os.path.join(self.directory, "hosts"), IN_MODIFY)
        self.assertEqual(len(self.decide(self.files)), 1)
        self.assertEqual(self.threads.pending, [])

    def change(self, mask: int, path: str | None = None) -> list[HostsAccess | None]:
        """
        Queue an event of C{mask} about hosts.deny, decide, and let the
        read run.
        """
        self.notifier.queue(path or self.deny, mask)
        got = self.decide(self.files)
        self.assertEqual(got, [])
        while self.threads.pending:
            self.threads.runNext()
        self.assertEqual(len(got), 1)
        return got

    def test_editInPlace(self) -> None:
        self.write(self.deny, "in.fingerd: 192.0.2.7\n")
        (access,) = self.change(IN_MODIFY)
        self.assertFalse(self.allowed(access))
        self.assertEqual(len(self.decide(self.files)), 1)

    def test_renamedOver(self) -> None:
        replacement = self.deny + ".new"
        self.write(replacement, "ALL: 192.0.2.\n")
        os.rename(replacement, self.deny)
        (access,) = self.change(IN_MOVED_TO)
        self.assertFalse(self.allowed(access))

    def test_createdAndRemoved(self) -> None:
        self.write(self.allow, "in.fingerd: 192.0.2.7\n")
        self.write(self.deny, "ALL: ALL\n")
        self.notifier.queue(self.deny, IN_MODIFY)
        (access,) = self.change(IN_CREATE, self.allow)
        self.assertTrue(self.allowed(access))
        os.unlink(self.allow)
        (access,) = self.change(IN_DELETE, self.allow)
        self.assertFalse(self.allowed(access))

    def test_changedWhileReading(self) -> None:
        """
        A change that comes while a read runs is read too before the
        decision gets its rules.
        """
        self.write(self.deny, "in.fingerd: 10.0.0.1\n")
        self.notifier.queue(self.deny, IN_MODIFY)
        got = self.decide(self.files)
        self.write(self.deny, "in.fingerd: 192.0.2.7\n")
        self.notifier.queue(self.deny, IN_CLOSE_WRITE)
        later = self.decide(self.files)
        self.threads.runNext()
        self.assertEqual((got, later), ([], []))
        self.threads.runNext()
        self.assertEqual(len(got) + len(later), 2)
        self.assertFalse(self.allowed(got[0]))
        self.assertIs(got[0], later[0])

    def test_otherNotRead(self) -> None:
        """
        An event reads its own file again, not the other.
        """
        self.notifier.queue(self.deny, IN_CLOSE_WRITE)
        self.decide(self.files)
        self.assertEqual(list(self.threads.runNext()), [1])

    def test_invalidate(self) -> None:
        """
        A reconfiguration reads both files again, changed or not.
        """
        self.files.reread()
        self.assertEqual(self.decide(self.files), [])
        self.assertEqual(sorted(self.threads.runNext()), [0, 1])

    def test_warningsOnChange(self) -> None:
        self.write(self.deny, "in.fingerd: @staff\n")
        self.change(IN_MODIFY)
        self.assertEqual(
            self.messages,
            [
                (
                    Level.WARNING,
                    f"{self.deny}:1: @netgroup patterns are not supported: @staff never matches",
                )
            ],
        )

    def test_sameWarningsOnce(self) -> None:
        """
        A file read again with the same warnings (a device such as
        /dev/null changes at every write to it) does not repeat them; new
        warnings are said.
        """
        self.write(self.deny, "in.fingerd: @staff\n")
        self.change(IN_MODIFY)
        self.write(self.deny, "in.fingerd: @staff\n")
        self.change(IN_MODIFY)
        self.write(self.deny, "in.fingerd: @staff, @admins\n")
        self.change(IN_MODIFY)
        unsupported = "@netgroup patterns are not supported"
        self.assertEqual(
            [text for _, text in self.messages],
            [
                f"{self.deny}:1: {unsupported}: @staff never matches",
                f"{self.deny}:1: {unsupported}: @staff never matches",
                f"{self.deny}:1: {unsupported}: @admins never matches",
            ],
        )

    def test_watchLost(self) -> None:
        """
        When the directory goes, the files are checked at each decision
        instead, and that is logged.
        """
        self.notifier.queue(self.directory, IN_DELETE_SELF)
        got = self.decide(self.files)
        self.assertTrue(self.notifier.lost)
        self.assertIsNone(self.files.notifier)
        self.assertEqual([level for level, _ in self.messages], [Level.WARNING])
        self.threads.runNext()
        self.assertEqual(len(got), 1)

    def test_stop(self) -> None:
        self.files.stop()
        self.assertTrue(self.notifier.lost)


class StatTests(HostsFilesTestCase):
    """
    Without inotify, each decision checks the files in a thread; the
    decisions that arrive during a check wait for the next one.
    """

    def setUp(self) -> None:
        super().setUp()
        self.write(self.deny, "in.fingerd: 10.0.0.1\n")
        self.files = self.hosts(None)

    def test_unchanged(self) -> None:
        got = self.decide(self.files)
        self.assertEqual(got, [])
        self.assertEqual(self.threads.runNext(), {})
        self.assertTrue(self.allowed(got[0]))

    def test_changed(self) -> None:
        self.write(self.deny, "in.fingerd: 10.0.0.1 192.0.2.7\n")
        got = self.decide(self.files)
        self.assertEqual(list(self.threads.runNext()), [1])
        self.assertFalse(self.allowed(got[0]))

    def test_removed(self) -> None:
        self.write(self.deny, "ALL: ALL\n")
        self.decide(self.files)
        self.threads.runNext()
        os.unlink(self.deny)
        got = self.decide(self.files)
        self.threads.runNext()
        self.assertTrue(self.allowed(got[0]))

    def test_shared(self) -> None:
        """
        One check runs at a time; the decisions that came while it ran get
        a check that started after them.
        """
        first = self.decide(self.files)
        self.write(self.deny, "ALL: ALL\n")
        second, third = self.decide(self.files), self.decide(self.files)
        self.assertEqual(len(self.threads.pending), 1)
        self.threads.runNext()
        self.assertEqual((len(first), second, third), (1, [], []))
        self.assertEqual(len(self.threads.pending), 1)
        self.threads.runNext()
        self.assertFalse(self.allowed(second[0]))
        self.assertIs(second[0], third[0])
        self.assertEqual(self.threads.pending, [])

    def test_watchFails(self) -> None:
        """
        A directory that cannot be watched: checked at each decision, with
        a warning.
        """

        class Refusing(FakeNotifier):
            def watch(self, *arguments: Any, **keywords: Any) -> None:
                raise OSError(28, "No space left on device")

        notifier = Refusing(self)
        files = self.hosts(notifier)
        self.assertIsNone(files.notifier)
        self.assertTrue(notifier.lost)
        self.assertEqual(len(self.messages), 1)
        self.decide(files)
        self.assertEqual(len(self.threads.pending), 1)

    def test_failedRead(self) -> None:
        """
        A read that fails in the thread is logged; the rules in use stay,
        and the next decision tries again.
        """
        got: list[HostsAccess | None] = []
        self.files.current().addCallback(got.append)
        done = self.threads.pending.pop(0)[2]
        done.errback(RuntimeError("thread pool gone"))
        self.assertEqual(len(got), 1)
        self.assertEqual(
            self.messages,
            [(Level.ERROR, "cannot read hosts.allow/hosts.deny: thread pool gone")],
        )


class RealInotifyTests(TestCase):
    """
    The real inotify and thread pool: a change is seen by the decision
    made right after it.
    """

    @inlineCallbacks
    def test_nextDecision(self) -> Generator[Deferred[Any], Any, None]:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        allow, deny = (os.path.join(directory, name) for name in ("hosts.allow", "hosts.deny"))
        if inotifyNotifier(reactor) is None:
            self.skipTest("no inotify here")
        files = HostsFiles(reactor, allow, deny, programMessage)
        files.start()
        self.addCleanup(files.stop)
        self.assertIsNotNone(files.notifier)

        def allowed(access: HostsAccess) -> bool:
            return access.allows("in.fingerd", CLIENT, None)

        decisions = []
        access = yield files.current()
        decisions.append(allowed(access))
        with open(deny, "a") as f:
            f.write("ALL: 192.0.2.7\n")
        access = yield files.current()
        decisions.append(allowed(access))
        replacement = deny + ".tmp"
        with open(replacement, "w") as f:
            f.write("# unbanned\n")
        os.rename(replacement, deny)
        access = yield files.current()
        decisions.append(allowed(access))
        with open(allow, "w") as f:
            f.write("ALL: ALL\n")
        with open(deny, "w") as f:
            f.write("ALL: ALL\n")
        access = yield files.current()
        decisions.append(allowed(access))
        os.unlink(allow)
        access = yield files.current()
        decisions.append(allowed(access))
        self.assertEqual(decisions, [True, False, True, True, False])


class DaemonWatchTests(TestCase):
    """
    The daemon watches the files only while its service tree runs: a tree
    that is made but never started (a .tac checked, say) leaves nothing in
    the reactor.
    """

    @inlineCallbacks
    def test_whileRunning(self) -> Generator[Deferred[Any], Any, None]:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        allow, deny = (os.path.join(directory, name) for name in ("hosts.allow", "hosts.deny"))
        with open(deny, "w") as f:
            f.write("ALL: 192.0.2.7\n")
        made = onThisMachine(reactor, hostsFiles=(allow, deny))
        watch = made.shared.hosts
        assert isinstance(watch, HostsFiles)
        self.assertEqual((watch.notifier, len(watch.access.deny.rules)), (None, 1))
        tree = XinetdService(loadText(""), made, stayalive=True)
        # Start it with the reactor running, so that it announces itself
        # now, not when the next test runs the reactor.
        yield deferLater(reactor, 0, lambda: None)
        tree.privilegedStartService()
        tree.startService()
        if inotifyNotifier(reactor) is not None:
            self.assertIsNotNone(watch.notifier)
        yield tree.stopService()
        self.assertIsNone(watch.notifier)


class ReadHostsAccessTests(SynchronousTestCase):
    """
    L{readHostsAccess} reads both files once.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def files(self, allow: str | None, deny: str | None) -> HostsAccess:
        for name, text in (("hosts.allow", allow), ("hosts.deny", deny)):
            if text is not None:
                with open(self.path(name), "w") as hostsFile:
                    hostsFile.write(text)
        return readHostsAccess(self.path("hosts.allow"), self.path("hosts.deny"))

    def test_read(self) -> None:
        """
        The rules of both files, a missing one empty.
        """
        access = self.files(None, "in.telnetd: 192.0.2.1\n")
        self.assertFalse(access.allows("in.telnetd", "192.0.2.1", None))
        self.assertTrue(access.allows("in.telnetd", "192.0.2.2", None))
        self.assertEqual(access.warnings, ())

    def test_unreadable(self) -> None:
        """
        A file that exists but cannot be read is empty, with a warning.
        """
        os.mkdir(self.path("hosts.allow"))
        access = self.files(None, "ALL: ALL\n")
        self.assertFalse(access.allows("in.telnetd", "192.0.2.1", None))
        self.assertEqual(len(access.warnings), 1)
        self.assertTrue(access.warnings[0].startswith(f"cannot open {self.path('hosts.allow')}: "))
