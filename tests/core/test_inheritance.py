# -*- test-case-name: tests.core.test_inheritance -*-
"""
Tests for L{txinetd.core.inheritance}: operators and value counts
(section 2.5 of the xinetd reference), error handling (2.6), the defaults
section and its inheritance rules (2.7), duplicates (2.8), disable,
disabled and enabled (2.10), the configurations of the seed articles and a
configuration with mistakes in several files.

Every configuration is loaded with L{tests.fakes.FakeSystem}: no lookup
touches the machine's users, services or resolver.
"""

from __future__ import annotations

import os
from collections.abc import Collection

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import (
    INTERNAL_SERVICES,
    SERVICES,
    ConfigFiles,
    FakeSystem,
    addresses,
    describe,
    intervals,
)
from tests.paths import SEEDS
from txinetd.core.config import DEFAULT_CPS, Config, Defaults, ServiceConfig, ServiceKind
from txinetd.core.values import (
    CpsSpec,
    EnvEntry,
    FailureFlag,
    Flag,
    HostSpec,
    LogKind,
    LogSpec,
    RedirectSpec,
    SuccessFlag,
    UserSpec,
)

#: The lines of a complete external stream service.
EXTERNAL = ("socket_type = stream", "wait = no", "user = root", "server = /bin/cat")

FATAL_DEFAULTS = (
    "fatal: A fatal error was encountered while parsing the default section. txinetd will exit."
)


#: The hint given for a known word followed by the CR of a DOS line end.
DOS = " (the line ends with a carriage return: the file has DOS line ends)"


def entry(name: str, *lines: str) -> str:
    """
    The text of a service entry.
    """
    return f"service {name}\n{{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def defaults(*lines: str) -> str:
    """
    The text of a defaults entry.
    """
    return "defaults\n{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


class LoadingCase(SynchronousTestCase):
    """
    Helpers to load configuration text as C{xinetd.conf} in a temporary base
    directory.
    """

    def setUp(self) -> None:
        self.files = ConfigFiles(self)

    def load(
        self,
        *texts: str,
        system: FakeSystem | None = None,
        internal: Collection[tuple[str, str]] = INTERNAL_SERVICES,
        euid: int = 0,
        strict: bool = False,
        reloading: bool = False,
    ) -> Config:
        """
        Load the concatenation of C{texts} as the main file.
        """
        self.files.write("xinetd.conf", "".join(texts))
        return self.files.load(
            system=system, internal=internal, euid=euid, strict=strict, reloading=reloading
        )

    def loadOne(
        self,
        *texts: str,
        system: FakeSystem | None = None,
        internal: Collection[tuple[str, str]] = INTERNAL_SERVICES,
    ) -> ServiceConfig:
        """
        Load a configuration that must give exactly one service and no
        diagnostics.
        """
        config = self.load(*texts, system=system, internal=internal)
        self.assertEqual(describe(config.diagnostics), [])
        self.assertEqual(len(config.services), 1)
        return config.services[0]

    def ids(self, config: Config) -> list[str]:
        return [service.id for service in config.services]

    def byId(self, config: Config, serviceId: str) -> ServiceConfig:
        [found] = [s for s in config.services if s.id == serviceId]
        return found


# --- 2.6 value errors and unknown attributes ------------------------------------


class ValueErrorTests(LoadingCase):
    def test_badValueDisablesService(self) -> None:
        """
        A value a converter rejects disables its service (every bad line is
        still reported); the other services run.
        """
        config = self.load(
            entry("ftp", "socket_type = stream", "wait = perhaps", "user = mallory"),
            entry("telnet", *EXTERNAL),
        )
        self.assertEqual(self.ids(config), ["telnet"])
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:4: error: Bad value for wait: perhaps",
                "xinetd.conf:4: error: Error parsing attribute wait - DISABLING SERVICE",
                "xinetd.conf:5: error: Unknown user: mallory",
                "xinetd.conf:5: error: Error parsing attribute user - DISABLING SERVICE",
            ],
        )

    def test_crlfDisables(self) -> None:
        """
        In a CRLF file the CR stays on the last value of every line:
        C{stream\\r} is a bad socket type, C{no\\r} a bad C{wait} value...
        and the service is dropped.
        """
        config = self.load(entry("ftp", *EXTERNAL).replace("\n", "\r\n"))
        self.assertEqual(config.services, ())
        self.assertEqual(
            describe(config.diagnostics),
            [
                f"xinetd.conf:3: error: Bad socket type: stream\r{DOS}",
                "xinetd.conf:3: error: Error parsing attribute socket_type - DISABLING SERVICE",
                f"xinetd.conf:4: error: Bad value for wait: no\r{DOS}",
                "xinetd.conf:4: error: Error parsing attribute wait - DISABLING SERVICE",
                "xinetd.conf:5: error: Unknown user: root\r",
                "xinetd.conf:5: error: Error parsing attribute user - DISABLING SERVICE",
                "xinetd.conf:6: error: Unable to stat: /bin/cat\r.",
                "xinetd.conf:6: error: Error parsing attribute server - DISABLING SERVICE",
            ],
        )

    def test_unknownAttribute(self) -> None:
        """
        An unknown attribute (or a defaults-only one) in a service is an
        error naming the closest attribute a service may have, if one is
        close; the line is ignored and the service kept, as in xinetd.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "mdns = yes", "disabled = ftp", "onlyfrom = 127.0.0.1")
        )
        self.assertEqual(self.ids(config), ["ftp"])
        self.assertIsNone(config.services[0].only_from)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: error: bad service attribute: mdns",
                "xinetd.conf:8: error: bad service attribute: disabled (did you mean disable?)",
                "xinetd.conf:9: error: bad service attribute: onlyfrom (did you mean only_from?)",
            ],
        )
        self.assertFalse(config.isFatal)

    def test_unknownAttributeStrict(self) -> None:
        """
        With C{strict}, an unknown attribute disables its service as a bad
        value does; the other services run.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "per_sorce = 2"), entry("smtp", *EXTERNAL), strict=True
        )
        self.assertEqual(self.ids(config), ["smtp"])
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: error: bad service attribute: per_sorce (did you mean per_source?)",
                "xinetd.conf:7: error: Error parsing attribute per_sorce - DISABLING SERVICE",
            ],
        )

    def test_unknownValueSuggestion(self) -> None:
        """
        An unknown word of an enumerated attribute keeps xinetd's message and
        names the closest known word; the service is disabled, as in xinetd.
        """
        config = self.load(
            entry("a", *EXTERNAL, "flags = NOLIBRAP IPv4"),
            entry("b", *EXTERNAL, "log_on_failure = HOTS"),
            entry("c", *EXTERNAL, "log_on_success = PID EXITS"),
            entry("d", "type = INTERNL", "socket_type = stream", "wait = no"),
            entry("e", "socket_type = steam", "wait = no", "user = root", "server = /bin/cat"),
            entry("f", *EXTERNAL, "log_type = FIEL /tmp/x"),
            entry("g", *EXTERNAL, "log_type = SYSLOG deamon notise"),
            entry("h", *EXTERNAL, "log_type = SYSLOG daemon notise"),
            entry("i", *EXTERNAL, "flags = XYZZY"),
        )
        self.assertEqual(self.ids(config), [])
        self.assertEqual(
            [
                str(d).split(": error: ", 1)[1]
                for d in config.diagnostics
                if "DISABLING" not in d.message
            ],
            [
                "Bad service flag: NOLIBRAP (did you mean NOLIBWRAP?)",
                "Bad log_on_failure flag: HOTS (did you mean HOST?)",
                "Bad log_on_success flag: EXITS (did you mean EXIT?)",
                "Bad service type: INTERNL (did you mean INTERNAL?)",
                "Bad socket type: steam (did you mean stream?)",
                "Unknown log type: FIEL (did you mean FILE?)",
                "Unknown syslog facility: deamon (did you mean daemon?)",
                "Unknown syslog level: notise (did you mean notice?)",
                "Bad service flag: XYZZY",
            ],
        )

    def test_passenvUndefinedVariable(self) -> None:
        """
        An undefined variable in C{passenv} is a warning; it is left out.
        """
        config = self.load(entry("ftp", *EXTERNAL, "passenv = PATH NOPE"))
        self.assertEqual(config.services[0].passenv, ("PATH",))
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:7: warning: undefined environment variable: NOPE"],
        )

    def test_recordIsObsolete(self) -> None:
        """
        C{RECORD} (xinetd 2.1) in C{log_on_failure} is accepted with a
        warning and has no effect.
        """
        config = self.load(entry("ftp", *EXTERNAL, "log_on_failure = HOST RECORD"))
        self.assertEqual(config.services[0].log_on_failure, {FailureFlag.HOST})
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:7: warning: RECORD is obsolete and has no effect"],
        )


# --- 2.5 operators, value counts and repetition ---------------------------------


class OperatorTests(LoadingCase):
    def test_repeatedFixedAttribute(self) -> None:
        """
        The first setting of a single-valued attribute wins; a repeat is a
        warning, checked before its value is parsed.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "instances = 4", "instances = nonsense", "user = mallory")
        )
        self.assertEqual(config.services[0].instances, 4)
        self.assertEqual(config.services[0].user, UserSpec("root", 0, 0))
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:8: warning: Service ftp: attribute already set: instances",
                "xinetd.conf:9: warning: Service ftp: attribute already set: user",
            ],
        )

    def test_repeatedVariableAttribute(self) -> None:
        """
        C{server_args}, C{type}, C{flags}, C{access_times} and C{log_type}
        are set once too.
        """
        config = self.load(
            entry(
                "ftp",
                *EXTERNAL,
                "server_args = -l",
                "server_args = -x",
                "flags = NODELAY",
                "flags = KEEPALIVE",
                "log_type = SYSLOG daemon",
                "log_type = SYSLOG auth",
            )
        )
        service = config.services[0]
        self.assertEqual(
            (service.argv, service.flags, service.log_type),
            (("cat", "-l"), {Flag.NODELAY}, LogSpec(LogKind.SYSLOG, facility="daemon")),
        )
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:8: warning: Service ftp: attribute already set: server_args",
                "xinetd.conf:10: warning: Service ftp: attribute already set: flags",
                "xinetd.conf:12: warning: Service ftp: attribute already set: log_type",
            ],
        )

    def test_wrongOperator(self) -> None:
        """
        C{+=} or C{-=} on a non-list attribute is a warning and the line is
        ignored.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "server_args += -l", "instances -= 3", "type += UNLISTED")
        )
        service = config.services[0]
        self.assertEqual((service.argv, service.instances, service.type), (("cat",), None, set()))
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: warning: Service ftp: operator '+=' cannot be used for "
                "attribute 'server_args'",
                "xinetd.conf:8: warning: Service ftp: operator '-=' cannot be used for "
                "attribute 'instances'",
                "xinetd.conf:9: warning: Service ftp: operator '+=' cannot be used for "
                "attribute 'type'",
            ],
        )

    def test_wrongValueCount(self) -> None:
        """
        A fixed-count attribute with the wrong number of values is a warning
        and the line is ignored.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "port = 21 22", "cps = 5", "redirect = host", "nice =")
        )
        self.assertEqual(self.ids(config), ["ftp"])
        self.assertEqual((config.services[0].cps, config.services[0].nice), (DEFAULT_CPS, None))
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: warning: attribute port expects 1 values and 2 values were "
                "specified",
                "xinetd.conf:8: warning: attribute cps expects 2 values and 1 values were "
                "specified",
                "xinetd.conf:9: warning: attribute redirect expects 2 values and 1 values were "
                "specified",
                "xinetd.conf:10: warning: attribute nice expects 1 values and 0 values were "
                "specified",
            ],
        )

    def test_listOperatorsInService(self) -> None:
        """
        In a service C{=} replaces the list (even one from the defaults),
        C{+=} adds and C{-=} removes, in order.
        """
        cases = [
            ("only_from = 10.0.0.1", addresses("10.0.0.1")),
            ("only_from += 10.0.0.1", addresses("192.168.0.0/16", "10.0.0.1")),
            ("only_from -= 192.168.0.0/16", ()),
            ("only_from -= 10.9.9.9", addresses("192.168.0.0/16")),
            ("only_from =", ()),
            ("only_from +=", addresses("192.168.0.0/16")),
        ]
        for line, expected in cases:
            with self.subTest(line=line):
                service = self.loadOne(
                    defaults("only_from = 192.168.0.0/16"), entry("ftp", *EXTERNAL, line)
                )
                self.assertEqual(service.only_from, expected)

    def test_listOperatorsCreateTheList(self) -> None:
        """
        Any operator on C{only_from} or C{no_access} creates the list, so an
        empty one denies everyone (as in xinetd); without any line there is
        no list.
        """
        service = self.loadOne(entry("ftp", *EXTERNAL, "only_from +=", "no_access -= 1.2.3.4"))
        self.assertEqual((service.only_from, service.no_access), ((), ()))
        service = self.loadOne(entry("ftp", *EXTERNAL))
        self.assertEqual((service.only_from, service.no_access), (None, None))

    def test_logFlagOperators(self) -> None:
        """
        C{log_on_success}/C{log_on_failure}: C{-=} clears flags the defaults
        set, C{=} replaces them.
        """
        service = self.loadOne(
            defaults("log_on_success = PID HOST", "log_on_failure = HOST ATTEMPT"),
            entry("ftp", *EXTERNAL, "log_on_success -= PID", "log_on_failure = USERID"),
        )
        self.assertEqual(service.log_on_success, {SuccessFlag.HOST})
        self.assertEqual(service.log_on_failure, {FailureFlag.USERID})

    def test_env(self) -> None:
        """
        C{env}: C{=} replaces, C{+=} appends.
        """
        service = self.loadOne(entry("ftp", *EXTERNAL, "env = A=1", "env += B=2 C=3"))
        self.assertEqual(service.env, (EnvEntry("A", "1"), EnvEntry("B", "2"), EnvEntry("C", "3")))
        service = self.loadOne(entry("ftp", *EXTERNAL, "env = A=1", "env = B=2"))
        self.assertEqual(service.env, (EnvEntry("B", "2"),))

    def test_envRemoveDisables(self) -> None:
        """
        C{env -=} is an error that disables the service.
        """
        config = self.load(entry("ftp", *EXTERNAL, "env -= A=1"))
        self.assertEqual(config.services, ())
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: error: operator '-=' not supported for env attribute",
                "xinetd.conf:7: error: Error parsing attribute env - DISABLING SERVICE",
            ],
        )

    def test_passenvOperators(self) -> None:
        service = self.loadOne(
            defaults("passenv = PATH"),
            entry("ftp", *EXTERNAL, "passenv += TZ LANG", "passenv -= PATH"),
        )
        self.assertEqual(service.passenv, ("TZ", "LANG"))

    def test_listsInDefaultsAccumulate(self) -> None:
        """
        In the defaults C{=} means C{+=} for every list attribute.
        """
        config = self.load(
            defaults(
                "only_from = 10.0.0.1",
                "only_from = 10.0.0.2",
                "log_on_success = PID",
                "log_on_success = HOST",
                "no_access = 1.1.1.1 2.2.2.2",
                "no_access -= 1.1.1.1",
            )
        )
        self.assertEqual(config.defaults.only_from, addresses("10.0.0.1", "10.0.0.2"))
        self.assertEqual(config.defaults.log_on_success, {SuccessFlag.PID, SuccessFlag.HOST})
        self.assertEqual(config.defaults.no_access, addresses("2.2.2.2"))


# --- 2.7 the defaults section -----------------------------------------------------


class DefaultsTests(LoadingCase):
    def test_notAllowedInDefaults(self) -> None:
        """
        Service-only attributes in the defaults are warnings.
        """
        names = ["port", "user", "server", "access_times", "deny_time", "nice", "rlimit_as"]
        names += ["env", "flags", "type", "wait", "socket_type", "protocol", "id", "disable"]
        config = self.load(defaults(*(f"{name} = x" for name in names)))
        self.assertEqual(
            describe(config.diagnostics),
            [
                f"xinetd.conf:{n}: warning: attribute: {name} should not be in default section"
                for n, name in enumerate(names, 3)
            ],
        )

    def test_unknownInDefaults(self) -> None:
        """
        An unknown attribute in the defaults is an error naming the closest
        attribute the defaults may have; the line is ignored.
        """
        config = self.load(
            defaults("mdns = yes", "no_acess = 10.0.0.0/8", "instances = 5"),
            entry("ftp", *EXTERNAL),
        )
        self.assertEqual(self.ids(config), ["ftp"])
        self.assertEqual(config.defaults.instances, 5)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:3: error: attribute: mdns should not be in default section",
                "xinetd.conf:4: error: attribute: no_acess should not be in default section "
                "(did you mean no_access?)",
            ],
        )
        self.assertFalse(config.isFatal)

    def test_unknownInDefaultsStrict(self) -> None:
        """
        With C{strict}, an unknown attribute in the defaults is fatal, as a
        bad value there is.
        """
        config = self.load(defaults("onlyfrom = 10.0.0.0/8"), entry("ftp", *EXTERNAL), strict=True)
        self.assertTrue(config.isFatal)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:3: error: attribute: onlyfrom should not be in default section "
                "(did you mean only_from?)",
                f"xinetd.conf:3: {FATAL_DEFAULTS}",
            ],
        )

    def test_defaultsRecord(self) -> None:
        """
        Every attribute allowed in the defaults reaches L{Defaults}.
        """
        config = self.load(
            defaults(
                "log_type = FILE /var/log/servicelog",
                "log_on_success = HOST",
                "log_on_failure = ATTEMPT",
                "only_from = 10.0.0.0/8",
                "no_access = 10.1.0.0/16",
                "passenv = PATH",
                "instances = 30",
                "banner = /b",
                "banner_success = /bs",
                "banner_fail = /bf",
                "interface = 127.0.0.1",
                "per_source = 5",
                "groups = yes",
                "cps = 25 30",
                "max_load = 2.5",
                "v6only = no",
                "umask = 027",
                "disabled = a",
                "enabled = b c",
            )
        )
        self.assertEqual(describe(config.diagnostics), [])
        self.assertEqual(
            config.defaults,
            Defaults(
                instances=30,
                per_source=5,
                cps=CpsSpec(25, 30),
                groups=True,
                umask=0o27,
                max_load=2.5,
                bind=HostSpec("127.0.0.1", ("127.0.0.1",)),
                v6only=False,
                log_type=LogSpec(LogKind.FILE, "/var/log/servicelog"),
                log_on_success=frozenset({SuccessFlag.HOST}),
                log_on_failure=frozenset({FailureFlag.ATTEMPT}),
                only_from=addresses("10.0.0.0/8"),
                no_access=addresses("10.1.0.0/16"),
                passenv=("PATH",),
                banner="/b",
                banner_success="/bs",
                banner_fail="/bf",
                disabled=("a",),
                enabled=("b", "c"),
            ),
        )

    def test_lateDefaultsReachEveryService(self) -> None:
        """
        Single-valued defaults are taken from the final defaults, so a
        defaults section in a file included after a service still applies
        to it.
        """
        self.files.write(
            "late",
            defaults(
                "instances = 7",
                "per_source = 3",
                "cps = 10 5",
                "groups = yes",
                "umask = 077",
                "max_load = 4",
                "bind = 127.0.0.1",
                "v6only = yes",
                "log_type = SYSLOG authpriv",
            ),
        )
        service = self.loadOne(entry("ftp", *EXTERNAL), "include late\n")
        self.assertEqual(
            (
                service.instances,
                service.per_source,
                service.cps,
                service.groups,
                service.umask,
                service.max_load,
                service.bindAddress,
                service.v6only,
                service.log_type,
            ),
            (
                7,
                3,
                CpsSpec(10, 5),
                True,
                0o77,
                4.0,
                "127.0.0.1",
                True,
                LogSpec(LogKind.SYSLOG, facility="authpriv"),
            ),
        )

    def test_serviceOverridesDefaults(self) -> None:
        service = self.loadOne(
            defaults("instances = 7", "log_type = SYSLOG daemon"),
            entry("ftp", *EXTERNAL, "instances = UNLIMITED", "log_type = FILE ftp.log"),
        )
        self.assertEqual(
            (service.instances, service.log_type), (None, LogSpec(LogKind.FILE, "ftp.log"))
        )

    def test_builtinDefaults(self) -> None:
        """
        With no defaults anywhere: UNLIMITED instances, cps 50 10, no groups,
        no lists, no logging.
        """
        service = self.loadOne(entry("ftp", *EXTERNAL))
        self.assertEqual(
            (
                service.instances,
                service.per_source,
                service.cps,
                service.groups,
                service.log_type,
                service.log_on_success,
                service.passenv,
                service.deny_time,
            ),
            (None, None, CpsSpec(50, 10), False, None, set(), None, 0),
        )

    def test_snapshotAttributes(self) -> None:
        """
        C{only_from}, C{no_access} and the banners come from the defaults as
        they stand when the service entry starts: a defaults section in a
        file included later reaches later services only.
        """
        self.files.write(
            "late",
            defaults("only_from = 10.0.0.1", "no_access = 10.0.0.2", "banner = /late"),
        )
        config = self.load(entry("ftp", *EXTERNAL), "include late\n", entry("telnet", *EXTERNAL))
        early, late = config.services
        self.assertEqual((early.only_from, early.no_access, early.banner), (None, None, None))
        self.assertEqual(
            (late.only_from, late.no_access, late.banner),
            (addresses("10.0.0.1"), addresses("10.0.0.2"), "/late"),
        )

    def test_lateListsWhenNotMentioned(self) -> None:
        """
        A service that does not mention C{log_on_success},
        C{log_on_failure} or C{passenv} gets the final defaults.
        """
        self.files.write(
            "late",
            defaults("log_on_success = PID", "log_on_failure = HOST", "passenv = TZ"),
        )
        service = self.loadOne(entry("ftp", *EXTERNAL), "include late\n")
        self.assertEqual(
            (service.log_on_success, service.log_on_failure, service.passenv),
            ({SuccessFlag.PID}, {FailureFlag.HOST}, ("TZ",)),
        )

    def test_snapshotWhenMentioned(self) -> None:
        """
        A service that modifies a list works on the defaults of the moment;
        later defaults do not reach it.
        """
        self.files.write("late", defaults("log_on_success = EXIT", "passenv = LANG"))
        service = self.loadOne(
            defaults("log_on_success = HOST", "passenv = PATH"),
            entry("ftp", *EXTERNAL, "log_on_success += PID", "passenv += TZ"),
            "include late\n",
        )
        self.assertEqual(service.log_on_success, {SuccessFlag.HOST, SuccessFlag.PID})
        self.assertEqual(service.passenv, ("PATH", "TZ"))

    def test_includedDefaultsMerge(self) -> None:
        """
        A defaults section in an included file merges into the same
        defaults; a single-valued attribute set twice is a warning.
        """
        self.files.write("more", defaults("instances = 9", "only_from = 10.0.0.2", "cps = 1 1"))
        config = self.load(defaults("instances = 5", "only_from = 10.0.0.1"), "include more\n")
        self.assertEqual(
            (config.defaults.instances, config.defaults.only_from, config.defaults.cps),
            (5, addresses("10.0.0.1", "10.0.0.2"), CpsSpec(1, 1)),
        )
        self.assertEqual(
            describe(config.diagnostics),
            ["more:3: warning: Service defaults: attribute already set: instances"],
        )

    def test_secondDefaultsInSameFile(self) -> None:
        """
        A second defaults section in one file is an error and ignored.
        """
        config = self.load(defaults("instances = 5"), defaults("instances = 9", "per_source = 2"))
        self.assertEqual((config.defaults.instances, config.defaults.per_source), (5, None))
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:5: error: only 1 defaults entry is allowed. This entry will be ignored"],
        )

    def test_badDefaultsValueIsFatal(self) -> None:
        """
        A value the defaults cannot take is fatal.
        """
        config = self.load(defaults("instances = many"), entry("ftp", *EXTERNAL))
        self.assertTrue(config.isFatal)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:3: error: Number of instances is invalid: many",
                f"xinetd.conf:3: {FATAL_DEFAULTS}",
            ],
        )

    def test_badDefaultsValueAtReconfiguration(self) -> None:
        """
        Read for a reconfiguration, a bad value in the defaults is as fatal,
        and the message says that the reconfiguration is refused, not that
        txinetd exits.
        """
        config = self.load(defaults("instances = many"), entry("ftp", *EXTERNAL), reloading=True)
        self.assertTrue(config.isFatal)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:3: error: Number of instances is invalid: many",
                "xinetd.conf:3: fatal: A fatal error was encountered while parsing the default "
                "section. The reconfiguration is refused.",
            ],
        )

    def test_defaultsSyntaxErrorIsFatal(self) -> None:
        """
        A line syntax error in the defaults is fatal too (xinetd ignores the
        rest of the section).
        """
        config = self.load(defaults("only_from=10.0.0.1"), entry("ftp", *EXTERNAL))
        self.assertTrue(config.isFatal)
        self.assertEqual(
            describe(config.errors),
            ["xinetd.conf:3: fatal: Attribute only_from needs a space before operator"],
        )

    def test_logTypeOnceInDefaults(self) -> None:
        """
        C{log_type} may be given once in all the defaults sections together
        (any operator): a second one is fatal.  In a service a second one is
        only "already set".
        """
        self.files.write("more", defaults("log_type = SYSLOG daemon"))
        for text in [
            defaults("log_type += FILE a"),
            defaults("log_type = FILE a", "log_type = FILE b"),
        ]:
            with self.subTest(text=text):
                config = self.load(text, "include more\n")
                self.assertTrue(config.isFatal)
                self.assertIn(
                    "error: Cannot set more than one log_type attribute",
                    describe(config.diagnostics)[0],
                )
                self.assertEqual(config.defaults.log_type, LogSpec(LogKind.FILE, "a"))


# --- 2.10 disable / disabled / enabled ---------------------------------------------


class DisableTests(LoadingCase):
    def test_disableYes(self) -> None:
        """
        C{disable = yes} drops the entry silently and stops reading it: later
        mistakes in it are not reported.
        """
        config = self.load(
            entry("ftp", "disable = YES", "wait = perhaps", "bogus = 1"), entry("telnet", *EXTERNAL)
        )
        self.assertEqual((self.ids(config), describe(config.diagnostics)), (["telnet"], []))

    def test_disabledById(self) -> None:
        """
        A service C{disable = yes} drops is listed by its id, even when the
        C{id} line comes after the C{disable} line (as in the distributions'
        files for a service's stream and dgram entries).
        """
        config = self.load(
            entry("chargen", "disable = yes", "id = chargen-dgram", "socket_type = dgram"),
            entry("chargen", "id = chargen-stream", "disable = yes"),
            entry("daytime", "disable = yes"),
        )
        self.assertEqual(config.disabled, ("chargen-dgram", "chargen-stream", "daytime"))

    def test_disableNo(self) -> None:
        service = self.loadOne(entry("ftp", "disable = no", *EXTERNAL))
        self.assertEqual(service.id, "ftp")

    def test_disableBadValue(self) -> None:
        config = self.load(entry("ftp", *EXTERNAL, "disable = maybe"))
        self.assertEqual(config.services, ())
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:7: error: Bad value: maybe",
                "xinetd.conf:7: error: Error parsing attribute disable - DISABLING SERVICE",
            ],
        )

    def test_disabledList(self) -> None:
        """
        C{disabled} lists ids (in any case), cumulative across lines and
        files; the service name does not count.
        """
        self.files.write("more", defaults("disabled = TELNET"))
        config = self.load(
            defaults("disabled = ftp-a", "disabled = smtp"),
            "include more\n",
            entry("ftp", *EXTERNAL, "id = ftp-a"),
            entry("ftp", *EXTERNAL, "id = ftp-b", "bind = 127.0.0.1"),
            entry("telnet", *EXTERNAL),
            entry("smtp", *EXTERNAL),
            entry("finger", *EXTERNAL),
        )
        self.assertEqual(self.ids(config), ["ftp-b", "finger"])
        self.assertEqual(config.defaults.disabled, ("ftp-a", "smtp", "TELNET"))

    def test_enabledList(self) -> None:
        """
        With C{enabled}, only the listed ids survive; an entry with
        C{disable = yes} stays disabled even if listed; C{disabled} applies
        after C{enabled}.
        """
        config = self.load(
            defaults("enabled = ftp telnet smtp", "disabled = smtp"),
            entry("ftp", *EXTERNAL),
            entry("telnet", "disable = yes", *EXTERNAL),
            entry("smtp", *EXTERNAL),
            entry("finger", *EXTERNAL),
        )
        self.assertEqual(self.ids(config), ["ftp"])
        self.assertEqual(config.disabled, ("telnet", "smtp", "finger"))

    def test_disabledIds(self) -> None:
        """
        L{Config.disabled} names, in file order, the services the files
        disable: C{disable = yes} (with the id set before it), C{disabled};
        a service dropped for an error is not among them.
        """
        config = self.load(
            defaults("disabled = smtp"),
            entry("ftp", "id = ftp-a", "disable = yes", *EXTERNAL),
            entry("telnet", *EXTERNAL, "groups = perhaps"),
            entry("smtp", *EXTERNAL),
            entry("finger", *EXTERNAL),
        )
        self.assertEqual((self.ids(config), config.disabled), (["finger"], ("ftp-a", "smtp")))

    def test_disabledDuplicatesAreFine(self) -> None:
        """
        Several entries for one port are fine when all but one are disabled.
        """
        config = self.load(
            entry("ftp", *EXTERNAL, "id = one", "disable = yes"),
            entry("ftp", *EXTERNAL, "id = two"),
        )
        self.assertEqual((self.ids(config), describe(config.diagnostics)), (["two"], []))


class DuplicateTests(LoadingCase):
    def test_sameId(self) -> None:
        """
        A later entry with the same id (in any case), port, protocol and
        address is dropped, also without C{bind} (xinetd only finds it at
        bind time).
        """
        config = self.load(
            entry("ftp", *EXTERNAL), entry("ftp", *EXTERNAL), entry("ftp", *EXTERNAL, "id = FTP")
        )
        self.assertEqual(len(config.services), 1)
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:8: error: service: ftp id: ftp not unique or is a duplicate - "
                "DISABLING",
                "xinetd.conf:15: error: service: ftp id: FTP not unique or is a duplicate - "
                "DISABLING",
            ],
        )

    def test_differentId(self) -> None:
        config = self.load(
            entry("ftp", *EXTERNAL, "bind = 127.0.0.1", "id = ftp-a"),
            entry("ftp", *EXTERNAL, "bind = 127.0.0.1", "id = ftp-b"),
        )
        self.assertEqual(self.ids(config), ["ftp-a"])
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:10: error: service: ftp id: ftp-b is unique but its identical to "
                "service: ftp id: ftp-a - DISABLING"
            ],
        )

    def test_notDuplicates(self) -> None:
        """
        Entries differing in port, protocol or address all run, even with
        one id.
        """
        config = self.load(
            entry("echo", "type = INTERNAL", "socket_type = stream", "wait = no"),
            entry("echo", "type = INTERNAL", "socket_type = dgram", "wait = yes"),
            entry(
                "echo", "type = INTERNAL", "socket_type = stream", "wait = no", "bind = 127.0.0.1"
            ),
            entry(
                "echo",
                "type = INTERNAL UNLISTED",
                "socket_type = stream",
                "wait = no",
                "port = 7007",
            ),
        )
        self.assertEqual((len(config.services), describe(config.diagnostics)), (4, []))


# --- the seed articles' configurations ---------------------------------------------


def seed(name: str) -> str:
    """
    The text of a seed article's configuration, as kept in
    C{tests/data/seeds}: the article's text with the servers replaced by
    C{/bin/cat} (C{/usr/sbin/tcpd} for the tcpd example).
    """
    with open(os.path.join(SEEDS, f"{name}.conf"), encoding="utf-8") as f:
        return f.read()


SEED_SERVICES = {
    **SERVICES,
    ("ftp", "tcp"): 2121,
    ("telnet", "tcp"): 2323,
    ("smtp", "tcp"): 2525,
    ("finger", "tcp"): 7979,
    ("pop3", "tcp"): 1110,
    ("ntalk", "udp"): 5518,
}

SEED_DEFAULTS = seed("defaults")
SEED_NTALK_FTP = seed("ntalk-ftp")
SEED_BIND_PAIR = seed("bind-pair")
SEED_TELNET = seed("telnet")
SEED_XADMIN = seed("xadmin")
SEED_FINGER = seed("finger")
SEED_CHROOT = seed("chroot")
SEED_POP3 = seed("pop3")
SEED_SENDMAIL = seed("sendmail")


def commentWarning(line: int, comment: str, attribute: str) -> str:
    return (
        f"xinetd.conf:{line}: warning: '{comment}' after the values of {attribute} is taken as "
        "a comment; xinetd 2.3.15 would take it as values"
    )


class SeedTests(LoadingCase):
    """
    The configurations of the seed articles (servers replaced by /bin/cat,
    ports moved above 1024 in the fake /etc/services) load as the articles
    describe.
    """

    def loadSeed(
        self, *texts: str, internal: Collection[tuple[str, str]] = INTERNAL_SERVICES
    ) -> Config:
        return self.load(*texts, system=FakeSystem(services=SEED_SERVICES), internal=internal)

    def test_defaults(self) -> None:
        """
        The defaults section with its C{disabled} lines: every listed id is
        dropped, the others inherit the empty C{only_from} (nobody allowed),
        RECORD is only warned about.
        """
        config = self.loadSeed(
            SEED_DEFAULTS,
            entry("telnet", *EXTERNAL),
            entry("echo", "type = INTERNAL", "socket_type = stream", "wait = no"),
        )
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:6: warning: RECORD is obsolete and has no effect"],
        )
        self.assertEqual(len(config.defaults.disabled), 23)
        self.assertIn("xadmin", config.defaults.disabled)
        [echo] = config.services
        self.assertEqual(
            (
                echo.id,
                echo.instances,
                echo.per_source,
                echo.log_type,
                echo.only_from,
                echo.log_on_success,
                echo.log_on_failure,
            ),
            (
                "echo",
                15,
                5,
                LogSpec(LogKind.FILE, "servicelog"),
                (),
                {SuccessFlag.HOST, SuccessFlag.PID, SuccessFlag.USERID}
                | {SuccessFlag.DURATION, SuccessFlag.EXIT},
                {FailureFlag.HOST, FailureFlag.USERID},
            ),
        )

    def test_ntalkAndFtp(self) -> None:
        config = self.loadSeed(SEED_NTALK_FTP)
        self.assertEqual(describe(config.diagnostics), [])
        ntalk, ftp = config.services
        self.assertEqual(
            (ntalk.protocol, ntalk.port, ntalk.wait, ntalk.user, ntalk.only_from),
            ("udp", 5518, True, UserSpec("nobody", 65534, 65534), addresses("192.168.1.0/24")),
        )
        self.assertEqual(
            (ftp.port, ftp.argv, ftp.instances, ftp.access_times, ftp.nice),
            (
                2121,
                ("cat", "-l"),
                4,
                intervals((420, 750), (810, 1260)),
                10,
            ),
        )

    def test_bindPair(self) -> None:
        """
        The ftp-public/ftp-internal pair: the trailing comments are dropped
        with warnings.  As written, ftp-public has no socket_type, which
        xinetd 2.3.15 (and txinetd) rejects; with one added, both services
        share the port on their own addresses.
        """
        config = self.loadSeed(SEED_BIND_PAIR)
        comments = [
            commentWarning(10, "#allows every client", "only_from"),
            commentWarning(11, "#public IP address for this server", "bind"),
            commentWarning(22, "#only for internal use", "only_from"),
            commentWarning(23, "#local IP address for this server (charly)", "bind"),
        ]
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:1: error: Port not specified for service: ftp and no protocol given",
                *comments[:2],
                *comments[2:],
            ],
        )
        self.assertEqual(self.ids(config), ["ftp-internal"])
        fixed = SEED_BIND_PAIR.replace(
            "id           = ftp-public\n", "id = ftp-public\nsocket_type = stream\n"
        )
        config = self.loadSeed(fixed)
        self.assertEqual(
            [(s.id, s.port, s.bindAddress, s.only_from) for s in config.services],
            [
                ("ftp-public", 2121, "212.198.253.142", addresses("0.0.0.0/0")),
                ("ftp-internal", 2121, "192.168.1.1", addresses("192.168.1.0/24")),
            ],
        )
        self.assertEqual(len(config.diagnostics), 4)

    def test_telnetRedirect(self) -> None:
        config = self.loadSeed(SEED_TELNET)
        self.assertEqual(describe(config.diagnostics), [])
        [telnet] = config.services
        self.assertEqual(
            (telnet.port, telnet.flags, telnet.redirect, telnet.server),
            (
                2323,
                {Flag.REUSE},
                RedirectSpec(HostSpec("192.168.1.15", ("192.168.1.15",)), 23),
                None,
            ),
        )

    def test_xadmin(self) -> None:
        """
        xadmin is an internal unlisted service.  txinetd does not have it
        yet: until it exists the entry is rejected.  With an internal
        service of that name it loads as the article describes.
        """
        config = self.loadSeed(SEED_XADMIN)
        self.assertEqual(config.services, ())
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:1: error: No such internal service: xadmin/stream - DISABLING",
                commentWarning(9, "#charly", "only_from"),
            ],
        )
        # Expected once the xadmin internal service exists:
        config = self.loadSeed(SEED_XADMIN, internal=INTERNAL_SERVICES | {("xadmin", "stream")})
        [xadmin] = config.services
        self.assertEqual(
            (xadmin.kind, xadmin.port, xadmin.instances, xadmin.only_from),
            (ServiceKind.INTERNAL, 9100, 1, addresses("192.168.1.1")),
        )

    def test_articleDefaultsShorthandIsFatal(self) -> None:
        """
        The article's C{defaults {} shorthand is not the grammar: xinetd
        would lose the whole section, txinetd refuses to start.
        """
        config = self.loadSeed("defaults {\n  disabled = servers services xadmin\n}\n")
        self.assertTrue(config.isFatal)
        self.assertEqual(describe(config.errors), ["xinetd.conf:1: fatal: defaults: missing '{'"])

    def test_fingerNameInArgs(self) -> None:
        config = self.loadSeed(SEED_FINGER)
        [finger] = config.services
        self.assertEqual(
            (finger.port, finger.server, finger.argv, finger.only_from),
            (7979, "/usr/sbin/tcpd", ("in.fingerd",), addresses("192.168.1.1")),
        )
        self.assertEqual(describe(config.diagnostics), [commentWarning(9, "#charly", "only_from")])

    def test_chroot(self) -> None:
        service = self.loadOne(SEED_CHROOT, system=FakeSystem(services=SEED_SERVICES))
        self.assertEqual(
            (service.id, service.argv),
            ("ftp", ("cat", "/var/servers/ftp", "/usr/sbin/in.ftpd", "-l")),
        )

    def test_pop3(self) -> None:
        """
        Indented lines, C{disable = no} and commented-out lines.
        """
        config = self.loadSeed(SEED_DEFAULTS.replace("  disabled", "  #disabled"), SEED_POP3)
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:6: warning: RECORD is obsolete and has no effect"],
        )
        [service] = config.services
        self.assertEqual(
            (service.id, service.port, service.log_on_success),
            (
                "pop3",
                1110,
                {SuccessFlag.HOST, SuccessFlag.PID, SuccessFlag.USERID}
                | {SuccessFlag.DURATION, SuccessFlag.EXIT},
            ),
        )

    def test_sendmail(self) -> None:
        """
        C{only_from +=} and C{no_access +=} with no values create empty
        lists: nobody is allowed (as in xinetd).
        """
        config = self.loadSeed(SEED_SENDMAIL)
        self.assertEqual(describe(config.diagnostics), [])
        [smtp] = config.services
        self.assertEqual(
            (smtp.port, smtp.argv, smtp.instances, smtp.nice, smtp.only_from, smtp.no_access),
            (2525, ("cat", "-bs"), 20, 10, (), ()),
        )


# --- several mistakes in several files ---------------------------------------------


class ManyMistakesTests(LoadingCase):
    def test_everyMistakeReported(self) -> None:
        """
        One load reports every mistake of every file with its path and line,
        in the order of the files, and keeps the good services.
        """
        self.files.write(
            "conf.d/a",
            entry("ftp", *EXTERNAL, "instances = -4")
            + entry("smtp", *EXTERNAL, "mdns = yes")
            + "service nobrace\nport = 1\n}\n",
        )
        self.files.write(
            "conf.d/b",
            entry("echo", "type = INTERNAL", "socket_type = stream", "wait = no", "port = 31999")
            + entry("finger", *EXTERNAL, "port=79"),
        )
        self.files.write("conf.d/c.rpmsave", "this is never read\n")
        config = self.load(
            defaults("log_on_failure = HOST"),
            "includedir conf.d\n",
            entry("telnet", "socket_type = stream", "wait = no", "user = root"),
            "include missing.conf\n",
        )
        self.assertEqual(self.ids(config), ["smtp"])
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:5: info: conf.d/c.rpmsave is skipped: includedir reads no file "
                "whose name contains a dot, as xinetd",
                "xinetd.conf:6: error: Must specify a server in telnet",
                "xinetd.conf:12: error: Unable to open included configuration file: missing.conf "
                f"({self.files.base}/missing.conf): No such file or directory (errno = 2)",
                "conf.d/a:7: error: Number of instances is invalid: -4",
                "conf.d/a:7: error: Error parsing attribute instances - DISABLING SERVICE",
                "conf.d/a:15: error: bad service attribute: mdns",
                "conf.d/a:17: error: Service nobrace: missing '{'",
                "conf.d/b:1: error: Service echo expects port 7, not 31999",
                "conf.d/b:14: error: Attribute port needs a space before operator",
            ],
        )
        self.assertFalse(config.isFatal)


class OriginTests(LoadingCase):
    """
    L{ServiceConfig.origins} says where each setting of a service is
    written: its own lines, the defaults' it inherits, and for each
    C{only_from} / C{no_access} entry the line that added it.
    """

    def test_attributes(self) -> None:
        self.files.write("more", defaults("instances = 4"))
        service = self.loadOne(
            defaults("log_on_success = HOST"),
            "include more\n",
            entry("ftp", *EXTERNAL, "access_times = 2:00-4:00"),
        )
        origins = service.origins
        self.assertEqual(
            [str(origins.of(name)) for name in ("server", "access_times", "instances")],
            ["xinetd.conf:11", "xinetd.conf:12", "more:3"],
        )
        self.assertEqual(str(origins.of("log_on_success")), "xinetd.conf:3")
        self.assertIsNone(origins.of("per_source"))

    def test_entries(self) -> None:
        """
        An inherited entry keeps the defaults' line; C{+=} adds the
        service's; an entry given twice keeps its first line; C{=} starts
        over.
        """
        config = self.load(
            defaults("only_from = 10.0.0.0/8", "no_access = 10.9.0.0/16"),
            entry(
                "ftp", *EXTERNAL, "only_from += 10.1.0.0/16 10.0.0.0/8", "no_access = 10.1.2.0/24"
            ),
            entry("telnet", *EXTERNAL),
        )
        ftp, telnet = config.services
        where = {
            str(entry): str(ftp.origins.of("only_from", entry)) for entry in ftp.only_from or ()
        }
        network8, network16 = addresses("10.0.0.0/8", "10.1.0.0/16")
        self.assertEqual(where, {str(network8): "xinetd.conf:3", str(network16): "xinetd.conf:12"})
        (denied,) = ftp.no_access or ()
        self.assertEqual(str(ftp.origins.of("no_access", denied)), "xinetd.conf:13")
        (inherited,) = telnet.no_access or ()
        self.assertEqual(str(telnet.origins.of("no_access", inherited)), "xinetd.conf:4")

    def test_notCompared(self) -> None:
        """
        Two services that differ only in where they are written are equal
        (a reload keeps such a service as it is).
        """
        first = self.loadOne(entry("ftp", *EXTERNAL))
        second = self.loadOne("\n\n", entry("ftp", *EXTERNAL))
        self.assertNotEqual(first.origins.of("server"), second.origins.of("server"))
        self.assertEqual(first.server, second.server)
