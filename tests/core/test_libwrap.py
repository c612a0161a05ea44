# -*- test-case-name: tests.core.test_libwrap -*-
"""
Tests for L{txinetd.core.libwrap}.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.config import ServiceKind
from txinetd.core.libwrap import HostsAccess, HostsTable, libwrapDaemonName, parseHostsTable


class DaemonNameTests(SynchronousTestCase):
    """
    L{libwrapDaemonName} follows xinetd's rules.
    """

    def name(
        self,
        libwrap: str | None = None,
        internal: bool = False,
        redirect: bool = False,
        nameInArgs: bool = False,
        serverArgs: tuple[str, ...] = (),
        server: str | None = "/usr/sbin/in.fingerd",
    ) -> str:
        kind = (
            ServiceKind.INTERNAL
            if internal
            else ServiceKind.REDIRECT
            if redirect
            else ServiceKind.SERVER
        )
        return libwrapDaemonName(libwrap, "finger", kind, nameInArgs, serverArgs, server)

    def test_attribute(self) -> None:
        """
        The C{libwrap} attribute wins over everything.
        """
        self.assertEqual(self.name(libwrap="custom", internal=True), "custom")

    def test_internalAndRedirect(self) -> None:
        """
        Internal and redirected services use the service name.
        """
        self.assertEqual(self.name(internal=True, server=None), "finger")
        self.assertEqual(self.name(redirect=True), "finger")

    def test_nameInArgs(self) -> None:
        """
        With C{NAMEINARGS}, the base name of the first server argument.
        """
        self.assertEqual(
            self.name(nameInArgs=True, serverArgs=("/usr/sbin/tcpd-target", "-l")), "tcpd-target"
        )
        self.assertEqual(self.name(nameInArgs=True, serverArgs=("in.fingerd", "-w")), "in.fingerd")

    def test_server(self) -> None:
        """
        Otherwise, the base name of the server.
        """
        self.assertEqual(self.name(), "in.fingerd")
        self.assertEqual(self.name(server="relative"), "relative")
        self.assertEqual(self.name(nameInArgs=True, serverArgs=()), "in.fingerd")

    def test_nothing(self) -> None:
        """
        Without any server, the service name.
        """
        self.assertEqual(self.name(server=None), "finger")


class HostsAccessTests(SynchronousTestCase):
    """
    L{HostsAccess} evaluates hosts.allow and hosts.deny.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def files(self, allow: str | None, deny: str | None) -> HostsAccess:
        """
        The rules of a hosts.allow and a hosts.deny with these texts
        (L{None}: no such file).
        """
        return HostsAccess(
            parseHostsTable(self.path("hosts.allow"), allow or "", True),
            parseHostsTable(self.path("hosts.deny"), deny or "", False),
        )

    def deniedOnly(self, rule: str) -> HostsAccess:
        """
        Deny the clients a rule for C{in.telnetd} matches.
        """
        return self.files(None, f"in.telnetd: {rule}\n")

    def assertMatches(
        self, rule: str, address: str, name: str | None = None, paranoid: bool = False
    ) -> None:
        self.assertFalse(self.deniedOnly(rule).allows("in.telnetd", address, name, paranoid))

    def assertNotMatches(
        self, rule: str, address: str, name: str | None = None, paranoid: bool = False
    ) -> None:
        self.assertTrue(self.deniedOnly(rule).allows("in.telnetd", address, name, paranoid))

    def test_missingFiles(self) -> None:
        """
        Missing files are empty: everyone is allowed, silently.
        """
        access = self.files(None, None)
        self.assertTrue(access.allows("in.telnetd", "192.0.2.1", None))
        self.assertEqual(access.warnings, ())

    def test_allowBeforeDeny(self) -> None:
        """
        A match in hosts.allow allows even if hosts.deny matches; otherwise a
        match in hosts.deny refuses; otherwise the client is allowed.
        """
        access = self.files("in.telnetd: 192.0.2.1\n", "ALL: ALL\n")
        self.assertTrue(access.allows("in.telnetd", "192.0.2.1", None))
        self.assertFalse(access.allows("in.telnetd", "192.0.2.2", None))
        self.assertFalse(access.allows("sshd", "192.0.2.1", None))
        access = self.files("", "sshd: ALL\n")
        self.assertTrue(access.allows("in.telnetd", "192.0.2.2", None))

    def test_firstMatchWins(self) -> None:
        """
        Within a file, the first matching rule decides.
        """
        access = self.files("ALL: 192.0.2.1: deny\nALL: ALL: allow\n", None)
        self.assertFalse(access.allows("echo", "192.0.2.1", None))
        self.assertTrue(access.allows("echo", "192.0.2.2", None))

    def test_daemonLists(self) -> None:
        """
        Daemon lists are separated by commas or spaces and matched
        case-insensitively; C{ALL} matches every daemon.
        """
        access = self.files(None, "in.telnetd, in.ftpd  Finger : ALL\n")
        self.assertEqual(
            [
                access.allows(d, "192.0.2.1", None)
                for d in ["in.telnetd", "in.ftpd", "finger", "sshd"]
            ],
            [False, False, False, True],
        )

    def test_daemonWildcardsAndPrefixes(self) -> None:
        """
        Daemon patterns may be prefixes, suffixes and wildcards.
        """
        access = self.files(None, "in. : ALL\n*ssh? : ALL\n.pop3 : ALL\n")
        self.assertEqual(
            [
                access.allows(d, "192.0.2.1", None)
                for d in ["in.telnetd", "openssh2", "ssh", "ipop3", "x.pop3", "pop3"]
            ],
            [False, False, True, True, False, True],
        )

    def test_exceptDaemons(self) -> None:
        """
        C{EXCEPT} works in daemon lists.
        """
        access = self.files(None, "ALL EXCEPT in.fingerd: ALL\n")
        self.assertTrue(access.allows("in.fingerd", "192.0.2.1", None))
        self.assertFalse(access.allows("in.telnetd", "192.0.2.1", None))

    def test_exceptNested(self) -> None:
        """
        C{a EXCEPT b EXCEPT c} is a unless (b unless c).
        """
        rule = "192.0.2. EXCEPT 192.0.2.1 192.0.2.2 except 192.0.2.2"
        self.assertMatches(rule, "192.0.2.5")
        self.assertNotMatches(rule, "192.0.2.1")
        self.assertMatches(rule, "192.0.2.2")
        self.assertNotMatches(rule, "198.51.100.1")

    def test_exceptOnly(self) -> None:
        """
        A list that starts with C{EXCEPT}, or is empty, matches nothing.
        """
        self.assertNotMatches("EXCEPT 192.0.2.1", "192.0.2.2")
        self.assertNotMatches("", "192.0.2.2")

    def test_all(self) -> None:
        """
        C{ALL} matches every client, IPv6 included.
        """
        self.assertMatches("all", "192.0.2.1")
        self.assertMatches("ALL", "2001:db8::1")

    def test_local(self) -> None:
        """
        C{LOCAL} matches known names without a dot.
        """
        self.assertMatches("LOCAL", "192.0.2.1", "gateway")
        self.assertNotMatches("LOCAL", "192.0.2.1", "gateway.example.com")
        self.assertNotMatches("LOCAL", "192.0.2.1", None)
        self.assertNotMatches("LOCAL", "192.0.2.1", "gateway", paranoid=True)

    def test_knownUnknownParanoid(self) -> None:
        """
        C{KNOWN} needs a trusted name, C{UNKNOWN} matches when there is no
        name, C{PARANOID} when the name did not map back to the address.
        """
        cases = [("192.0.2.1", "host.example.com", False), ("192.0.2.1", None, False)]
        cases.append(("192.0.2.1", "host.example.com", True))
        self.assertEqual(
            [
                [
                    not self.deniedOnly(pattern).allows("in.telnetd", address, name, paranoid)
                    for address, name, paranoid in cases
                ]
                for pattern in ["KNOWN", "UNKNOWN", "PARANOID"]
            ],
            [[True, False, False], [False, True, False], [False, False, True]],
        )

    def test_domain(self) -> None:
        """
        A C{.domain} pattern matches names ending with it, case-insensitively.
        """
        self.assertMatches(".example.com", "192.0.2.1", "www.Example.COM")
        self.assertNotMatches(".example.com", "192.0.2.1", "example.com")
        self.assertNotMatches(".example.com", "192.0.2.1", None)
        self.assertNotMatches(".example.com", "192.0.2.1", "www.example.com", paranoid=True)

    def test_hostName(self) -> None:
        """
        A plain name matches the client's name exactly.
        """
        self.assertMatches("Host.example.com", "192.0.2.1", "host.example.com")
        self.assertNotMatches("host.example.com", "192.0.2.1", "host.example.com.au")

    def test_addressPrefix(self) -> None:
        """
        C{n.n.n.} matches addresses starting with it.
        """
        self.assertMatches("192.0.2.", "192.0.2.200")
        self.assertNotMatches("192.0.2.", "192.0.20.1")
        self.assertMatches("10.", "10.9.8.7")

    def test_numericNeverMatchesNames(self) -> None:
        """
        A pattern made of digits and dots is compared with the address only.
        """
        self.assertNotMatches("192.0.2.1", "198.51.100.1", "192.0.2.1")

    def test_exactAddress(self) -> None:
        """
        A full address matches that address.
        """
        self.assertMatches("192.0.2.1", "192.0.2.1")
        self.assertMatches("192.0.2.1", "::ffff:192.0.2.1")
        self.assertNotMatches("192.0.2.1", "192.0.2.10")

    def test_netmask(self) -> None:
        """
        C{net/mask} and C{net/prefix} match addresses in the network.
        """
        for rule in ["192.0.2.0/255.255.255.0", "192.0.2.0/24", "192.0.2.7/24"]:
            self.assertMatches(rule, "192.0.2.77")
            self.assertNotMatches(rule, "192.0.3.77")
            self.assertNotMatches(rule, "2001:db8::1")

    def test_ipv6(self) -> None:
        """
        C{[address]} and C{[address]/prefix} match IPv6 clients; the colons
        inside brackets do not split the rule.
        """
        self.assertMatches("[2001:db8::1]", "2001:db8::1")
        self.assertNotMatches("[2001:db8::1]", "2001:db8::2")
        self.assertMatches("[2001:db8::]/32", "2001:db8:ffff::1")
        self.assertNotMatches("[2001:db8::]/32", "2001:db9::1")
        self.assertMatches("[::ffff:192.0.2.0]/120", "192.0.2.9")
        self.assertNotMatches("[2001:db8::]/32", "192.0.2.9")

    def test_wildcards(self) -> None:
        """
        C{*} and C{?} match names and addresses.
        """
        self.assertMatches("*.example.com", "192.0.2.1", "a.b.example.com")
        self.assertNotMatches("*.example.com", "192.0.2.1", "example.com")
        self.assertMatches("192.0.2.?", "192.0.2.7")
        self.assertNotMatches("192.0.2.?", "192.0.2.17")

    def test_unsupportedPatterns(self) -> None:
        """
        Netgroups, C{user@host}, C{daemon@host} and C{/file} patterns never
        match and are reported with their file and line.
        """
        access = self.files(
            None,
            "# comment\n"
            "in.telnetd: @trusted\n"
            "in.telnetd: root@192.0.2.1\n"
            "in.telnetd@192.0.2.1: ALL\n"
            "in.telnetd: /etc/trusted.hosts\n"
            "in.telnetd: 192.0.2.0/33\n",
        )
        self.assertTrue(access.allows("in.telnetd", "192.0.2.1", "host"))
        path = self.path("hosts.deny")
        self.assertEqual(
            access.warnings,
            (
                f"{path}:2: @netgroup patterns are not supported: @trusted never matches",
                f"{path}:3: user@host patterns are not supported: root@192.0.2.1 never matches",
                f"{path}:4: daemon@host patterns are not supported: "
                "in.telnetd@192.0.2.1 never matches",
                f"{path}:5: /file patterns are not supported: /etc/trusted.hosts never matches",
                f"{path}:6: bad net/mask expression: 192.0.2.0/33",
            ),
        )

    def test_exceptUnsupported(self) -> None:
        """
        An exception that never matches excepts nothing.
        """
        self.assertMatches("ALL EXCEPT @trusted", "192.0.2.1", "host")

    def test_continuationAndComments(self) -> None:
        """
        A backslash at the end of a line continues it; lines starting with
        C{#} and blank lines are skipped; a missing colon is reported.
        """
        access = self.files(
            None,
            "# in.telnetd: ALL\n\n   \nin.telnetd: 192.0.2.1 \\\n  192.0.2.2\nbroken line\n",
        )
        self.assertFalse(access.allows("in.telnetd", "192.0.2.2", None))
        self.assertTrue(access.allows("in.telnetd", "192.0.2.3", None))
        self.assertEqual(access.warnings, (f'{self.path("hosts.deny")}:6: missing ":" separator',))
        self.assertEqual([rule.line for rule in access.deny.rules], [4])

    def test_continuedComment(self) -> None:
        """
        A comment continued by a backslash swallows the next line.
        """
        access = self.files(None, "# comment \\\nALL: ALL\n")
        self.assertTrue(access.allows("in.telnetd", "192.0.2.3", None))

    def test_options(self) -> None:
        """
        C{allow} and C{deny} options set a rule's verdict; shell commands are
        never run and are reported; C{twist} refuses; other options are
        reported and ignored.
        """
        allow = (
            "in.telnetd: 192.0.2.1: spawn (/bin/echo %a >> /tmp/log) &\n"
            "in.telnetd: 192.0.2.2: twist /bin/echo go away\n"
            "in.telnetd: 192.0.2.3: severity auth.info : DENY\n"
            "in.telnetd: 192.0.2.4: setenv A=B\\:C : allow\n"
        )
        deny = "in.telnetd: 192.0.2.5: ALLOW\nALL: ALL\n"
        access = self.files(allow, deny)
        self.assertEqual(
            [access.allows("in.telnetd", f"192.0.2.{n}", None) for n in range(1, 7)],
            [True, False, False, True, True, False],
        )
        path = self.path("hosts.allow")
        self.assertEqual(
            access.warnings,
            (
                f"{path}:1: spawn is not supported: the shell command is not run",
                f"{path}:2: twist is not supported: the shell command is not run "
                "and the client is refused",
                f"{path}:3: option severity is not supported and is ignored",
                f"{path}:4: option setenv is not supported and is ignored",
            ),
        )

    def test_needsReverseName(self) -> None:
        """
        The reverse name is needed only when a rule for the daemon has a
        pattern that may look at it.
        """
        access = self.files(
            "sshd: .example.com\n",
            "in.telnetd: 192.0.2. 10.0.0.0/8 [::1] ALL\nin.ftpd: ALL EXCEPT KNOWN\n",
        )
        self.assertEqual(
            [access.needsReverseName(d) for d in ["in.telnetd", "in.ftpd", "sshd", "finger"]],
            [False, True, True, False],
        )


class ParseHostsTableTests(SynchronousTestCase):
    """
    L{parseHostsTable} compiles text without touching the file system.
    """

    def test_lastLineWithoutNewline(self) -> None:
        """
        A last line without a newline is a rule.
        """
        table = parseHostsTable("t", "ALL: 192.0.2.1", True)
        self.assertEqual(len(table.rules), 1)
        self.assertTrue(table.rules[0].allows)

    def test_empty(self) -> None:
        """
        Empty text has no rules and no warnings.
        """
        self.assertEqual(parseHostsTable("t", "", False), HostsTable())

    def test_denyFile(self) -> None:
        """
        Rules of a deny file refuse.
        """
        table = parseHostsTable("t", "ALL: ALL\n", False)
        self.assertFalse(HostsAccess(deny=table).allows("x", "192.0.2.1", None))
