# -*- test-case-name: tests.serve.test_external -*-
"""
Tests for L{txinetd.serve.external}: what a server is started with (sections
7.1-7.3 of the xinetd reference), computed from configurations loaded with
L{tests.fakes.FakeSystem}, and the socket helpers of C{wait = yes} services,
on real loopback sockets.
"""

from __future__ import annotations

import os
import pwd
import resource
from collections.abc import Mapping
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ENVIRON, ConfigFiles, describe
from txinetd.core.addresses import NO_ADDRESS
from txinetd.core.config import ServiceConfig
from txinetd.core.endpoint import TLSSettings
from txinetd.serve.external import (
    baseEnvironment,
    clientEnvironment,
    credentialsFor,
    serverSpec,
    supplementaryGroups,
)
from txinetd.spawn.spawner import SpawnSpec

INFINITY = resource.RLIM_INFINITY
PEER = ("192.0.2.9", 40123)


def environmentFor(
    config: ServiceConfig,
    environ: Mapping[str, str],
    peer: tuple[str, int] | None,
    extra: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str], ...]:
    """
    A server's whole environment as the spawner makes it: the
    L{clientEnvironment} after the L{baseEnvironment}, a name in both
    keeping its place with the client's value.
    """
    result = dict(baseEnvironment(config, environ))
    result.update(clientEnvironment(peer, extra))
    return tuple(result.items())


def specFor(
    config: ServiceConfig,
    peer: tuple[str, int] | None,
    environ: Mapping[str, str],
    euid: int,
    fileLimit: int,
    umask: int,
) -> SpawnSpec:
    """
    The L{serverSpec} of C{config} with one client's whole environment.
    """
    spec = serverSpec(config, environ, euid, fileLimit, umask)
    return replace(spec, env=environmentFor(config, environ, peer))


def serviceText(*lines: str) -> str:
    """
    An external stream service C{srv} with C{lines} added.
    """
    body = ["type = UNLISTED", "socket_type = stream", "wait = no", "port = 4000"]
    body += ["server = /bin/cat", *lines]
    if not any(line.startswith("user") for line in lines):
        body.append("user = root")
    return "service srv\n{\n" + "".join(f"    {line}\n" for line in body) + "}\n"


class ConfigCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.files = ConfigFiles(self)

    def service(self, *lines: str, euid: int = 0) -> ServiceConfig:
        """
        Load service C{srv} with C{lines}; it must load without a problem.
        """
        self.files.write("xinetd.conf", serviceText(*lines))
        config = self.files.load(euid=euid)
        self.assertEqual(describe(config.diagnostics), [])
        [service] = config.services
        return service


class EnvironmentTests(ConfigCase):
    """
    L{environmentFor}: the start-up environment, C{passenv}, C{env}, then
    C{REMOTE_HOST} and C{REMOTE_PORT}.
    """

    def test_wholeEnvironment(self) -> None:
        """
        Without C{passenv} the whole start-up environment is passed, in its
        order, followed by REMOTE_HOST and REMOTE_PORT.
        """
        env = environmentFor(self.service(), ENVIRON, PEER)
        self.assertEqual(
            env,
            (*ENVIRON.items(), ("REMOTE_HOST", "192.0.2.9"), ("REMOTE_PORT", "40123")),
        )

    def test_passenv(self) -> None:
        env = environmentFor(self.service("passenv = TZ PATH"), ENVIRON, PEER)
        self.assertEqual(
            dict(env),
            {
                "TZ": "UTC",
                "PATH": "/usr/bin:/bin",
                "REMOTE_HOST": "192.0.2.9",
                "REMOTE_PORT": "40123",
            },
        )

    def test_passenvNameMissingAtStart(self) -> None:
        """
        A name C{passenv} lists that the start-up environment lacks is left
        out.
        """
        config = self.service("passenv = TZ PATH")
        env = environmentFor(config, {"PATH": "/bin"}, PEER)
        self.assertEqual([name for name, _ in env], ["PATH", "REMOTE_HOST", "REMOTE_PORT"])

    def test_emptyPassenv(self) -> None:
        env = environmentFor(self.service("passenv ="), ENVIRON, PEER)
        self.assertEqual(env, (("REMOTE_HOST", "192.0.2.9"), ("REMOTE_PORT", "40123")))

    def test_envAddsAndReplaces(self) -> None:
        """
        C{env} (C{=} and C{+=}) replaces same-named variables and adds the
        others; a value may hold C{=} or be empty.
        """
        config = self.service("env = LANG=fr_FR.UTF-8 A=b=c", "env += EMPTY=")
        env = environmentFor(config, ENVIRON, PEER)
        self.assertEqual(
            dict(env),
            {
                **ENVIRON,
                "LANG": "fr_FR.UTF-8",
                "A": "b=c",
                "EMPTY": "",
                "REMOTE_HOST": "192.0.2.9",
                "REMOTE_PORT": "40123",
            },
        )
        self.assertEqual(len(env), len(dict(env)))

    def test_envWithEmptyPassenv(self) -> None:
        config = self.service("passenv =", "env = ONLY=this")
        env = environmentFor(config, ENVIRON, PEER)
        self.assertEqual(
            env, (("ONLY", "this"), ("REMOTE_HOST", "192.0.2.9"), ("REMOTE_PORT", "40123"))
        )

    def test_remoteVariablesWin(self) -> None:
        """
        REMOTE_HOST and REMOTE_PORT are set last, over C{env} and the
        start-up environment.
        """
        config = self.service("env = REMOTE_HOST=spoofed REMOTE_PORT=1")
        environ = {"REMOTE_HOST": "inherited"}
        env = environmentFor(config, environ, ("::1", 7))
        self.assertEqual(env, (("REMOTE_HOST", "::1"), ("REMOTE_PORT", "7")))

    def test_noPeer(self) -> None:
        """
        A C{wait = yes} stream server has no peer: REMOTE_HOST is
        C{<no address>} and there is no REMOTE_PORT.
        """
        env = environmentFor(self.service("passenv ="), ENVIRON, None)
        self.assertEqual(env, (("REMOTE_HOST", "<no address>"),))
        self.assertEqual(NO_ADDRESS, "<no address>")

    def test_tlsClientVariablesNotInherited(self) -> None:
        """
        A TLS service's servers get C{SSL_CLIENT_DN} and C{SSL_CLIENT_I_DN}
        from their client's certificate only: for a client without one,
        none, whatever txinetd's own environment has.  A plain service's
        get the environment as it is.
        """
        environ = {**ENVIRON, "SSL_CLIENT_DN": "CN=admin", "SSL_CLIENT_I_DN": "CN=Audit CA"}
        plain = self.service()
        tls = replace(plain, tls=TLSSettings("/etc/ssl/s.pem", "/etc/ssl/s.key"))
        self.assertEqual(dict(baseEnvironment(tls, environ)), ENVIRON)
        self.assertEqual(dict(baseEnvironment(plain, environ)), environ)

    def test_baseAndClient(self) -> None:
        """
        The environment is the service's part, the same for every client,
        then the client's part; L{environmentFor} is what the two make.
        """
        config = self.service("passenv = PATH", "env = REMOTE_HOST=x")
        base = baseEnvironment(config, ENVIRON)
        client = clientEnvironment(PEER, {"SSL_CLIENT": "c"})
        self.assertEqual(base, (("PATH", "/usr/bin:/bin"), ("REMOTE_HOST", "x")))
        self.assertEqual(
            client,
            (("REMOTE_HOST", "192.0.2.9"), ("REMOTE_PORT", "40123"), ("SSL_CLIENT", "c")),
        )
        self.assertEqual(
            environmentFor(config, ENVIRON, PEER, {"SSL_CLIENT": "c"}),
            tuple({**dict(base), **dict(client)}.items()),
        )
        self.assertEqual(clientEnvironment(None), (("REMOTE_HOST", "<no address>"),))


class CredentialTests(ConfigCase):
    """
    L{credentialsFor} and L{supplementaryGroups}.
    """

    def fakeGroupList(self, groups: list[int]) -> list[tuple[str, int]]:
        """
        Make C{os.getgrouplist} answer C{groups} (plus the base gid) and
        record its calls.
        """
        calls: list[tuple[str, int]] = []

        def getgrouplist(name: str, gid: int) -> list[int]:
            calls.append((name, gid))
            return [*groups, gid]

        self.patch(os, "getgrouplist", getgrouplist)
        return calls

    def test_user(self) -> None:
        """
        C{user} alone: its uid and its passwd gid, no supplementary groups.
        """
        self.assertEqual(credentialsFor(self.service("user = alice"), 0), (1000, 100, None))

    def test_group(self) -> None:
        config = self.service("user = alice", "group = nogroup")
        self.assertEqual(credentialsFor(config, 0), (1000, 65534, None))

    def test_groupsYes(self) -> None:
        """
        C{groups = yes}: the user's groups from its name and passwd gid
        (not C{group}), sorted, each once.
        """
        calls = self.fakeGroupList([7, 3, 7, 100])
        config = self.service("user = alice", "group = nogroup", "groups = yes")
        self.assertEqual(credentialsFor(config, 0), (1000, 65534, (3, 7, 100)))
        self.assertEqual(calls, [("alice", 100)])

    def test_groupsNo(self) -> None:
        calls = self.fakeGroupList([7])
        config = self.service("user = alice", "groups = no")
        self.assertIsNone(supplementaryGroups(config))
        self.assertEqual(calls, [])

    def test_numericUser(self) -> None:
        """
        A numeric user's groups are looked up by the name its uid has.
        """
        calls = self.fakeGroupList([5])
        self.patch(
            pwd,
            "getpwuid",
            lambda uid: pwd.struct_passwd(("named", "x", uid, 9, "", "/", "/bin/sh")),
        )
        config = self.service("user = 1234", "groups = yes")
        self.assertEqual(credentialsFor(config, 0), (1234, 1234, (5, 1234)))
        self.assertEqual(calls, [("named", 1234)])

    def test_numericUserWithoutName(self) -> None:
        """
        A numeric user without a passwd entry gets its gid as its only
        group.
        """

        def getpwuid(uid: int) -> pwd.struct_passwd:
            raise KeyError(uid)

        self.patch(pwd, "getpwuid", getpwuid)
        config = self.service("user = 4321", "groups = yes")
        self.assertEqual(supplementaryGroups(config), (4321,))

    def test_root(self) -> None:
        self.assertEqual(credentialsFor(self.service("user = root"), 0), (0, 0, None))

    def test_notRoot(self) -> None:
        """
        A daemon that is not root changes no credential.
        """
        config = self.service("user = alice", "groups = yes", euid=1000)
        self.assertEqual(credentialsFor(config, 1000), (None, None, None))


class SpecTests(ConfigCase):
    """
    L{specFor}: the whole L{SpawnSpec}.
    """

    def spec(self, *lines: str, fileLimit: int = 1024, umask: int = 0o022) -> SpawnSpec:
        return specFor(self.service(*lines), PEER, ENVIRON, 0, fileLimit, umask)

    def test_defaults(self) -> None:
        """
        Without process attributes: argv is the server's base name, the
        daemon's umask, no niceness, NOFILE at the daemon's limit and no
        other limit.
        """
        spec = self.spec()
        self.assertEqual(
            spec,
            SpawnSpec(
                executable="/bin/cat",
                argv=("cat",),
                env=environmentFor(self.service(), ENVIRON, PEER),
                uid=0,
                gid=0,
                groups=None,
                umask=0o022,
                nice=None,
                rlimits=((resource.RLIMIT_NOFILE, 1024),),
            ),
        )

    def test_serverArgs(self) -> None:
        """
        C{server_args} follow the base name; quotes are not interpreted.
        """
        spec = self.spec('server_args = -u "a b" it\'s')
        self.assertEqual(spec.argv, ("cat", "-u", '"a', 'b"', "it's"))
        self.assertEqual(spec.executable, "/bin/cat")

    def test_nameInArgs(self) -> None:
        """
        With NAMEINARGS the arguments are the whole argv, whichever of
        C{flags} and C{server_args} comes first.
        """
        first = self.spec("flags = NAMEINARGS", "server_args = in.cat -u")
        last = self.spec("server_args = in.cat -u", "flags = NAMEINARGS")
        self.assertEqual((first.argv, last.argv), (("in.cat", "-u"), ("in.cat", "-u")))
        self.assertEqual((first.executable, last.executable), ("/bin/cat", "/bin/cat"))

    def test_processAttributes(self) -> None:
        spec = self.spec("user = nobody", "umask = 027", "nice = -3")
        self.assertEqual((spec.uid, spec.gid, spec.umask, spec.nice), (65534, 65534, 0o027, -3))

    def test_limits(self) -> None:
        """
        Every C{rlimit_*} that is set, C{rlimit_files} instead of the
        daemon's limit; C{UNLIMITED} is infinity.
        """
        spec = self.spec(
            "rlimit_as = 1M",
            "rlimit_cpu = 100",
            "rlimit_data = 2K",
            "rlimit_rss = UNLIMITED",
            "rlimit_stack = 8M",
            "rlimit_files = 77",
            fileLimit=20000,
        )
        self.assertEqual(
            dict(spec.rlimits),
            {
                resource.RLIMIT_NOFILE: 77,
                resource.RLIMIT_AS: 1 << 20,
                resource.RLIMIT_CPU: 100,
                resource.RLIMIT_DATA: 2048,
                resource.RLIMIT_RSS: INFINITY,
                resource.RLIMIT_STACK: 8 << 20,
            },
        )
        self.assertEqual(len(spec.rlimits), 6)

    def test_zeroLimitIsUnset(self) -> None:
        """
        A limit of 0 is not set (as in xinetd); C{rlimit_files = 0} leaves
        the daemon's limit.
        """
        spec = self.spec("rlimit_cpu = 0", "rlimit_files = 0", fileLimit=500)
        self.assertEqual(spec.rlimits, ((resource.RLIMIT_NOFILE, 500),))

    def test_unlimitedFiles(self) -> None:
        """
        C{rlimit_files = UNLIMITED}, which Linux never allows, is the
        daemon's hard limit: the most it may give.
        """
        spec = self.spec("rlimit_files = UNLIMITED", fileLimit=20000)
        self.assertEqual(spec.rlimits, ((resource.RLIMIT_NOFILE, 20000),))

    def test_environmentAndPeer(self) -> None:
        config = self.service("passenv = PATH")
        spec = specFor(config, None, ENVIRON, 0, 1024, 0o022)
        self.assertEqual(spec.env, (("PATH", "/usr/bin:/bin"), ("REMOTE_HOST", "<no address>")))

    def test_notRoot(self) -> None:
        config = self.service("user = alice", euid=1000)
        spec = specFor(config, PEER, ENVIRON, 1000, 1024, 0o022)
        self.assertEqual((spec.uid, spec.gid, spec.groups), (None, None, None))


class ServerSpecTests(ConfigCase):
    """
    L{serverSpec}: what every server of a service is started with, built
    once.
    """

    def test_sameAsSpecForButClient(self) -> None:
        """
        It is the whole spec without the client's variables.
        """
        config = self.service("user = nobody", "groups = yes", "rlimit_files = UNLIMITED")
        spec = serverSpec(config, ENVIRON, 0, 1024, 0o022)
        whole = specFor(config, PEER, ENVIRON, 0, 1024, 0o022)
        self.assertEqual(replace(spec, env=whole.env), whole)
        self.assertEqual(spec.env, baseEnvironment(config, ENVIRON))
